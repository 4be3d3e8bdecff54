"""Store problems seen from the magics: one short block naming the store and the fix, never a traceback; an
answer already paid for is still shown. (How each fault is made: see tests/test_history_store_errors.py.)"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output
from test_history_store_errors import drop_column

import tokenhot_nb
import tokenhot_nb.magics as magics_pkg
from tokenhot_nb.errors import StoreError, UnrecordedWarning
from tokenhot_nb.history import HistoryEntry, Store
from tokenhot_nb.history import _store as store_mod

ip = support.ip  # fixture


@pytest.fixture
def root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The default session's store folder (offline mode, no key), reset around the test."""
    store = tmp_path / "store"
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(store))
    monkeypatch.delenv("TOKENHOT_API_KEY", raising=False)
    monkeypatch.setattr(magics_pkg, "last_error", None)
    tokenhot_nb.session(reset=True)
    yield store
    tokenhot_nb.session(reset=True).close()


def run(ip: Any, source: str) -> tuple[Any, Any]:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    return res, cap


def _one_block(res: Any, cap: Any) -> str:
    """The cell ran without raising and showed one short error block (no traceback); returns its text."""
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr
    texts = [o.data["text/plain"] for o in cap.outputs if "✖" in o.data.get("text/plain", "")]
    assert len(texts) == 1, [o.data for o in cap.outputs]
    assert "Traceback" not in texts[0] and len(texts[0].splitlines()) <= 4
    assert isinstance(magics_pkg.last_error, StoreError)
    return str(texts[0])


def test_history_of_a_store_missing_a_column(ip: Any, root: Path) -> None:
    Store(root).insert(HistoryEntry(kind="chat", model="m"))
    drop_column(root / "history.sqlite", "entries", "model")
    tokenhot_nb.session(reset=True)
    text = _one_block(*run(ip, "%th_history 5"))
    assert str(root / "history.sqlite") in text and "lacks the column(s) model" in text and "Fix:" in text


def test_image_on_a_read_only_store_is_refused_before_any_request(
    ip: Any, root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    Store(root).insert(HistoryEntry(kind="chat", model="m", text="old"))
    real = sqlite3.connect

    def connect(database: Any, *args: Any, **kw: Any) -> sqlite3.Connection:  # what a read-only mount answers
        if not (kw.get("uri") and "mode=ro" in str(database)):
            raise sqlite3.OperationalError("unable to open database file")
        return real(database, *args, **kw)

    monkeypatch.setattr(store_mod.sqlite3, "connect", connect)
    tokenhot_nb.session(reset=True)
    text = _one_block(*run(ip, "%%th_image\na red fox"))
    assert str(root) in text and "is read-only" in text and "Copy the folder somewhere writable" in text
    res, _ = run(ip, "%th_history 5")  # the history is still read
    assert res.error_in_exec is None and [e.text for e in res.result] == ["old"]


def test_chat_whose_recording_fails_still_shows_the_answer(ip: Any, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = tokenhot_nb.session()
    s.chat("warm up")
    real = Store.insert

    def insert(self: Store, entry: HistoryEntry) -> int:  # SQLite's SQLITE_FULL once the running row is in
        entry_id = real(self, entry)
        conn = self.connection()
        conn.execute(f"PRAGMA max_page_count={conn.execute('PRAGMA page_count').fetchone()[0]}")
        return entry_id

    monkeypatch.setattr(Store, "insert", insert)
    ip.user_ns["topic"] = "otters " * 3000
    with pytest.warns(UnrecordedWarning, match="kept in this result only") as caught:
        res, cap = run(ip, "%%th_chat -o ans\ntell me about {topic}")
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr
    assert str(root) in str(caught[0].message) and "is full" in str(caught[0].message)
    answer = ip.user_ns["ans"]
    assert answer.text.startswith("You said") and "otters otters" in answer.text
    shown = " ".join(str(o.data.get("text/plain", "")) + str(o.data.get("text/html", "")) for o in cap.outputs)
    assert "You said" in shown and "✖" not in shown
    assert magics_pkg.last_error is None


def test_image_cell_whose_file_cannot_be_stored_still_shows_it(
    ip: Any, root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import errno

    def full(self: Any, dest: Path, data: bytes) -> bool:  # ENOSPC where the store writes the image's bytes
        raise OSError(errno.ENOSPC, "No space left on device", str(dest))

    monkeypatch.setattr(Store, "_write_new", full)
    monkeypatch.setattr(tempfile, "tempdir", str(root.parent))  # where the image waits outside the store
    with pytest.warns(UnrecordedWarning, match="is full"):
        res, cap = run(ip, "%%th_image -o fox -x response_format=b64_json\na red fox")
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr, cap.stderr
    assert magics_pkg.last_error is None
    data = dict(cap.outputs[-1].data)
    assert any(k.startswith("image/") for k in data) or "<img" in data.get("text/html", "")
    assert ip.user_ns["fox"].items[0].path.is_file()
