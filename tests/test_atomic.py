"""replacing(): a file appears whole or not at all, and a failed write leaves the old file and no temp file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tokenhot_nb._atomic import replacing


def test_the_file_appears_only_when_the_block_ends(tmp_path: Path) -> None:
    dest = tmp_path / "table.json"
    with replacing(dest, prefix=".x-", suffix=".tmp") as (fd, tmp):
        os.write(fd, b"whole")
        os.close(fd)
        assert not dest.exists() and Path(tmp).parent == tmp_path and Path(tmp).name.startswith(".x-")
    assert dest.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [dest]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "table.json"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(dest) as (fd, _):
        os.write(fd, b"half")
        os.close(fd)
        raise RuntimeError("the disk went away")
    assert dest.read_bytes() == b"old" and list(tmp_path.iterdir()) == [dest]
