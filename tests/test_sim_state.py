"""The simulator's served files live on disk, not in the process: long offline sessions stay small."""

from __future__ import annotations

import os

from tokenhot_nb.sim._state import SimState


def test_files_are_kept_on_disk_and_read_back_whole() -> None:
    state = SimState()
    names = [state.put_file(bytes([i]) * 50_000, "image/png", "png") for i in range(5)]
    assert len(set(names)) == 5 and len(state.files) == 5
    folder = state.files._dir
    assert folder is not None and sorted(os.listdir(folder)) == sorted(names)
    got = state.files.get(names[2])
    assert got is not None and got.data == bytes([2]) * 50_000 and got.content_type == "image/png"
    assert state.files[names[4]].data[:1] == b"\x04" and names[0] in state.files
    assert state.files.get("missing.png") is None and "missing.png" not in state.files
    assert state.put_file(bytes([2]) * 50_000, "image/png", "png") == names[2]  # same bytes, same name, once
    assert len(os.listdir(folder)) == 5
    del state, got
    import gc

    gc.collect()
    assert not os.path.exists(folder)  # removed with the state
