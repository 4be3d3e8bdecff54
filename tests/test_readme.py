"""The README stays true: its catalogue is what the generator prints, its commands exist and run, and every
magic option is documented."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
VENV_CMD = "python3 -m venv .venv && . .venv/bin/activate"
QUICKSTART_CMD = 'pip install -e ".[notebook]" && jupyter execute notebooks/00_quickstart.ipynb'
TEST_CMD = 'pip install -e ".[dev]" && python -m pytest'


def _generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_catalog.py"), *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_catalogue_table_is_what_the_generator_prints() -> None:
    printed = _generator()
    assert printed.returncode == 0, printed.stderr
    start, end = "<!-- catalog:start -->\n", "<!-- catalog:end -->"
    block = README.split(start, 1)[1].split(end, 1)[0]
    assert block == printed.stdout, "README catalogue is stale: run python scripts/readme_catalog.py --write"
    assert _generator("--check").returncode == 0


def test_catalogue_table_lists_every_model() -> None:
    import tokenhot_nb

    rows = [line for line in README.splitlines() if line.startswith("| `")]
    listed = {re.match(r"\| `([^`]+)`", r).group(1) for r in rows}  # type: ignore[union-attr]
    assert {m.id for m in tokenhot_nb.models()} <= listed
    assert f"{len(tokenhot_nb.models())} models" in README


def test_the_live_only_models_are_what_an_offline_session_lists(tmp_path: Path) -> None:
    """The README's "N more" and its live rows are what s.models() answers offline (the quickstart prints it)."""
    from tokenhot_nb import Session

    with Session(mode="offline", store=tmp_path) as s:
        live = [m.id for m in s.models() if m.source == "live"]
    said = re.search(r"Only in the service's table \(as the simulator serves it, after Tokenhot's\): (\d+) more", README)
    assert said is not None and int(said.group(1)) == len(live)
    block = README.split("Only in the service's table", 1)[1]
    assert {re.match(r"\| `([^`]+)`", r).group(1) for r in block.splitlines()  # type: ignore[union-attr]
            if r.startswith("| `")} == set(live)


def test_write_replaces_only_the_block(tmp_path: Path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text("intro\n<!-- catalog:start -->\nold table\n<!-- catalog:end -->\noutro\n")
    assert _generator("--check", "--readme", str(stale)).returncode == 1
    assert _generator("--write", "--readme", str(stale)).returncode == 0
    text = stale.read_text()
    assert text.startswith("intro\n<!-- catalog:start -->\n") and text.endswith("<!-- catalog:end -->\noutro\n")
    assert "old table" not in text and _generator("--check", "--readme", str(stale)).returncode == 0


def test_the_two_commands_are_in_the_readme_and_their_parts_exist() -> None:
    section = README.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    assert VENV_CMD in section and QUICKSTART_CMD in section and TEST_CMD in section
    assert section.index(VENV_CMD) < section.index(QUICKSTART_CMD)
    assert "chromium" in section.lower() and ".ci/run" in section
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert {"notebook", "test", "dev"} <= set(project["project"]["optional-dependencies"])
    assert (ROOT / "notebooks" / "00_quickstart.ipynb").exists()
    assert "python3 -m pytest" in (ROOT / ".ci" / "run").read_text()
    assert "notebooks" in project["tool"]["pytest"]["ini_options"]["testpaths"]
    assert shutil.which("jupyter") or (Path(sys.executable).parent / "jupyter").exists()


def _closure(requirements: list[str], extras: dict[str, list[str]]) -> set[str]:
    """Every installed distribution that ``requirements`` pull in (our own extras expanded from pyproject)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name == "tokenhot-nb":
            todo += [Requirement(r) for extra in req.extras for r in extras[extra]]
            continue
        if name in seen:
            continue
        seen.add(name)
        for sub in metadata.distribution(name).requires or []:
            sub_req = Requirement(sub)
            if sub_req.marker is None or sub_req.marker.evaluate({"extra": ""}):
                todo.append(sub_req)
    return seen


def test_the_notebook_extra_is_what_the_first_command_needs() -> None:
    """``.[notebook]`` brings ``jupyter execute``, a kernel and JupyterLab, and none of the test tools."""
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    light = _closure(extras["notebook"], extras)
    scripts = {e.name: e.dist.name.lower() for e in metadata.entry_points(group="console_scripts")
               if e.dist is not None}
    for script in ("jupyter", "jupyter-execute", "jupyter-lab"):
        assert scripts[script].replace("_", "-") in light, f"{script} is not installed by .[notebook]"
    assert "ipykernel" in light
    assert not {"playwright", "voila", "openai", "pytest", "nbval"} & light
    assert {"playwright", "voila", "pytest"} <= {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0] for r in extras["test"]}
    assert project["requires-python"] == ">=3.10"  # no upper bound: nothing at run time needs one


def test_the_quickstart_command_runs(tmp_path: Path) -> None:
    """The second half of the first command, as written (the install half is what this environment did)."""
    jupyter = shutil.which("jupyter") or str(Path(sys.executable).parent / "jupyter")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHOT_")}
    work = tmp_path / "checkout"
    (work / "notebooks").mkdir(parents=True)
    shutil.copyfile(ROOT / "notebooks" / "00_quickstart.ipynb", work / "notebooks" / "00_quickstart.ipynb")
    cmd = QUICKSTART_CMD.split(" && ", 1)[1].split()
    proc = subprocess.run([jupyter, *cmd[1:], "--output=ran"], cwd=work, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = nbformat.read(work / "notebooks" / "ran.ipynb", as_version=4)
    assert not [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]


def _documented_magics() -> dict[str, dict[str, str]]:
    """The README's magic reference as {magic: {option: what follows it ("" for a flag, a metavar or {choices}),
    "__line__": the magic column ("%th_models [FILTER]"), "__repeatable__": the options it calls repeatable}}.

    The shared-options table counts for every magic its sentence names; a row with an empty magic column belongs
    to the magic above it; ``--language``, ``--format`` "as %th_transcribe" take that magic's forms."""
    reference = README.split("## Magics", 1)[1].split("\n## ", 1)[0]
    shared_intro, shared_table = reference.split("| Option | Meaning |", 1)
    shared_names = re.findall(r"`(%%?th_\w+)`", shared_intro.rstrip().rsplit("\n\n", 1)[-1])
    docs: dict[str, dict[str, str]] = {}

    def add(magic: str, spec: str, meaning: str) -> None:
        entry = docs.setdefault(magic, {})
        for one in re.findall(r"`([^`]+)`", spec):
            words = [w.rstrip(",") for w in one.split()]
            options = [w for w in words if w.startswith("-")]
            rest = " ".join(w for w in words if not w.startswith("-"))
            for opt in options:
                entry[opt] = rest
                if "repeatable" in meaning:
                    entry.setdefault("__repeatable__", "")
                    entry["__repeatable__"] += f" {opt}"

    for row in shared_table.split("\n\n", 1)[0].splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            for magic in shared_names:
                add(magic, cells[0], cells[1])
    magic = ""
    table = reference.split("| Magic | Option | Meaning |", 1)[1].split("\n\n", 1)[0]
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]
        if cells[0]:
            column = cells[0].strip("`")
            magic = column.split()[0]
            docs.setdefault(magic, {})["__line__"] = column
        add(magic, cells[1], cells[2])
        if cells[2].startswith("as `%th_transcribe`"):
            docs[magic].update({k: docs["%th_transcribe"][k] for k in ("--language", "--format")})
    return docs


def test_every_magic_and_option_is_in_the_reference() -> None:
    """The README's magic reference and the magics' parsers say the same, both ways: every magic there is one
    (cell or line, as written), every option of every parser is documented for that magic (short forms too), and
    nothing documented is missing from the parser; a value's name is argparse's metavar, choices are the
    parser's choices, a flag takes no value, "repeatable" is an option given many times, and a magic's
    positional words (``%th_models [FILTER]``) are its parser's."""
    from tokenhot_nb.magics._args import _BUILDERS, parser
    from tokenhot_nb.magics._magics import TokenhotMagics

    docs = _documented_magics()
    progs = {parser(name).prog: name for name in _BUILDERS}
    assert set(docs) == set(progs), f"README {sorted(set(docs) - set(progs))} vs parsers {sorted(set(progs) - set(docs))}"
    for prog, name in progs.items():
        kind = "cell" if prog.startswith("%%") else "line"
        assert name in TokenhotMagics.magics[kind], f"{prog} is not a {kind} magic"
        documented = {k: v for k, v in docs[prog].items() if not k.startswith("__")}
        actions = {opt: a for a in parser(name)._actions for opt in a.option_strings if opt not in ("-h", "--help")}
        assert set(documented) == set(actions), (
            f"{prog}: undocumented {sorted(set(actions) - set(documented))}, "
            f"documented but not an option {sorted(set(documented) - set(actions))}")
        for opt, value in documented.items():
            action = actions[opt]
            if action.nargs == 0:
                assert value == "", f"{prog} {opt} is a flag, the README gives it a value {value!r}"
            elif action.choices:
                assert value.startswith("{") and set(value.strip("{}").split(",")) == set(action.choices), (
                    f"{prog} {opt}: README says {value!r}, the parser takes {list(action.choices)}")
            elif value:
                metavar = action.metavar or action.dest.upper()
                assert value.strip("[]") == metavar, f"{prog} {opt}: README says {value!r}, --help says {metavar}"
        repeatable = set(docs[prog].get("__repeatable__", "").split())
        appended = {opt for opt, a in actions.items() if type(a).__name__ == "_AppendAction"}
        assert repeatable == appended, f"{prog}: README repeatable {sorted(repeatable)}, parser {sorted(appended)}"
        positional = [a.metavar or a.dest.upper() for a in parser(name)._actions if not a.option_strings]
        words = docs[prog]["__line__"].split()[1:]
        assert [w.strip("[]") for w in words] == [w.strip("[]") for p in positional for w in p.split()], (
            f"{prog}: README writes {docs[prog]['__line__']!r}, the parser takes {positional}")


def test_readme_links_exist() -> None:
    for target in ("notebooks/", "bench/README.md", "docs/architecture.md", "scripts/readme_catalog.py",
                   "binder/requirements.txt", "binder/postBuild"):
        assert (ROOT / target).exists(), target
    assert "docs/img/studio.png" in README  # the screenshot made by the browser test


def test_the_ten_line_quickstart_runs(tmp_path: Path, monkeypatch) -> None:
    """The README's Python quickstart, as written, offline (a fast poll so its video finishes at once)."""
    code = README.split("## Quickstart in ten lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    for var in [v for v in os.environ if v.startswith("TOKENHOT_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    code = code.replace("tokenhot_nb.Session()", "tokenhot_nb.Session(poll_interval=0.01)", 1)
    namespace: dict = {}
    exec(compile(code, "README.md quickstart", "exec"), namespace)
    s = namespace["s"]
    assert [e.kind for e in s.history] == ["image", "video", "chat", "speak", "transcribe", "chat", "chat", "chat"]
    assert all(e.status == "ok" for e in s.history)
    s.close()


def _section(title: str) -> str:
    return README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_configuration_table_is_the_settings() -> None:
    """Every ``name=value`` of the Configuration table is a Settings field with that default (or a Session
    argument), every Settings field is in it, and every environment variable it names is read by the package."""
    import dataclasses
    import inspect

    from tokenhot_nb import Session
    from tokenhot_nb._config import Settings

    table = "\n".join(line for line in _section("Configuration").split("**Modes.**", 1)[0].splitlines()
                      if line.startswith("|"))
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    session_args = set(inspect.signature(Session.__init__).parameters) - {"self", "settings"}
    named: set[str] = set()
    units = {"GiB": 2**30, "MiB": 2**20}
    for row in table.splitlines()[2:]:
        argument_cell = row.split("|")[2]
        for name, value in re.findall(r"`(\w+)=([^`]*)`", argument_cell):
            named.add(name)
            assert name in fields or name in session_args, f"{name}= is neither a setting nor a Session argument"
            if name in fields and value:
                number, _, unit = value.partition(" ")
                expected = fields[name].default
                written = float(number) * units[unit] if unit else (
                    number.strip('"') if number.startswith('"') else float(number))
                assert written == expected, f"the README says {name}={value}, the default is {expected!r}"
        for var in re.findall(r"`(TOKENHOT_\w+)`", row):
            assert any(var in f.read_text() for f in (ROOT / "tokenhot_nb").rglob("*.py")), var
    assert set(fields) <= named, f"settings missing from the table: {sorted(set(fields) - named)}"
    assert {"seed", "defaults"} <= named


def test_the_simulator_flags_are_the_cli() -> None:
    """The simulator section names every option of ``python -m tokenhot_nb.sim`` and nothing else, with every
    choice of ``--service-error`` and ``--stream-shape``; architecture.md's Faults listing names every field."""
    import dataclasses

    from tokenhot_nb.sim import Faults
    from tokenhot_nb.sim.__main__ import build_parser
    from tokenhot_nb.sim.faults import SERVICE_ERRORS, STREAM_SHAPES

    section = _section("The simulator")
    documented = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", section))
    actions = {o: a for a in build_parser()._actions for o in a.option_strings if o not in ("-h", "--help")}
    assert documented == set(actions), (f"undocumented {sorted(set(actions) - documented)}, "
                                        f"documented but no option {sorted(documented - set(actions))}")
    rows = {re.match(r"\| `(--[\w-]+)", r).group(1): r for r in section.splitlines()  # type: ignore[union-attr]
            if r.startswith("| `--")}
    assert all(f"`{name}`" in rows["--service-error"] for name in SERVICE_ERRORS)
    assert all(f"`{name}`" in rows["--stream-shape"] for name in STREAM_SHAPES)
    arch = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    faults = arch.split("`Faults` (dataclass", 1)[1].split("\nThe price table", 1)[0]
    for field in dataclasses.fields(Faults):
        assert re.search(rf"`{field.name}[`:]", faults), f"architecture.md's Faults listing misses {field.name}"


def test_the_catalogue_counts_are_true() -> None:
    """"54 built-in models and 23 protocol families" counts what the catalogue holds."""
    import tokenhot_nb
    from tokenhot_nb.catalog import families

    said = re.search(r"(\d+) built-in models and (\d+) protocol families", README)
    assert said is not None
    assert (int(said.group(1)), int(said.group(2))) == (len(tokenhot_nb.models()), len(families()))


def test_catalogue_summary_counts_every_kind() -> None:
    """The summary read "55 models (16 image, 21 video, 3 audio, 13 chat, 1 embed)": 54, the rerank model left
    out of the count."""
    from tokenhot_nb import catalog

    summary = README.split("<!-- catalog:start -->", 1)[1].split("\n", 2)[1]
    total, counts = re.search(r"Built in: (\d+) models\*\* \(([^)]*)\)", summary).groups()  # type: ignore[union-attr]
    by_kind = {kind: int(n) for n, kind in (part.split() for part in counts.split(", "))}
    assert by_kind == {k: len(catalog.models(k)) for k in catalog.KINDS if catalog.models(k)}
    assert sum(by_kind.values()) == int(total)


def _notebook_imports() -> dict[str, str]:
    """Top-level module → the tutorial that imports it (its code cells, magic lines left out)."""
    import ast
    import json

    found: dict[str, str] = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] != "code" or "".join(cell["source"]).startswith("%%"):  # (a cell magic's body)
                continue
            code = "\n".join(ln for ln in "".join(cell["source"]).splitlines() if not ln.lstrip().startswith("%"))
            for node in ast.walk(ast.parse(code)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
                for name in names:
                    found.setdefault(name.split(".")[0], path.name)
    return found


def test_the_light_install_and_binder_run_every_tutorial() -> None:
    """README: ``.[notebook]`` is "enough to run and open the notebooks", and on mybinder.org "the notebooks run";
    02_chat imports pydantic, which neither installed (nor anything they pull in), so its "answers as data" cell
    failed there. Every module a tutorial imports is the standard library's or comes with ``.[notebook]``, and
    with binder/requirements.txt plus the package."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    core = [r for r in project["dependencies"] if Requirement(r).marker is None or Requirement(r).marker.evaluate()]
    binder = [ln.split(" #")[0].strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    installs = {".[notebook]": _closure([*core, *extras["notebook"]], extras), "binder": _closure([*core, *binder], extras)}
    providers = dict(metadata.packages_distributions())
    for dist in metadata.distributions():  # (Python 3.10 reads only top_level.txt, which wheels built by hatchling
        for f in dist.files or ():  # lack: a package's own files name it there, as 3.11 infers)
            if len(f.parts) == 2 and f.parts[1] == "__init__.py" and f.parts[0] not in providers:
                providers.setdefault(f.parts[0], []).append(dist.metadata["Name"])
    imports = _notebook_imports()
    assert {"tokenhot_nb", "PIL", "pydantic"} <= set(imports), imports
    for module, notebook in imports.items():
        if module in sys.stdlib_module_names or module == "tokenhot_nb":
            continue
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        assert dists, f"{notebook} imports {module}, which this environment does not have"
        for install, closure in installs.items():
            assert dists & closure, f"{notebook} imports {module} ({sorted(dists)}), which {install} does not install"
