"""Store problems name the store path and the fix, instead of a bare sqlite3/OS error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenhot_nb.errors import StoreError
from tokenhot_nb.history import History, HistoryEntry, Store


def test_store_path_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "store"
    path.write_text("not a folder")
    with pytest.raises(StoreError, match="is a file, not a folder") as info:
        len(History(Store(path)))
    assert str(path) in str(info.value) and "TOKENHOT_STORE" in str(info.value)


def test_corrupt_database(tmp_path: Path) -> None:
    root = tmp_path / "store"
    root.mkdir()
    (root / "history.sqlite").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="is damaged") as info:
        Store(root).insert(HistoryEntry(kind="chat", model="m"))
    assert "history.sqlite" in str(info.value) and "Rename it" in str(info.value)
