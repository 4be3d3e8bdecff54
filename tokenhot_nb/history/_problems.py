"""Store problems a person can fix: each names the store path and says what to do."""

from __future__ import annotations

import errno
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from .._config import redact
from ..errors import InputError, StoreError

_ELSEWHERE = "Session(store='<another folder>') or TOKENHOT_STORE"
_NO_WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
_NO_WRITE_WORDS = ("readonly", "read-only", "unable to open database file", "attempt to write")


#: SQLite's words for a damaged file. "vtable constructor failed" is the full-text index failing to open its own
#: tables (their pages damaged); a missing tokenizer or module says so in other words. Text that is no UTF-8 (this
#: package writes only UTF-8) is a damaged page, or another program's row: Python's sqlite3 cannot read it.
_DAMAGED_WORDS = ("not a database", "malformed", "corrupt", "vtable constructor failed", "could not decode to utf-8")
_UNDECODABLE = re.compile(r"Could not decode to UTF-8 column '([^']{1,100})'")


def cannot_write(exc: BaseException) -> bool:
    """``exc`` says the store may be read but not written (permissions, a read-only mount)."""
    if isinstance(exc, OSError):
        return isinstance(exc, PermissionError) or exc.errno in _NO_WRITE_ERRNOS
    return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _NO_WRITE_WORDS)


#: The kernel's own views of itself (processes, devices, control groups…): they hold no ordinary files, so a
#: history cannot live there even where the permission bits (for root) say a folder may be written.
_SPECIAL_FILE_SYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore",
    "bpf", "configfs", "mqueue", "hugetlbfs", "fusectl", "efivarfs", "binfmt_misc", "autofs", "nsfs",
    "selinuxfs", "rpc_pipefs", "nfsd"})


def _unescape_mount(text: str) -> str:
    """A mount point as ``/proc/self/mountinfo`` writes it (space, tab, newline, backslash as ``\\ooo``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def _file_system_type(path: Path) -> tuple[str, str] | None:
    """(mount point, file-system type) of the mount holding ``path`` (an existing path), where Linux tells."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
            lines = f.read().splitlines()
    except OSError:  # not Linux, or no /proc: nothing to tell
        return None
    where = os.path.realpath(path)
    best: tuple[str, str] | None = None
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 7 or "-" not in fields[6:]:
            continue
        point = _unescape_mount(fields[4])
        kind = fields[fields.index("-", 6) + 1]
        inside = where == point or where.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) >= len(best[0])):  # (the deepest; a later mount over it wins)
            best = (point, kind)
    return best


def check_not_special(root: Path) -> None:
    """Refuse a store path on a kernel file system (``/proc``, ``/sys``, ``/dev``…) in one line: root may
    "write" there by the permission bits, and SQLite then fails at the first call with words that say nothing.
    A NUL in the path is said here too (every later look at the path was a bare ``ValueError``), and a path still to
    be made that holds an API key (pasted in the wrong argument, it became a folder named after the key)."""
    if redact(str(root)) != str(root) and not root.exists():
        raise InputError("The history store path looks like it holds an API key, so it was not used (and is not "
                         "shown).", hint="A key goes in TOKENHOT_API_KEY or Session(api_key=…); store= takes the "
                                         "folder the history is kept in, e.g. '.tokenhot'.")
    if "\x00" in str(root):
        raise StoreError(f"The history store path {str(root)!r} holds a NUL character, which no file name can hold.",
                         hint=f"Pass the folder's path without it: {_ELSEWHERE}.")
    here = root.absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    found = _file_system_type(here)
    if found is not None and found[1] in _SPECIAL_FILE_SYSTEMS:
        raise StoreError(f"The history store path {str(root)!r} is on {found[0]!r}, a {found[1]} file system "
                         "(the kernel's view of itself), which holds no ordinary files: no history can be kept "
                         "there.", hint=f"Use a folder on an ordinary disk, e.g. under your home folder: "
                                        f"{_ELSEWHERE}.")


def read_only_mount(root: Path) -> bool:
    """``root`` is on a file system mounted read-only (where ``statvfs`` can tell)."""
    try:
        return bool(os.statvfs(root).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs on Windows
        return False


def why_unwritable(root: Path, exc: BaseException) -> str:
    """A person's words for why the store at ``root`` cannot be written (SQLite only says "unable to open")."""
    if read_only_mount(root):
        return "read-only file system"
    if root.is_dir() and not os.access(root, os.W_OK):
        return "no permission to write the folder"
    return (exc.strerror or str(exc)) if isinstance(exc, OSError) else str(exc)


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
    return isinstance(exc, sqlite3.Error) and "full" in str(exc).lower()


def _detail(exc: BaseException) -> str:
    """What went wrong, short: an OS error's own words without the (long) file name, else the message (SQLite's
    "Could not decode to UTF-8 column 'text' with text '…'" quotes the whole damaged value: only its column)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    undecodable = _UNDECODABLE.match(str(exc))
    if undecodable:
        return f"the column {undecodable.group(1)!r} of a row holds bytes that are not UTF-8 text"
    return str(exc)


def store_problem(root: Path, db: Path, exc: BaseException, *, writing: bool = False) -> StoreError:
    """The StoreError for ``exc`` raised while opening, setting up (or, ``writing``, writing to) the store."""
    text = str(exc).lower()
    detail = _detail(exc)
    what = "could not be written" if writing else "could not be opened or read"
    if root.is_symlink() and not root.exists():
        return StoreError(f"The history store path {str(root)!r} is a symbolic link that leads to no folder (its "
                          "target is missing, or it loops).", hint=f"Point it at a folder, or use another path: "
                                                                   f"{_ELSEWHERE}.")
    inner = Path(getattr(exc, "filename", None) or root)  # (``artifacts`` a file: it was "the store is a file")
    if inner not in (root, db) and inner.parent == root and inner.exists() and not inner.is_dir():
        return StoreError(f"{inner.name!r} in the history store {str(root)!r} is a file, not a folder.",
                          hint=f"Move it away (the store keeps its files there), or use another store: "
                               f"{_ELSEWHERE}.")
    if db.is_dir():  # (SQLite only says "unable to open database file")
        return StoreError(f"{db.name!r} in the history store {str(root)!r} is a folder, not a file.",
                          hint=f"Move it away (the store keeps its database there), or use another store: "
                               f"{_ELSEWHERE}.")
    if (root.exists() and not root.is_dir()) or isinstance(exc, (NotADirectoryError, FileExistsError)):
        return StoreError(f"The history store path {str(root)!r} is a file, not a folder.",
                          hint=f"Move that file away, or use a folder: {_ELSEWHERE}.")
    if _disk_full(exc):
        return StoreError(f"The disk holding the history store {str(root)!r} is full ({detail}).",
                          hint=f"Free some space, or keep the history elsewhere: {_ELSEWHERE}.")
    if isinstance(exc, sqlite3.DatabaseError) and any(w in text for w in _DAMAGED_WORDS):
        return StoreError(f"The history database {str(db)!r} is damaged ({detail}).",
                          hint="Rename it (e.g. history.sqlite.broken) to start a fresh history there; the files "
                               "in artifacts/ are kept.")
    if cannot_write(exc):
        return StoreError(f"The history store {str(root)!r} cannot be written ({detail}).",
                          hint=f"Use a folder you can write to: {_ELSEWHERE}.")
    if "no such column" in text or "no such table" in text:
        return StoreError(f"The history database {str(db)!r} has an unexpected layout ({detail}).",
                          hint="It may come from another tokenhot_nb version or another program: open it with the "
                               "version that wrote it, or rename the file to start a fresh history there.")
    return StoreError(f"The history store {str(root)!r} {what} ({detail}).",
                      hint=f"Check the folder, or use another one: {_ELSEWHERE}.")


def check_root(root: Path) -> None:
    """Refuse at once a store path that can never hold a history (a file, a folder under a file, ``/proc/…``, a
    folder that may not be written and holds no database), without opening the database: the session that names
    it stays cheap to make, and the mistake is said where it was made instead of at the first call.

    A folder that exists is taken as it is (a read-only one with a database opens read-only, for replay). For a
    path still to be made, its first missing folder is made and removed again: only that tells ``/proc`` (where
    the permission bits say yes) from a folder that can be made.
    """
    db = root / "history.sqlite"
    try:
        check_not_special(root)
        if root.is_dir():
            if not db.is_file() and (read_only_mount(root) or not os.access(root, os.W_OK)):
                raise PermissionError(errno.EACCES, "no permission to write the folder, and it holds no history")
            return
        if root.is_symlink():  # (to nowhere: it can never be made a folder)
            raise FileNotFoundError(errno.ENOENT, "a symbolic link to no folder")
        if root.exists():
            raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder")
        first = root.absolute()
        while not first.parent.exists():
            first = first.parent
        if not first.parent.is_dir():
            raise StoreError(f"The history store path {str(root)!r} cannot be made: {first.parent.name!r} on it "
                             "is a file, not a folder.", hint=f"Use a folder path: {_ELSEWHERE}.")
        try:
            first.mkdir()
        except FileExistsError:  # (made meanwhile, by another session)
            return
        except OSError as exc:
            if cannot_write(exc):
                raise
            raise StoreError(f"The history store folder {str(root)!r} cannot be made ({_detail(exc)}).",
                             hint=f"Use a folder on an ordinary disk: {_ELSEWHERE}.") from None
        try:
            first.rmdir()
        except OSError:
            pass
    except OSError as exc:
        raise store_problem(root, db, exc) from None


def not_unicode(values: Sequence[object]) -> InputError:
    """A text looked up in the history (a thread's name…) that holds a lone surrogate: no row can hold it."""
    for value in values:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return InputError(f"The text {value[:40]!r} looked up in the history holds an invalid character "
                                  f"({value[exc.start]!r}, a lone surrogate, at position {exc.start}): it is not "
                                  "valid Unicode.",
                                  hint="Clean it first, e.g. text.encode('utf-8', 'replace').decode('utf-8').")
    return InputError("A text looked up in the history holds an invalid character (a lone surrogate): it is not "
                      "valid Unicode.", hint="Clean it first, e.g. text.encode('utf-8', 'replace').decode('utf-8').")


def read_only_problem(root: Path, why: str) -> StoreError:
    """Any write (a new call, a budget, an import, a delete) to a store that was opened read-only."""
    because = f" ({why})" if why and why != "opened read-only" else ""
    return StoreError(f"The history store {str(root)!r} is read-only{because}: its history can be read and "
                      "replayed, but nothing new can be recorded in it.",
                      hint=f"Copy the folder somewhere writable and use the copy, or record new calls in a "
                           f"writable store: {_ELSEWHERE}.")


def not_upgradable(root: Path, db: Path, version: int, why: str) -> StoreError:
    """A read-only store whose layout is older than this tokenhot_nb reads (upgrading it would need a write)."""
    what = "is empty" if version == 0 else f"has an older layout (schema {version})"
    because = f" ({why})" if why and why != "opened read-only" else ""
    return StoreError(f"The history database {str(db)!r} {what} and is read-only{because}, so it cannot be "
                      "upgraded to be read.",
                      hint="Copy the store folder somewhere writable and open the copy (it is upgraded on open).")


def missing_columns(root: Path, db: Path, table: str, lacking: Sequence[str], *, exists: bool) -> StoreError:
    """A database whose tables lack columns this tokenhot_nb reads: another program's file, or a damaged one."""
    names = ", ".join(lacking[:6]) + (", …" if len(lacking) > 6 else "")
    what = f"its table {table!r} lacks the column(s) {names}" if exists else f"it has no table {table!r}"
    return StoreError(f"The history database {str(db)!r} is not a tokenhot_nb history this version can read: "
                      f"{what}.",
                      hint="Open it with the program or tokenhot_nb version that wrote it, or rename the file "
                           f"to start a fresh history there (or use another store: {_ELSEWHERE}).")


def replaced_problem(root: Path, db: Path, *, exists: bool) -> StoreError:
    """The database file was deleted or replaced while a store had it open."""
    what = "replaced by another file" if exists else "deleted"
    return StoreError(f"The history database {str(db)!r} was {what} while this session had it open: nothing "
                      "more can be recorded in it.",
                      hint="Close the session (session.close(), or the store's close()): the next call opens the "
                           f"history now at {str(root)!r}" + ("." if exists else " (a fresh one)."))


def check_store_there(root: Path, given: str) -> None:
    """``History(path)`` reads a store that exists: a mistyped folder made an empty one (its folders too) and
    showed "0 entries", as if the calls had never been made. A Session makes its store at its first call."""
    db = root / "history.sqlite"
    if db.is_file():
        return
    if root.is_file():
        if root.name == db.name:
            raise StoreError(f"{given!r} is a store's database file; History() takes the store's folder.",
                             hint=f"Open it with History({str(root.parent)!r}).")
        if root.suffix.lower() in (".json", ".jsonl"):
            raise StoreError(f"{given!r} is a file, not a history store (a folder); an export is loaded, not "
                             "opened.", hint=f"Load it with History.load({given!r}).")
        raise StoreError(f"{given!r} is a file, not a history store (a folder).",
                         hint="Pass the folder a Session recorded into: History('.tokenhot') by default, or the "
                              "store=… it was given.")
    where = f"holds no history store (no {db.name} in it)" if root.is_dir() else "does not exist"
    raise StoreError(f"No history to open: {str(root)!r} {where}.",
                     hint=_nearby(root) or "Check the path: History(path) reads the folder a Session recorded "
                     "into ('.tokenhot' by default, or its store=…); a Session makes its store at its first call.")


def _nearby(root: Path) -> str:
    """A hint naming a store inside ``root``, or one beside it whose name is close (a typo'd or dotless folder)."""
    from .._suggest import nearest

    try:
        inside = [p for p in root.iterdir() if (p / "history.sqlite").is_file()][:2] if root.is_dir() else []
        if inside:  # (History('.') beside a notebook: its store is '.tokenhot' in it)
            return f"Did you mean History({str(inside[0])!r})?"
        found = [p.name for p in root.parent.iterdir() if (p / "history.sqlite").is_file()][:200]
    except OSError:
        return ""
    close = nearest(root.name, found, n=1)
    if not close and root.name.lstrip(".") in (f.lstrip(".") for f in found):  # ('tokenhot' for '.tokenhot')
        close = [f for f in found if f.lstrip(".") == root.name.lstrip(".")][:1]
    return f"Did you mean History({str(root.parent / close[0])!r})?" if close else ""
