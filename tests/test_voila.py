"""Voilà serves the studio notebook: the page answers 200 and the studio's widgets render in Chromium."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from browser.lab import CHROMIUM, chromium, notebook, voila

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

STUDIO = "import tokenhot_nb\ntokenhot_nb.studio()"


def test_voila_serves_the_studio(tmp_path: Path) -> None:
    pytest.importorskip("voila")
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():  # said, never passed silently: the page must also render in a browser
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    root = tmp_path / "root"
    root.mkdir()
    nb = root / "studio.ipynb"
    nb.write_text(json.dumps(notebook([STUDIO])))
    with voila(nb) as server:
        with urllib.request.urlopen(f"{server.url}/", timeout=120) as resp:
            assert resp.status == 200
            page_html = resp.read().decode("utf-8", "replace")
        assert "application/vnd.jupyter.widget-view+json" in page_html, page_html[-2000:]
        with chromium() as page:
            page.goto(f"{server.url}/", timeout=120_000)
            page.locator(".jupyter-widgets.tokenhot-studio").wait_for(timeout=120_000)
            tabs = page.locator(".tokenhot-studio .lm-TabBar-tab").all_inner_texts()
            assert [t.strip() for t in tabs] == ["Image", "Chat", "Video", "Audio", "History"]
            page.locator(".tokenhot-image button", has_text="Generate").wait_for()
            assert not any("Could not create" in e for e in page.console_errors), page.console_errors
