"""The committed tutorial notebooks stay lean, key-free and self-contained (nbval runs them; this checks the files)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = ["00_quickstart", "01_images", "02_chat", "03_video", "04_audio", "05_history_and_replay", "06_widgets",
            "07_search"]
CHECK = "# NBVAL_CHECK_OUTPUT"
MAX_FILE = 60_000  # bytes per notebook file
MAX_OUTPUT = 4_000  # characters of any one committed output
MAX_BASE64 = 100_000  # bytes of base64 per notebook, in total
KEY_RE = re.compile(r"sk-[A-Za-z0-9_\-]{4,}")
B64_RE = re.compile(r"(?:data:[\w/+.-]+;base64,)?[A-Za-z0-9+/]{200,}={0,2}")
ids = [p.stem for p in NOTEBOOKS]


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_eight_tutorials_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_valid_and_lean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cell_ids = [c.get("id") for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]  # (read() fills gaps)
    assert None not in cell_ids and len(set(cell_ids)) == len(cell_ids), f"{path.name}: each cell needs its own id"
    assert path.stat().st_size < MAX_FILE, f"{path.name} is {path.stat().st_size} bytes: strip its outputs"
    assert "widgets" not in nb.metadata, "saved widget state bloats the file: remove metadata.widgets"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    base64_total = 0
    for cell in _code(nb):
        checked = cell.source.startswith(CHECK)
        if not checked:
            assert not cell.outputs, f"{path.name}: only '{CHECK}' cells keep outputs:\n{cell.source[:200]}"
        for out in cell.outputs:
            assert out.output_type == "stream" and out.name == "stdout", f"{path.name}: keep only small text outputs"
            assert len(out.text) <= MAX_OUTPUT
        raw = json.dumps(cell.get("outputs", []))
        for m in B64_RE.finditer(raw):
            base64_total += len(m.group(0))
        assert "video/mp4" not in raw and "<video" not in raw, f"{path.name}: no embedded video"
    for cell in nb.cells:  # markdown may embed images as attachments
        for att in (cell.get("attachments") or {}).values():
            base64_total += sum(len(v) for v in att.values())
    assert base64_total <= MAX_BASE64, f"{path.name}: {base64_total} bytes of base64"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_no_api_key(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert not KEY_RE.search(text), f"{path.name} contains something shaped like an API key"
    assert "api_key=" not in text.replace('api_key="sk-anything"', ""), "never put a key argument in a tutorial"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_fresh_store_and_mode_first(path: Path) -> None:
    """The first code cell gives the notebook its own store (wiped when offline) and says live or offline."""
    first = _code(nbformat.read(path, as_version=4))[0].source
    assert f'STORE = Path(".tokenhot") / "{path.stem}"' in first
    assert 'if mode == "offline":\n    shutil.rmtree(STORE' in first
    assert "tokenhot_nb.session(store=STORE)" in first
    assert "s.mode" in first and "print(" in first
    assert "poll_interval" in first and 'if s.mode == "offline":' in first  # fast polls only on the simulator


def test_stores_are_distinct_and_git_ignored() -> None:
    firsts = [_code(nbformat.read(p, as_version=4))[0].source for p in NOTEBOOKS]
    stores = [re.search(r'STORE = Path\("\.tokenhot"\) / "([^"]+)"', src).group(1)  # type: ignore[union-attr]
              for src in firsts]
    assert len(set(stores)) == len(stores)
    assert ".tokenhot/" in (ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_checked_cells_have_a_reference(path: Path) -> None:
    """nbval compares '# NBVAL_CHECK_OUTPUT' cells with their stored output: each needs one, from a real run."""
    checked = [c for c in _code(nbformat.read(path, as_version=4)) if c.source.startswith(CHECK)]
    assert checked, f"{path.name} checks no output at all"
    for cell in checked:
        assert cell.outputs and cell.execution_count is not None, cell.source[:200]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_no_hard_coded_offline_assumptions(path: Path) -> None:
    """The notebooks must run live too: no simulator URLs, no forced offline mode."""
    src = "\n".join(c.source for c in _code(nbformat.read(path, as_version=4)))
    for bad in ("tokenhot.sim", "127.0.0.1", "localhost", 'mode="offline"', "SimTransport", "OFFLINE_KEY"):
        assert bad not in src, f"{path.name} hard-codes {bad!r}"


def test_pytest_runs_the_notebooks_with_nbval() -> None:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "notebooks" in cfg["testpaths"] and "tests" in cfg["testpaths"]
    opts = cfg["addopts"].split()
    assert "--nbval-lax" in opts and "--nbval-current-env" in opts
    assert any(o.startswith("--nbval-cell-timeout=") for o in opts)


def test_base64_detector_sees_an_inline_image() -> None:  # the lean check must be able to fail
    blob = base64.b64encode(bytes(range(256)) * 600).decode()
    assert sum(len(m.group(0)) for m in B64_RE.finditer(json.dumps([{"data": {"image/png": blob}}]))) > MAX_BASE64
