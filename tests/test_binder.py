"""binder/ builds a working environment from nothing but its own files, and the quickstart runs in it.

Like mybinder.org: a fresh virtualenv, ``pip install -r binder/requirements.txt``, then ``binder/postBuild`` run
from the repository root; then the quickstart notebook is executed by that venv's own ``jupyter execute`` with a
kernel installed into (and running on) that venv's Python, with no key (so on the offline simulator).
Network: only the package index, for whatever pip's cache lacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"
KERNEL = "tokenhot-binder-test"


def _run(cmd: list[str], *, env: dict[str, str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _stdout(cell: nbformat.NotebookNode) -> str:
    """A cell's stdout as one string (a kernel may split one print into several stream messages)."""
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def test_binder_files_are_complete() -> None:
    reqs = (BINDER / "requirements.txt").read_text().splitlines()
    names = {line.split(">")[0].split("=")[0].split("[")[0].strip().lower() for line in reqs
             if line.strip() and not line.startswith("#")}
    assert {"jupyterlab", "ipykernel", "ipywidgets", "nbclient"} <= names
    post = BINDER / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable"
    text = post.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "pip install" in text and "-e ." in text


# On a fresh machine pip downloads Jupyter from the registry: the setup may outlast the suite's 300 s default.
@pytest.fixture(scope="module")
def binder_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("binder")
    env_dir = where / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TOKENHOT_", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_", "CONDA_"))}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(env_dir),
               PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_PREFER_BINARY="1",
               JUPYTER_DATA_DIR=str(where / "jupyter-data"), JUPYTER_CONFIG_DIR=str(where / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(where / "jupyter-runtime"), IPYTHONDIR=str(where / "ipython"))
    py = str(bindir / "python")
    _run([py, "-m", "pip", "install", "-q", "--prefer-binary", "-r", str(BINDER / "requirements.txt")],
         env=env, cwd=ROOT, timeout=900)
    _run(["bash", str(BINDER / "postBuild")], env=env, cwd=ROOT, timeout=900)
    _run([py, "-m", "ipykernel", "install", "--prefix", str(env_dir), "--name", KERNEL], env=env, cwd=ROOT,
         timeout=120)
    (where / "env.json").write_text(json.dumps(env))
    return env_dir


@pytest.mark.timeout(1500)
def test_quickstart_runs_in_the_binder_environment(binder_venv: Path, tmp_path: Path) -> None:
    where = binder_venv.parent
    env = json.loads((where / "env.json").read_text())
    bindir = binder_venv / ("Scripts" if os.name == "nt" else "bin")
    py = bindir / "python"

    # The package came from postBuild (editable, this checkout), not from the test environment.
    probe = _run([str(py), "-c", "import sys, tokenhot_nb; print(sys.prefix); print(tokenhot_nb.__file__)"],
                 env=env, cwd=tmp_path, timeout=60).stdout.splitlines()
    assert Path(probe[0]).resolve() == binder_venv.resolve()
    assert Path(probe[1]).resolve().is_relative_to(ROOT / "tokenhot_nb")

    # The kernel is the venv's own Python.
    spec = json.loads((binder_venv / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json").read_text())
    assert Path(spec["argv"][0]).resolve().parent == bindir.resolve()

    nb_in = tmp_path / "00_quickstart.ipynb"
    shutil.copyfile(ROOT / "notebooks" / "00_quickstart.ipynb", nb_in)
    _run([str(bindir / "jupyter"), "execute", f"--kernel_name={KERNEL}", "--output=executed", str(nb_in)],
         env=env, cwd=tmp_path, timeout=300)

    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    committed = nbformat.read(ROOT / "notebooks" / "00_quickstart.ipynb", as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "Running offline (key not set)" in text
    # The checked cell (the catalogue count) prints exactly what the committed notebook says.
    for got, want in zip(executed.cells, committed.cells, strict=True):
        if want.cell_type == "code" and want.source.startswith("# NBVAL_CHECK_OUTPUT"):
            assert _stdout(got) == _stdout(want)
    # The history landed in the notebook's own store, next to the notebook.
    assert (tmp_path / ".tokenhot" / "00_quickstart" / "history.sqlite").exists()
    assert sys.executable not in spec["argv"]
