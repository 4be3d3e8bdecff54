"""The documentation is a contract: what README.md and docs/architecture.md say about the code is checked here.

- Every README Python block runs offline (no key, a temp store), in order, in a fresh interpreter; its
  ``%%th_image`` cell runs in IPython's shell. Every other block of both docs is in ``NOT_RUN`` with why (shell
  commands, signature listings, module listings); the listings' ``from tokenhot_nb… import …`` lines are run.
- Every Python name written in backticks exists (rule in :func:`test_names_exist`): in docs/architecture.md, the
  README, bench/README.md's prose and the notebooks' Markdown cells.
- The module map of docs/architecture.md lists every module file under tokenhot_nb/ and nothing else; its
  ``_session/`` listing every ``_session`` module; the README's layout block every top-level part of the package.
- The signatures docs/architecture.md lists (the Session's, the client's, the families', the store's, _safe's)
  are the real ones (:func:`inspect.signature`), and its async-twins line names every twin.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import importlib
import inspect
import re
import types
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "tokenhot_nb"
README = (ROOT / "README.md").read_text(encoding="utf-8")
ARCH = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# names in backticks

def _prose(markdown: str) -> str:
    """The text without its fence lines (the blocks' own backticked names count too: the module listings use
    them), with ``double`` backticks made single."""
    text = re.sub(r"^```.*$", "", markdown, flags=re.M)
    return re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)


def _backticked(markdown: str) -> list[str]:
    seen: dict[str, None] = {}
    for m in re.finditer(r"`([^`]+)`", _prose(markdown)):
        seen.setdefault(" ".join(m.group(1).split()), None)
    return list(seen)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, types.ModuleType]:
    """Every module of the package, imported (``sim/__main__.py`` runs the server, so it is only read)."""
    return {_module_name(f): importlib.import_module(_module_name(f))
            for f in sorted(PKG.rglob("*.py")) if f.name != "__main__.py"}


@cache
def _code_words() -> frozenset[str]:
    """Every identifier the package's code uses, and every word of its string literals, docstrings left out.

    Comments and docstrings are prose: a name that only they mention may be as stale as the doc's.
    """
    words: set[str] = set()
    for f in PKG.rglob("*.py"):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                words.add(node.id)
            elif isinstance(node, ast.Attribute):
                words.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                words.add(node.name)
            elif isinstance(node, ast.arg | ast.keyword) and node.arg:
                words.add(node.arg)
            elif isinstance(node, ast.alias):
                words.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                words.update(re.findall(r"[A-Za-z_]\w*", node.value))
    return frozenset(words)


def _has(obj: object, attr: str) -> bool:
    """``attr`` is an attribute of a module (or its submodule) or of a class (members, dataclass fields,
    annotations, or ``self.attr`` set in its methods)."""
    if hasattr(obj, attr):
        return True
    if isinstance(obj, types.ModuleType):
        try:
            importlib.import_module(f"{obj.__name__}.{attr}")
            return True
        except ImportError:
            return False
    if isinstance(obj, type):
        for klass in obj.__mro__:
            if attr in getattr(klass, "__annotations__", {}) or (
                    dataclasses.is_dataclass(klass) and attr in {f.name for f in dataclasses.fields(klass)}):
                return True
            try:
                source = inspect.getsource(klass)
            except (OSError, TypeError):
                continue
            if re.search(rf"\bself\.{re.escape(attr)}\s*(:[^=\n]*)?=[^=]", source):
                return True
    return False


def _resolve(chain: list[str], start: object) -> bool:
    obj = start
    for i, attr in enumerate(chain):
        if not _has(obj, attr):
            return False
        if i < len(chain) - 1:
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                if not isinstance(obj, types.ModuleType):
                    return True  # an instance attribute (``self.result = …``): its type is not followed
                obj = importlib.import_module(f"{obj.__name__}.{attr}")
            if not isinstance(obj, types.ModuleType | type):
                obj = type(obj)
    return True


#: How the doc names an object of the user's or of the package's (``store.read_only``, ``err.details()``).
INSTANCES = {
    "settings": "tokenhot_nb._config.Settings", "store": "tokenhot_nb.history._store.Store",
    "session": "tokenhot_nb._session.core.Session", "s": "tokenhot_nb._session.core.Session",
    "history": "tokenhot_nb.history._history.History", "entry": "tokenhot_nb.history._entry.HistoryEntry",
    "err": "tokenhot_nb.errors.TokenhotError", "result": "tokenhot_nb.results.image.ImageResult",
    "img": "tokenhot_nb.results.image.ImageResult", "call": "tokenhot_nb.families._types.HttpCall",
    "m": "tokenhot_nb.catalog.ModelInfo", "batch": "tokenhot_nb.results.batch.BatchResult",
    "task": "tokenhot_nb.results.task.VideoTask", "panel": "tokenhot_nb.widgets.chat.ChatPanel",
}


def _dotted_ok(name: str) -> bool:
    """``a.b.c`` resolves from a module of the package (full path, or its last part: ``_download.cut_short``), a
    class of the package (``Store.get``), an object named in ``INSTANCES``, or an importable outside module."""
    first, *rest = name.split(".")
    mods = _modules()
    starts: list[object] = []
    if f"tokenhot_nb.{name}" in mods or name in mods:
        return True
    starts += [m for n, m in mods.items() if n == first or n.endswith(f".{first}")]
    starts += [m.__dict__[first] for m in mods.values()
               if isinstance(m.__dict__.get(first), type) and m.__dict__[first].__module__.startswith("tokenhot_nb")]
    if first in INSTANCES:
        module, _, cls = INSTANCES[first].rpartition(".")
        starts.append(getattr(importlib.import_module(module), cls))
    if not starts:
        try:
            starts.append(importlib.import_module(first))
        except ImportError:
            return False
    return any(_resolve(rest, start) for start in starts)


def _path_ok(path: str, home: Path = PKG) -> bool:
    """``tokenhot_nb/x.py``, ``client/_lane.py``, ``families/video/``, ``_guard.py`` (a unique base name) or
    ``_session/inputs.fetch`` (a module path, then an attribute); a file of the doc's own folder (``home``:
    bench/README.md's ``bench_client.py``) too."""
    if path.startswith("tests/") or (home != PKG and (home / path).exists()):
        return (ROOT / path).exists() or (home / path).exists()
    rel = path.removeprefix("tokenhot_nb/")
    if rel == "":
        return True
    if rel.endswith("/"):
        return (PKG / rel).is_dir()
    if rel.endswith(".py"):
        return (PKG / rel).exists() or len(list(PKG.rglob(rel))) == 1
    module, _, attr = rel.rpartition(".")
    return (PKG / f"{module}.py").exists() and _has(importlib.import_module(
        "tokenhot_nb." + module.replace("/", ".")), attr)


#: Names in backticks that are not the package's and not findable as such, each with why.
NOT_OURS = {
    "malloc_trim": "glibc's",
    "warn_explicit": "warnings.warn_explicit, named bare",
    "DecompressRequestMiddleware": "new-api's (the relay's) middleware",
    "RequestOpenAI2ClaudeMessage": "new-api's OpenAI-to-Claude request conversion",
    "MAX_REQUEST_BODY_MB": "new-api's setting",
    "EventSource": "httpx-sse's class",
    "HTTPS_PROXY": "an environment variable",
    "NO_PROXY": "an environment variable",
    "SQLITE_FULL": "SQLite's result code",
    "IntegrityError": "sqlite3.IntegrityError",
    "data.quota": "a field of a video task's JSON",
    "data.data": "a field of a video task's JSON",
    "usage.cached_tokens": "a key of a row's usage",
    "usage.reserved": "a key of a row's usage",
    "usage.cache_write_tokens": "a key of a row's usage",
    "usage.cache_write_1h_tokens": "a key of a row's usage",
    "response.failed": "an event of the Responses API's stream",
    "response.usage": "a field of the Responses API's failed event",
    "prompt_tokens_details.cached_tokens": "a field of an OpenAI-shaped usage",
    "prompt_tokens_details.cache_creation_input_tokens": "a field of an OpenAI-shaped usage (some relays')",
    "cache_creation.ephemeral_1h_input_tokens": "a field of Anthropic's usage",
    "Pricing.CreateCacheRatio": "new-api's Go (model/pricing.go)",
    "ratio_setting.GetCreateCacheRatio": "new-api's Go (setting/ratio_setting/cache_ratio.go)",
    "GetCacheRatio": "new-api's Go (setting/ratio_setting/cache_ratio.go)",
    "claudeCacheCreation1hMultiplier": "new-api's Go (relay/helper/price.go)",
    "calculateTextQuotaSummary": "new-api's Go (service/text_quota.go)",
    "err.partial": "an error object's TokenhotError.partial (the images that arrived), named by a variable",
    "gemini.stream": "an endpoint name (catalogue)",
    "gemini.generate": "an endpoint name (catalogue)",
    "text.format": "a field of the Responses API's body",
    "AsyncOpenAI": "the openai SDK's",
    "InteractiveShell": "IPython's",
    "VmHWM": "a /proc/self/status field",
    "VmRSS": "a /proc/self/status field",
    "ru_maxrss": "resource.getrusage's field",
    "__init__": "Python's",
    "__cause__": "Python's",
    "__context__": "Python's",
}

#: The package's folders (``client/``, ``_session/``…) and ``tests/``: a token starting with one is a path.
_FOLDERS = {p.name for p in PKG.rglob("*") if p.is_dir() and (p / "__init__.py").exists()} | {"tests"}

_NAME = re.compile(r"^\.?([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(.*\))?(?: -> .*)?$")


def _names_to_check(markdown: str) -> list[str]:
    """Backticked Python names: dotted (``_lane.run``), underscored (``texts_of``) or CamelCase (``LiveTable``),
    with a call's arguments and a ``-> result`` dropped; and paths to modules (``client/_lane.py``)."""
    out = []
    for token in _backticked(markdown):
        first = token.split("/", 1)[0]
        if re.fullmatch(r"[\w/.]+", token) and (
                token.endswith(".py") or ("/" in token and (first in _FOLDERS or first == "tokenhot_nb"))):
            out.append(token)
            continue
        m = _NAME.match(token)
        if m and ("." in m.group(1) or "_" in m.group(1) or re.search(r"[a-z][A-Z]", m.group(1))):
            out.append(m.group(1))
    return out


def _notebook_markdown(path: Path) -> str:
    import json

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


#: Each documentation text whose backticked names are checked: (label, its text, its folder).
DOCS = [
    ("docs/architecture.md", ARCH, PKG),
    ("README.md", README, PKG),
    ("bench/README.md", (ROOT / "bench" / "README.md").read_text(encoding="utf-8").split("<!-- figures:begin -->")[0],
     ROOT / "bench"),
    *[(f"notebooks/{nb.name}", _notebook_markdown(nb), PKG) for nb in sorted((ROOT / "notebooks").glob("*.ipynb"))],
]


@pytest.mark.parametrize(("doc", "text", "home"), DOCS, ids=[d[0] for d in DOCS])
def test_names_exist(doc: str, text: str, home: Path) -> None:
    """Every Python name docs/architecture.md (the README, bench/README.md's prose, the notebooks' Markdown) writes in
    backticks is still in the package.

    The rule: a token in backticks (outside code blocks) is checked when it reads as a Python name, after
    dropping a leading ``.``, a call's ``(…)`` and a ``-> result``, and that name is dotted, holds an underscore
    or is CamelCase; a token with a ``/`` or ending ``.py`` is a path. Then:
    - a path names a file or folder under tokenhot_nb/ (or tests/), ``_session/inputs.fetch`` a module then
      one of its attributes;
    - a dotted name resolves attribute by attribute from a module of the package (its full dotted path, or its
      last part: ``recording.keep_unread``), a class of the package (``Store.get``), an object the doc names by
      its usual variable (``INSTANCES``: ``store.read_only``, ``err.details()``) or an outside module
      (``os.replace``); a class's attributes include dataclass fields, annotations and ``self.x =`` in it;
    - a bare name (``texts_of``, ``LiveTable``, a JSON field such as ``quota_type``) occurs in the package's code:
      an identifier, or a word of a string literal (wire fields, SQL names), never only a comment or docstring;
    - what is none of these (another program's name, a JSON path) is in ``NOT_OURS`` with why.
    """
    words = _code_words()
    missing = []
    for name in _names_to_check(text):
        if name in NOT_OURS:
            continue
        if "/" in name or name.endswith(".py"):
            ok = _path_ok(name, home)
        elif "." in name:
            ok = _dotted_ok(name)
        else:
            ok = name in words or hasattr(builtins, name)
        if not ok:
            missing.append(name)
    assert not missing, f"{doc} names what the package does not have: {missing}"


def test_not_ours_is_not_stale() -> None:
    """Every allow-listed name is still in a doc."""
    checked = {name for _, text, _ in DOCS for name in _names_to_check(text)}
    assert not set(NOT_OURS) - checked


# ---------------------------------------------------------------------------------------------------------------
# code blocks that run

def _all_blocks(markdown: str) -> list[tuple[int, str, str, str]]:
    """(line, section heading, language, code) of every fenced block, read fence by fence so a closing fence is
    never taken for an opening one."""
    out, heading, block, opened = [], "", None, (0, "")
    for number, line in enumerate(markdown.splitlines(), 1):
        if block is None and line.startswith("## "):
            heading = line[3:]
        if line.startswith("```"):
            if block is None:
                block, opened = [], (number + 1, line[3:].strip())
            else:
                out.append((opened[0], heading, opened[1], "".join(ln + "\n" for ln in block)))
                block = None
        elif block is not None:
            block.append(line)
    return out


def _blocks(markdown: str, lang: str) -> list[tuple[int, str, str]]:
    """(line, section heading, code) of every fenced block in ``lang`` ("" for a bare fence)."""
    return [(line, heading, code) for line, heading, language, code in _all_blocks(markdown) if language == lang]


#: Blocks run here: every Python block of the README (``test_readme_python_blocks_run``) and its magic cell
#: (``test_readme_magic_example_runs``), as (doc, section, language).
RUN = {("README.md", "*", "python"), ("README.md", "Magics", "")}

#: Every other block, by (doc, section, language), and why it is not run.
NOT_RUN = {
    ("README.md", "The two commands", "bash"): "shell: installs, the notebook and the suite (test_readme checks "
                                               "the commands and runs the quickstart command)",
    ("README.md", "Install", "bash"): "shell: pip installs",
    ("README.md", "History and replay", "bash"): "shell: record and replay a notebook of yours (my.ipynb)",
    ("README.md", "The simulator", "bash"): "shell: servers that run until stopped (their flags: "
                                            "test_the_simulator_flags_are_the_cli)",
    ("README.md", "Development", "bash"): "shell: the development commands (the suite itself among them)",
    ("README.md", "Development", ""): "the layout (test_readme_layout_names_every_part_of_the_package)",
    ("docs/architecture.md", "", ""): "the data-flow diagram",
    ("docs/architecture.md", "client/ (async core + sync facade)", "python"):
        "signature listing (test_the_other_listings_are_the_real_signatures; its imports: "
        "test_architecture_imports_work)",
    ("docs/architecture.md", "sim/ (offline simulator)", "python"):
        "signature listing with a shell line (python -m tokenhot_nb.sim …); its imports are run",
    ("docs/architecture.md", "families/ (pure)", "python"): "signature listing (checked with inspect.signature)",
    ("docs/architecture.md", "_session/, results/, history/ (the front door)", ""):
        "the _session/ module listing (test_architecture_listings_name_only_real_modules)",
    ("docs/architecture.md", "_session/, results/, history/ (the front door)", "python"):
        "the Session's signature listing (test_session_signatures_are_the_listed_ones)",
    ("docs/architecture.md", "history/ (store, API, export, replay lookup)", "python"):
        "signature listing (checked with inspect.signature); its imports are run",
    ("docs/architecture.md", "widgets/ (panels over the Session)", ""): "the widgets/ module listing",
    ("docs/architecture.md", "Safe rendering (`tokenhot_nb/_safe.py`)", "python"):
        "signature listing (checked with inspect.signature); its imports are run",
}


def test_every_block_is_run_or_says_why_not() -> None:
    """Each fenced block of README.md and docs/architecture.md is run by a test here or listed in NOT_RUN with
    why; NOT_RUN names only blocks that exist."""
    seen = set()
    for doc, text in (("README.md", README), ("docs/architecture.md", ARCH)):
        for _, section, lang, _ in _all_blocks(text):
            key = (doc, section, lang)
            seen.add(key)
            assert (doc, "*", lang) in RUN or key in RUN or key in NOT_RUN, f"{key}: run it, or say in NOT_RUN why not"
    assert not set(NOT_RUN) - seen, f"NOT_RUN names blocks that are gone: {sorted(set(NOT_RUN) - seen)}"


_HARNESS = r'''
import json, sys, traceback
blocks = json.loads(sys.stdin.read())
ns = {}
server = None
for line, section, code in blocks:
    if "127.0.0.1:8787" in code:  # the simulator section: point its session at a simulator served here
        from tokenhot_nb.sim import serve
        server = serve("127.0.0.1", 0)
        code = code.replace("http://127.0.0.1:8787", server.url)
        code += "\nassert s.chat('ping', stream=False).text\n"
    try:
        exec(compile(code, f"README.md line {line} ({section})", "exec"), ns)
    except BaseException:
        print(f"FAILED: the block at README.md line {line} ({section})")
        traceback.print_exc()
        sys.exit(1)
    print(f"ran: line {line} ({section})", flush=True)
if server is not None:
    server.stop()
'''


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    """Every README Python block runs offline, as written, in order (later ones use the quickstart's ``s`` and
    ``img``): no key, ``TOKENHOT_MODE=offline``, a temp store and working directory, in a fresh interpreter."""
    import json
    import os
    import subprocess
    import sys

    blocks = _blocks(README, "python")
    assert len(blocks) >= 5
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHOT_")}
    env.update(TOKENHOT_MODE="offline", TOKENHOT_STORE=str(tmp_path / "store"),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _HARNESS], input=json.dumps(blocks), capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:] + "\n--- stdout:\n" + proc.stdout[-2000:]
    assert proc.stdout.count("ran: ") == len(blocks)


def test_architecture_imports_work() -> None:
    """The ``from tokenhot_nb… import …`` lines of docs/architecture.md's listings import what they name."""
    lines = [ln.split("#", 1)[0].strip() for _, _, code in _blocks(ARCH, "python") for ln in code.splitlines()
             if ln.startswith("from tokenhot_nb")]
    assert len(lines) >= 4
    for ln in lines:
        exec(ln, {})


# ---------------------------------------------------------------------------------------------------------------
# the module map and the layout

def _module_files() -> set[str]:
    return {str(f.relative_to(PKG)) for f in PKG.rglob("*.py")}


def test_module_map_lists_every_module() -> None:
    """docs/architecture.md's module map has one row per module file under tokenhot_nb/, and no other row."""
    section = ARCH.split("## Module map", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)
    assert len(rows) == len(set(rows)), "a module is listed twice"
    listed = set(rows)
    assert not _module_files() - listed, f"missing from the module map: {sorted(_module_files() - listed)}"
    assert not listed - _module_files(), f"the module map lists what does not exist: {sorted(listed - _module_files())}"


def test_architecture_listings_name_only_real_modules() -> None:
    """The per-package listings (``_session/core.py   the Session class…``, ``widgets/_panel.py …``) name real
    files, and the ``_session/`` one, "one job a module", names every module of ``_session/``."""
    named = set()
    for _, _, code in _blocks(ARCH, ""):
        for line in code.splitlines():
            named.update(re.findall(r"^((?:_session|widgets)/[\w]+\.py)", line))
            if line.startswith("widgets/") and " " in line:  # widgets/image.py chat.py video.py … the panels
                head = line.split("   ", 1)[0].split()
                named.update(f"widgets/{w}" for w in head[1:] if w.endswith(".py"))
    assert named, "the listings were not found"
    assert not named - _module_files(), sorted(named - _module_files())
    session = {f for f in _module_files() if f.startswith("_session/")}
    assert not session - named, f"the _session/ listing misses {sorted(session - named)}"


def test_readme_layout_names_every_part_of_the_package() -> None:
    """The README's layout block names every top-level module and subpackage of tokenhot_nb/ (a subpackage as
    ``name/``; its modules are architecture.md's business) and nothing that does not exist; its other folders
    exist too. The names are the first column of the lines indented by two spaces under ``tokenhot_nb/``."""
    block = README.split("Layout (see", 1)[1].split("```", 2)[1]
    lines = block.splitlines()
    start = lines.index("tokenhot_nb/")
    named = set()
    for line in lines[start + 1:]:
        if not line.startswith(" "):
            break
        if line.startswith("  ") and not line.startswith("   "):
            column = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            named.update(part.strip() for part in column.split(","))
    parts = ({p.name + "/" for p in PKG.iterdir() if (p / "__init__.py").exists()}
             | {p.name for p in PKG.glob("*.py")})
    assert not parts - named, f"the README's layout misses {sorted(parts - named)}"
    assert not named - parts, f"the README's layout names what does not exist: {sorted(named - parts)}"
    for line in lines[:start] + lines[start + 1:]:
        if line and not line.startswith(" "):
            assert (ROOT / line.split()[0]).exists(), line


# ---------------------------------------------------------------------------------------------------------------
# the Session's signatures

def _split_top(text: str) -> list[str]:
    """``a, b=(1, 2), c`` → its top-level parts."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def _listed_signatures() -> dict[str, list[list[str]]]:
    """{method: [its parameters as listed, once per listing]} from architecture.md's Session block
    (``s.NAME(…)`` and ``tokenhot_nb.Session(…)`` as ``__init__``), comments dropped."""
    block = next(code for _, _, code in _blocks(ARCH, "python") if code.startswith("s = tokenhot_nb.Session("))
    text = "\n".join(line.split("#", 1)[0] for line in block.splitlines())
    found: dict[str, list[list[str]]] = {}
    for m in re.finditer(r"(?:\bs\.(\w+)|tokenhot_nb\.Session)\(", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        found.setdefault(m.group(1) or "__init__", []).append(_split_top(text[m.end():i - 1]))
    return found


def _real_params(sig: inspect.Signature) -> list[str]:
    """A signature's parameters as a listing writes them: ``*`` before the keyword-only ones, ``**options``;
    ``self`` and private ones (``_bar``) left out."""
    real: list[str] = []
    for p in sig.parameters.values():
        if p.name == "self" or p.name.startswith("_"):
            continue
        if p.kind is p.KEYWORD_ONLY and not any(r.startswith("*") for r in real):
            real.append("*")
        real.append({p.VAR_KEYWORD: "**", p.VAR_POSITIONAL: "*"}.get(p.kind, "") + p.name)
    return real


def _listing_problems(label: str, params: list[str], sig: inspect.Signature) -> list[str]:
    """What a listed call's parameters get wrong: the names in order (a listing ending in ``...`` only the first
    ones), ``*`` and ``**`` where they are, and every default written as a Python literal."""
    partial = bool(params) and params[-1] == "..."
    written = [re.match(r"\*{0,2}\w*", p).group(0) for p in params if p != "..."]  # type: ignore[union-attr]
    real = _real_params(sig)
    if (real[:len(written)] if partial else real) != written:
        return [f"{label}: the doc lists {written}{' …' if partial else ''}, the code takes {real}"]
    problems = []
    for p in params:
        if "=" in p and not p.startswith("*"):
            pname, default = re.match(r"(\w+)[^=]*=\s*(.+)$", p).groups()  # type: ignore[union-attr]
            try:
                value = ast.literal_eval(default)
            except (ValueError, SyntaxError):
                continue
            if sig.parameters[pname].default != value:
                problems.append(f"{label}({pname}=…): listed {default}, the default is "
                                f"{sig.parameters[pname].default!r}")
    return problems


def test_session_signatures_are_the_listed_ones() -> None:
    """Each ``s.method(…)`` docs/architecture.md lists has the method's parameters: the same names in the same
    order, ``*`` where keyword-only ones start, ``**options`` where it takes them, and the defaults it writes
    (those that are Python literals). ``prompt | list[prompt]`` or ``texts: str | …`` is the parameter ``prompt``
    or ``texts``; private parameters (``_bar``) are not the API's."""
    from tokenhot_nb import Session

    listed = _listed_signatures()
    assert {"__init__", "image", "edit", "video", "resume", "chat", "compare", "embed"} <= set(listed)
    problems = [problem for name, listings in listed.items() for params in listings
                for problem in _listing_problems(f"s.{name}", params, inspect.signature(getattr(Session, name)))]
    assert not problems, "\n".join(problems)


#: How the other listings name what they call: ``await client.send(…)``, ``chat.build(…)``, ``store.get(…)``.
LISTING_OBJECTS = {
    "client": "tokenhot_nb.client.Client", "store": "tokenhot_nb.history.Store",
    "chat": "tokenhot_nb.families.chat", "images": "tokenhot_nb.families.images",
    "video": "tokenhot_nb.families.video", "audio": "tokenhot_nb.families.audio",
    "embeddings": "tokenhot_nb.families.embeddings", "_loop": "tokenhot_nb.client._loop",
}


def test_the_other_listings_are_the_real_signatures() -> None:
    """The client, families, history and safe-rendering listings of docs/architecture.md: each call written
    ``obj.name(…)`` (``LISTING_OBJECTS``) or ``name(…)`` imported by the block's own ``from … import`` line
    takes the parameters listed, as :func:`_listing_problems` checks them; a class's listing
    (``Store(root)``) names its first parameters, and a call with values (``serve("127.0.0.1", 0)``) is an
    example, not checked."""
    problems, checked = [], 0
    for _, section, code in _blocks(ARCH, "python"):
        if code.startswith("s = tokenhot_nb.Session("):
            continue
        text = "\n".join(line.split("#", 1)[0] for line in code.splitlines())
        imported = {}
        for m in re.finditer(r"^from (\S+) import (.+)$", text, flags=re.M):
            module = importlib.import_module(m.group(1))
            imported.update({n.strip(): getattr(module, n.strip()) for n in m.group(2).split(",")})
        for m in re.finditer(r"(?<![\w.])(?:(\w+)\.)?(\w+)\(", text):
            base, name = m.groups()
            if base in LISTING_OBJECTS:
                module, _, attr = LISTING_OBJECTS[base].rpartition(".")
                owner = getattr(importlib.import_module(module), attr) if base in ("client", "store") else (
                    importlib.import_module(LISTING_OBJECTS[base]))
                target = getattr(owner, name, None)
                assert target is not None, f"{section}: {base}.{name} does not exist"
            elif base is None and name in imported and callable(imported[name]):
                target = imported[name]
            else:
                continue
            depth, i = 1, m.end()
            while depth:
                depth += {"(": 1, ")": -1}.get(text[i], 0)
                i += 1
            params = _split_top(text[m.end():i - 1])
            if any(not re.match(r"\*{0,2}[A-Za-z_]|\*$|\.\.\.$", p) for p in params):
                continue  # a call with values (``serve("127.0.0.1", 0, …)``): an example, not a signature
            if isinstance(target, type):  # ``Store(root)``: how one is made, not every option
                params = [*params, "..."] if params[-1:] != ["..."] else params
            sig = inspect.signature(target.__init__ if isinstance(target, type) else target)
            problems += _listing_problems(f"{base + '.' if base else ''}{name}", params, sig)
            checked += 1
    assert checked >= 30
    assert not problems, "\n".join(problems)


def test_every_async_twin_is_listed() -> None:
    """The listing's "async twins" line names every ``a…`` twin of the Session, and each takes its sync
    method's parameters."""
    from tokenhot_nb import Session

    block = next(code for _, _, code in _blocks(ARCH, "python") if code.startswith("s = tokenhot_nb.Session("))
    twins_text = block.split("# async twins:", 1)[1].split("(", 1)[0]
    listed = set(re.findall(r"s\.(a\w+)", twins_text))
    real = {n for n in dir(Session) if n.startswith("a") and not n.startswith("_") and callable(getattr(Session, n))
            and n[1:] in dir(Session) and inspect.iscoroutinefunction(getattr(Session, n))}
    assert listed == real, f"listed {sorted(listed)}, the Session has {sorted(real)}"
    for twin in real:
        public = [p for p in inspect.signature(getattr(Session, twin)).parameters if not p.startswith("_")]
        assert public == list(inspect.signature(getattr(Session, twin[1:])).parameters), twin


_MAGIC_HARNESS = r'''
import json, sys
from IPython.testing.globalipapp import start_ipython
import tokenhot_nb
cell, setup = json.loads(sys.stdin.read())
ip = start_ipython()
ip.run_line_magic("load_ext", "tokenhot_nb")
assert ip.run_cell(setup).success
result = ip.run_cell(cell)
rows = [(e.kind, e.model, e.params.get("prompt"), e.params.get("size"), e.params.get("n"), e.status)
        for e in tokenhot_nb.session().history]
print(json.dumps({"ok": result.success, "rows": rows, "pair": len(ip.user_ns["pair"])}))
'''


def test_readme_magic_example_runs(tmp_path: Path) -> None:
    """The README's ``%%th_image`` cell runs offline as written, after the cell it says sets ``animal``."""
    import json
    import os
    import subprocess
    import sys

    magics = README.split("## Magics", 1)[1].split("\n## ", 1)[0]
    (_, _, cell), = _blocks(magics, "")
    setup = re.search(r"after one that set `([^`]+)`", magics).group(1)  # type: ignore[union-attr]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHOT_")}
    env.update(TOKENHOT_MODE="offline", TOKENHOT_STORE=str(tmp_path / "store"),
               PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", _MAGIC_HARNESS], input=json.dumps([cell, setup]),
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"ok": True, "pair": 2, "rows": [
        ["image", "gpt-image-2", "A fox reading a newspaper in a café", "1536x1024", 2, "ok"]]}, out
