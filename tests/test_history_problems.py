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


@pytest.mark.parametrize("path", ["/proc", "/proc/self", "/proc/nope/deeper", "/sys", "/sys/kernel", "/dev"])
def test_a_store_on_a_kernel_file_system_is_refused_up_front(path: str) -> None:
    """``/proc``, ``/sys`` and ``/dev`` exist and, for root, pass the permission check: ``Session(store='/proc')``
    was taken, then failed at the first call with "could not be opened or read (No such file or directory)" (and
    ``/dev`` even held a history). ``Store``, ``History`` and ``Session`` each refuse it at once, in one line
    saying why and what to pass instead."""
    from tokenhot_nb import Session

    if not Path(path.split("/nope")[0]).exists():
        pytest.fail(f"{path} is missing on this machine: the test needs a Linux host")
    for make in (lambda: Store(path), lambda: History(path), lambda: Session(mode="offline", store=path)):
        with pytest.raises(StoreError, match="file system") as info:
            make()
        said = str(info.value)
        assert path in said and "\n" not in said and "ordinary disk" in said and "TOKENHOT_STORE" in said, said
    assert not Path("/dev/history.sqlite").exists()


def test_a_store_on_an_ordinary_file_system_under_a_kernel_one_is_taken(tmp_path: Path) -> None:
    """Only the mount holding the path counts: ``/dev/shm`` (tmpfs, under ``/dev``) and a temp folder are taken."""
    from tokenhot_nb.history._problems import check_not_special

    check_not_special(tmp_path / "new" / "store")
    if Path("/dev/shm").is_dir():
        check_not_special(Path("/dev/shm/tokenhot-test-store"))
    Store(tmp_path / "store").insert(HistoryEntry(kind="chat", model="m"))


def test_a_store_path_holding_a_nul_is_one_line_not_a_value_error() -> None:
    """``Session(store='a\\x00b')`` was a bare ``ValueError: embedded null byte`` from the first look at the path."""
    from tokenhot_nb import Session

    for make in (lambda: Store("st\x00re"), lambda: History("st\x00re"), lambda: Session(mode="offline",
                                                                                        store="st\x00re")):
        with pytest.raises(StoreError, match="holds a NUL character") as info:
            make()
        assert "st\\x00re'" in str(info.value) and "TOKENHOT_STORE" in str(info.value)  # (the Store's: absolute)


@pytest.mark.parametrize("odd", ["artifacts-a-file", "database-a-folder"])
def test_a_part_of_the_store_of_the_wrong_kind_is_named(tmp_path: Path, odd: str) -> None:
    """``artifacts`` a file in a store folder was "the history store path … is a file, not a folder" (it is a
    folder), and ``history.sqlite`` a folder was "cannot be written (unable to open database file)"; each is named
    now, and the store's own path is not called a file."""
    root = tmp_path / "store"
    root.mkdir()
    name = "artifacts" if odd == "artifacts-a-file" else "history.sqlite"
    if odd == "artifacts-a-file":
        (root / name).write_text("x")
    else:
        (root / name).mkdir()
    with pytest.raises(StoreError) as info:
        Store(root).insert(HistoryEntry(kind="chat", model="m"))
    said = str(info.value)
    kind = "a file, not a folder" if odd == "artifacts-a-file" else "a folder, not a file"
    assert said.startswith(f"{name!r} in the history store {str(root)!r} is {kind}."), said
    assert "Move it away" in said and "TOKENHOT_STORE" in said


@pytest.mark.parametrize("target", ["missing", "loop"])
def test_a_store_path_that_is_a_symbolic_link_to_nowhere_is_refused_up_front(tmp_path: Path, target: str) -> None:
    """A link to a missing folder (or to itself) can never become the store folder: it was taken by the session,
    and refused at the first call as "a file, not a folder"."""
    from tokenhot_nb import Session

    link = tmp_path / "store"
    link.symlink_to(tmp_path / "gone" if target == "missing" else link)
    with pytest.raises(StoreError, match="is a symbolic link that leads to no folder") as info:
        Session(mode="offline", store=link)
    assert str(link) in str(info.value) and "\n" not in str(info.value)


KEYISH = "sk-Zt4hYq8wPx2nVb6mKr1sLd9fGj3cHa7eUo5iTy0pWq2eRk8m"


@pytest.mark.parametrize("name", [KEYISH, f"runs/{KEYISH}"])
def test_a_store_path_that_holds_a_key_is_refused_unshown_and_unmade(tmp_path: Path, name: str) -> None:
    """``Session(store='sk-…')`` (the key pasted in the wrong argument) made a folder named after the key."""
    from tokenhot_nb import Session
    from tokenhot_nb.errors import InputError

    for make in (lambda p: Session(mode="offline", store=p), Store):
        with pytest.raises(InputError, match="looks like it holds an API key") as info:
            make(tmp_path / name)
        said = f"{info.value} {info.value.hint}"
        assert KEYISH not in said and KEYISH[3:20] not in said
    assert list(tmp_path.iterdir()) == []
    Session(mode="offline", store=tmp_path / "risk-free-task-store").close()  # (a word with "sk-" is no key)
