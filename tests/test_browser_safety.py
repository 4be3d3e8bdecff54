"""A hostile chat answer in a real browser: nothing in it runs, in JupyterLab or in an nbconvert HTML export.

The simulator's ``answer`` fault makes every chat answer a payload of active HTML (script, ``onerror``,
``onload``, ``ontoggle``, ``javascript:`` links, an ``iframe srcdoc``). The notebook is *trusted* (its outputs
were made in this session, then saved, signed and reloaded), which is when JupyterLab renders HTML and Markdown
with scripts enabled. Every payload would call ``alert()`` and set ``window.__pwned``: the test asserts no
dialog fired, ``__pwned`` stays unset and no output element carries an ``on*`` attribute or a ``<script>``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from browser.lab import CHROMIUM, chromium, jupyterlab, notebook

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

EVIL = (
    "# Hostile answer\n\n"
    "<script>window.__pwned='script';alert('script')</script>\n\n"
    "<img src=x onerror=\"window.__pwned='img';alert('img')\">\n\n"
    "<svg onload=\"window.__pwned='svg';alert('svg')\"></svg>\n\n"
    "<details open ontoggle=\"window.__pwned='toggle';alert('toggle')\"><summary>s</summary>x</details>\n\n"
    "<iframe srcdoc=\"<script>parent.__pwned='iframe';parent.alert('iframe')</script>\"></iframe>\n\n"
    "[click me](javascript:window.__pwned='link';alert('link')) and <a href=\"javascript:alert('a')\">a</a>\n\n"
    "| still | a table |\n|---|---|\n| 1 | 2 |\n"
)

SETUP = f"""\
import tokenhot_nb
from tokenhot_nb.sim import Faults, SimTransport
EVIL = {EVIL!r}
s = tokenhot_nb.session(transport=SimTransport(faults=Faults(answer=EVIL)))
%load_ext tokenhot_nb"""
CELLS = [
    SETUP,
    "%%th_chat\nsay something",               # the streamed view, ending in the result's HTML
    "s.chat('again', stream=False)",          # a ChatResult displayed as the cell's value
    "s.history",                              # the history table shows the answer text
    "s.history.last",                         # one entry in detail
    "p = tokenhot_nb.panel('chat', s)\np.input.value = 'hi'\np.start()\np",  # the chat panel's bubbles
]

#: Runs in the page: every output element with an on* attribute, a script, an iframe or a javascript: URL.
FIND_ACTIVE = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('.jp-OutputArea-output *, .jp-OutputArea-output')) {
    const tag = el.tagName.toLowerCase();
    if (['script', 'iframe', 'object', 'embed', 'svg'].includes(tag)) bad.push(tag);
    for (const a of el.attributes) {
      if (a.name.startsWith('on')) bad.push(tag + '[' + a.name + ']');
      if (['href', 'src', 'srcdoc'].includes(a.name) && /^\\s*(javascript|vbscript|data:text)/i.test(a.value))
        bad.push(tag + '[' + a.name + '=' + a.value + ']');
    }
  }
  return bad;
}"""


def _requirements() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    pytest.importorskip("jupyterlab")


def _watch(page: Any) -> list[str]:
    dialogs: list[str] = []

    def on_dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return dialogs


def _assert_inert(page: Any, dialogs: list[str], where: str) -> None:
    # give any handler that could fire (image error, toggle, load) time to do so
    page.wait_for_timeout(1500)
    assert dialogs == [], f"{where}: a dialog fired: {dialogs}"
    assert page.evaluate("() => window.__pwned") is None, where
    assert page.evaluate(FIND_ACTIVE) == [], where
    # the links that were javascript: are plain text or harmless; clicking every output link changes nothing
    for link in page.locator(".jp-OutputArea-output a, .tokenhot-chat-answer a").all()[:10]:
        href = link.get_attribute("href") or ""
        assert not href.lower().startswith(("javascript", "vbscript", "data")), href


def test_hostile_answer_inert_in_trusted_jupyterlab(tmp_path: Path) -> None:
    _requirements()
    root = tmp_path / "root"
    root.mkdir()
    (root / "hostile.ipynb").write_text(json.dumps(notebook(CELLS)))
    with jupyterlab(root) as lab, chromium() as page:
        dialogs = _watch(page)
        try:
            page.set_default_timeout(60_000)
            page.goto(f"{lab.url}/lab/tree/hostile.ipynb?token={lab.token}")
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.wait_for()
            page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=90_000)
            for i in range(len(CELLS)):
                cell = page.locator(".jp-Notebook .jp-CodeCell").nth(i)
                cell.locator(".cm-content").click()
                page.keyboard.press("Shift+Enter")
                page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=60_000)
            outputs = page.locator(".jp-Notebook .jp-CodeCell .jp-OutputArea")
            outputs.nth(2).locator("table").wait_for()
            page.locator(".tokenhot-chat .tokenhot-answer.tokenhot-final").wait_for(timeout=60_000)
            _assert_inert(page, dialogs, "live outputs")
            # the answers rendered as Markdown (a heading, a table), the raw HTML visible as text
            outputs.nth(1).locator("h1", has_text="Hostile answer").wait_for()
            assert "<script>" in outputs.nth(2).inner_text()
            assert "Hostile answer" in outputs.nth(3).inner_text() + outputs.nth(4).inner_text()

            # save (JupyterLab signs the notebook: trusted), reload, the outputs render again from the file
            page.keyboard.press("Control+s")
            page.wait_for_timeout(1500)
            saved = json.loads((root / "hostile.ipynb").read_text())
            assert any(o.get("data", {}).get("text/html") for c in saved["cells"] for o in c.get("outputs", []))
            page.reload()
            page.locator(".jp-Notebook .jp-CodeCell .jp-OutputArea").nth(2).locator("table").wait_for()
            _assert_inert(page, dialogs, "reloaded trusted notebook")
        except BaseException:
            print("console errors:", page.console_errors[-10:])
            print(lab.tail())
            raise


def test_hostile_answer_inert_in_nbconvert_html_export(tmp_path: Path) -> None:
    """Executed with nbclient and exported by nbconvert's HTMLExporter (no sanitising of its own)."""
    _requirements()
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nbconvert = pytest.importorskip("nbconvert")
    from browser.lab import jupyter_env

    nb = nbformat.from_dict(notebook(CELLS[:5]))
    env = jupyter_env(tmp_path)
    import os

    old = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("TOKENHOT_", "PYTHONPATH"))})
    try:
        nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(old)
    body, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    page_file = tmp_path / "export.html"
    page_file.write_text(body)
    assert "&lt;script&gt;window.__pwned" in body  # the payload is there, as text
    with chromium() as page:
        dialogs = _watch(page)
        page.goto(page_file.as_uri())
        page.locator(".jp-OutputArea-output h1", has_text="Hostile answer").first.wait_for(timeout=30_000)
        _assert_inert(page, dialogs, "nbconvert export")
