"""The tutorials also run *live*: with a key and a base URL they take the network path, not the simulator.

The "real service" here is the project's simulator served over loopback HTTP, so this proves the live code
path (key from the environment, network transport, downloads of result URLs) without touching Tokenhot.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-live-NOTEBOOKSECRET4242"


@pytest.mark.kernel
@pytest.mark.parametrize("name", ["00_quickstart", "01_images", "02_chat", "04_audio", "05_history_and_replay", "06_widgets",
                                  "07_search"])
def test_tutorial_runs_live_against_a_loopback_service_and_replays_identically(
        name: str, tmp_path: Path, sim_server, sim_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copyfile(ROOT / "notebooks" / f"{name}.ipynb", work / f"{name}.ipynb")
    for var in [v for v in os.environ if v.startswith("TOKENHOT_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("TOKENHOT_API_KEY", KEY)
    monkeypatch.setenv("TOKENHOT_BASE_URL", sim_url)
    nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    text = nbformat.writes(nb)
    assert "live" in "".join(o.get("text", "") for o in nb.cells[1].outputs if o.output_type == "stream")
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert KEY not in text  # the key never reaches an output
    store = work / ".tokenhot" / name / "history.sqlite"
    assert store.exists() and KEY.encode() not in store.read_bytes()
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(store)) as db:
        modes = {m for (m,) in db.execute("SELECT DISTINCT mode FROM entries")}
        calls = db.execute("SELECT count(*) FROM entries WHERE status = 'ok'").fetchone()[0]
    assert modes == {"live"} and calls >= 3

    # re-run in replay mode: every output is what the live run showed (lisette's "zero-diff re-run")
    monkeypatch.setenv("TOKENHOT_MODE", "replay")
    again = nbformat.read(work / f"{name}.ipynb", as_version=4)
    NotebookClient(again, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}).execute()
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT count(*) FROM entries WHERE mode = 'replay'").fetchone()[0] == 0
    live, replay = _outputs(nb), _outputs(again)
    differing = [i for i, (a, b) in enumerate(zip(live, replay, strict=True)) if a != b]
    assert not differing, f"cell {differing[0]}: live {live[differing[0]]!r:.600} / replay {replay[differing[0]]!r:.600}"


def _outputs(nb: nbformat.NotebookNode) -> list[list[str]]:
    """Each code cell's outputs as a re-run can reproduce them: the mode line names the mode, a printed
    duration is a duration, widget views get new model ids (their plain-text fallback, a repr cut at a fixed length,
    names the mode too), and the kernel may cut stdout in other places."""
    import json
    import re

    cells = []
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        outs: list[str] = []
        for o in cell.outputs:
            if o.output_type == "stream" and outs and outs[-1].startswith(f"stream:{o.name}:"):
                outs[-1] += o.text
                continue
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {}):  # (its repr, cut)
                o = nbformat.from_dict({**o, "data": {k: v for k, v in o["data"].items() if k != "text/plain"}})
            outs.append(f"stream:{o.name}:{o.text}" if o.output_type == "stream" else
                        json.dumps({k: v for k, v in o.items() if k != "execution_count"}, sort_keys=True))
        text = "\n".join(outs).replace("Running live", "Running replay")
        text = re.sub(r"\d+\.\d+ s\b", "<t> s", text)
        cells.append(re.sub(r'"model_id": "[0-9a-f]{32}"', '"model_id": "<id>"', text).split("\n"))
    return cells


@pytest.mark.kernel
def test_the_video_tutorial_reruns_in_replay_mode_identically(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Recorded offline, then re-run in replay mode (no network): every cell runs. The resume section looked for
    the interrupted call as ``status="pending"``, but the recording resumed it, so a replay found no such row
    (an AttributeError on None). And every output is what the recording showed: a replay showed no progress bar,
    a ``wait=False`` task as finished, and never called ``on_progress`` (the interrupted wait ran to its end)."""
    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copyfile(ROOT / "notebooks" / "03_video.ipynb", work / "03_video.ipynb")
    for var in [v for v in os.environ if v.startswith("TOKENHOT_")]:
        monkeypatch.delenv(var)
    runs: dict[str, list[list[str]]] = {}
    for mode in ("offline", "replay"):
        monkeypatch.setenv("TOKENHOT_MODE", mode)
        nb = nbformat.read(work / "03_video.ipynb", as_version=4)
        NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(work)}}).execute()
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{mode}: {errors[0].ename}: {errors[0].evalue}"
        runs[mode] = [[line.replace("Running offline", "Running replay") for line in cell] for cell in _outputs(nb)]
    recorded, replay = runs["offline"], runs["replay"]
    assert any("video: 100%" in line for cell in recorded for line in cell)  # (the bars are compared too)
    differing = [i for i, (a, b) in enumerate(zip(recorded, replay, strict=True)) if a != b]
    assert not differing, (f"cell {differing[0]}: recorded {recorded[differing[0]]!r:.600} / "
                           f"replay {replay[differing[0]]!r:.600}")
