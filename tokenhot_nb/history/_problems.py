"""Store problems a person can fix: each names the store path and says what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import StoreError

_ELSEWHERE = "Session(store='<another folder>') or TOKENHOT_STORE"


def store_problem(root: Path, db: Path, exc: BaseException) -> StoreError:
    """The StoreError for ``exc`` raised while opening or setting up the store at ``root``."""
    text = str(exc).lower()
    if (root.exists() and not root.is_dir()) or isinstance(exc, (NotADirectoryError, FileExistsError)):
        return StoreError(f"The history store path {str(root)!r} is a file, not a folder.",
                          hint=f"Move that file away, or use a folder: {_ELSEWHERE}.")
    if "full" in text or getattr(exc, "errno", None) == 28:
        return StoreError(f"The disk holding the history store {str(root)!r} is full ({exc}).",
                          hint=f"Free some space, or keep the history elsewhere: {_ELSEWHERE}.")
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text
                                                   or "corrupt" in text):
        return StoreError(f"The history database {str(db)!r} is damaged ({exc}).",
                          hint="Rename it (e.g. history.sqlite.broken) to start a fresh history there; the files "
                               "in artifacts/ are kept.")
    if isinstance(exc, PermissionError) or "readonly" in text or "read-only" in text or "unable to open" in text:
        return StoreError(f"The history store {str(root)!r} cannot be written ({exc}).",
                          hint=f"Use a folder you can write to: {_ELSEWHERE}.")
    if "no such column" in text or "no such table" in text:
        return StoreError(f"The history database {str(db)!r} has an unexpected layout ({exc}).",
                          hint="It may come from a newer tokenhot_nb: upgrade, or rename the file to start afresh.")
    return StoreError(f"The history store {str(root)!r} could not be opened ({exc}).",
                      hint=f"Check the folder, or use another one: {_ELSEWHERE}.")
