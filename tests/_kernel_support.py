"""Code cells run in a real ipykernel (nbclient), offline, with this checkout importable by the kernel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[1]


def run_offline(cells: list[str], folder: Path, *, timeout: int = 120) -> Any:
    """The executed notebook (errors stay in the cells' outputs); the store lives in ``folder/store``."""
    env = {"TOKENHOT_MODE": "offline", "TOKENHOT_STORE": str(folder / "store"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment it is started in
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb
