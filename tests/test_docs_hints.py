"""What the package tells a user to do works when done literally: the ways it names to set a key and to go
live, the notebooks' install commands, every ``%th_…`` command a message, docstring, help text, README or notebook
names (a line or cell magic as written, taking each option given), every ``entry.x`` / ``session.x`` a message
names, and what ``help()`` and ``--help`` say."""

from __future__ import annotations

import ast
import functools
import json
import re
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

import tokenhot_nb
from tokenhot_nb.errors import MissingKeyError
from tokenhot_nb.magics import _args

ip = support.ip  # fixture
KEY = "sk-docshint-0123456789abcdefghij"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The shared session as a newcomer gets it: no key and no mode set, so offline (a loopback port that
    refuses, should anything try the network)."""
    for var in ("TOKENHOT_API_KEY", "TOKENHOT_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("TOKENHOT_BASE_URL", "http://127.0.0.1:9")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the once-a-process notice that it runs offline)
        s = tokenhot_nb.session(reset=True)
    yield s
    tokenhot_nb.session(reset=True).close()


def th_config(ip: Any, line: str) -> str:
    with capture_output() as cap:
        res = ip.run_line_magic("th_config", line)
    assert "Traceback" not in cap.stdout + cap.stderr, cap.stderr
    assert res is not None, cap.stdout  # (the settings table: the line was taken)
    return cap.stdout


def test_the_missing_key_fix_keeps_the_key_out_of_the_notebook() -> None:
    """It said "Set it with `%env TOKENHOT_API_KEY=sk-…`": %env prints ``env: TOKENHOT_API_KEY=<the key>`` into
    the cell's output (and the cell's source holds it), and a session already made does not read the variable
    again, so the next call failed the same way. Every %th_config line it names parses."""
    hint = MissingKeyError().hint
    assert "%env" not in hint and "sk-" not in hint, hint
    commands = [part.split("`")[0] for part in hint.split("`%th_config ")[1:]]
    assert commands, hint
    for line in commands:
        _args.parser("th_config").parse_args(shlex.split(line))


def test_no_fix_for_a_missing_key_puts_the_key_in_a_cell(ip: Any, no_key: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``%th_config --key-from-env MY_VAR`` with MY_VAR unset said to set it "with os.environ": a key assigned in
    a cell is in the notebook's source (README: "never in a cell")."""
    from tokenhot_nb.magics import _config_magic

    monkeypatch.delenv("TOKENHOT_DOCS_HINT_UNSET", raising=False)
    with capture_output(display=True) as cap:
        ip.run_line_magic("th_config", "--key-from-env TOKENHOT_DOCS_HINT_UNSET")
    shown = str(cap.outputs[-1].data["text/plain"])
    assert "is not set" in shown and "Fix:" in shown, shown
    for fix in (shown, _config_magic.KEY_NO_PROMPT_FIX, _config_magic.KEY_AS_VAR_FIX, MissingKeyError().hint):
        assert "os.environ" not in fix and "%env" not in fix, fix


def test_a_key_set_on_an_offline_session_says_it_is_still_offline(ip: Any, no_key: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """%th_config carries the mode over, so a key entered in a session that ran offline for want of one left it
    offline, while the cell said only "API key set": the next call answered from the simulator. It says so, and
    the line it names makes the session live with that key."""
    assert no_key.mode == "offline"
    monkeypatch.setenv("TOKENHOT_API_KEY", KEY)
    said = th_config(ip, "--key-from-env")
    assert "offline" in said and "%th_config --mode live" in said and KEY not in said, said
    assert tokenhot_nb.session().settings.api_key.get() == KEY
    command = said.split("%th_config ", 1)[1].split(" calls")[0]
    said = th_config(ip, command)
    s = tokenhot_nb.session()
    assert s.mode == "live" and s.settings.api_key.get() == KEY and "offline" not in said
    said = th_config(ip, "--key-from-env")  # a live session: nothing more to say
    assert said.strip() == "API key set for this session (hidden).", said
    said = th_config(ip, "--mode offline --key-from-env")  # offline as asked in the same line: nor here
    assert said.strip() == "API key set for this session (hidden).", said


def test_the_offline_notice_names_a_line_that_makes_the_session_live(monkeypatch: pytest.MonkeyPatch) -> None:
    """It said to set TOKENHOT_API_KEY, which a notebook's session, already made, does not read again."""
    from tokenhot_nb import _config

    for var in ("TOKENHOT_API_KEY", "TOKENHOT_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_config, "_notice_shown", False)
    with pytest.warns(UserWarning) as record:
        _config.Settings.from_env()
    notice = str(record[0].message)
    line = notice.split("%th_config ", 1)[1].rstrip(".")
    parsed = _args.parser("th_config").parse_args(shlex.split(line))
    assert parsed.mode == "live" and parsed.key, notice


def _pip_installs(text: str) -> set[str]:
    """What each ``pip install`` line of a text installs (its words up to a comment or ``&&``)."""
    found = set()
    for line in text.splitlines():
        _, sep, rest = line.partition("pip install ")
        if sep:
            found.add(" ".join(rest.split("#")[0].split("&&")[0].split()))
    return found


def test_the_notebooks_install_the_package_as_the_readme_does() -> None:
    """The quickstart said ``pip install tokenhot-nb``: the package is installed from a checkout (README's
    Install), so that fetched nothing, or whatever a registry holds under that name. (Another tool a notebook
    names, ``pip install voila``, is that tool's own.)"""
    readme = _pip_installs((ROOT / "README.md").read_text(encoding="utf-8"))
    assert '-e ".[notebook]"' in readme, readme
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            named = {spec for spec in _pip_installs("".join(cell["source"]))
                     if "tokenhot" in spec or spec.startswith(("-e", ".", '"."', '".['))}
            assert named <= readme, f"{path.name} installs {sorted(named - readme)}; README gives {sorted(readme)}"


#: A magic command as text names it: ``%th_config --budget AMOUNT``, ``%%th_chat --cache``. It ends where the text
#: around it goes on: a backtick or quote, a bracket, ``;`` or ``,``, a full stop, or the end of the line.
_COMMAND = re.compile(r"(?<![%\w])(%%?)(th_\w+)((?:[ ]+[^\s`'\"(){}\[\];,]+)*)")


def _commands(text: str) -> list[tuple[str, str, list[str]]]:
    """(``%`` or ``%%``, magic, its options) of each magic command named in ``text``."""
    found = []
    for m in _COMMAND.finditer(text):
        words = [w.rstrip(".:") for w in m.group(3).split()]
        options = [w.split("=")[0] for w in words if re.fullmatch(r"--?[A-Za-z][\w-]*(=.*)?", w)]
        found.append((m.group(1), m.group(2), options))
    return found


@functools.cache
def _trees() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted((ROOT / "tokenhot_nb").rglob("*.py"))]


def _package_texts() -> list[tuple[str, str]]:
    """(where, text) of every string of the package: messages, hints, docstrings, help texts (an argparse
    ``help=`` writes ``%`` as ``%%``)."""
    out = []
    for path, tree in _trees():
        helps = {id(k.value) for node in ast.walk(tree) if isinstance(node, ast.Call)
                 for k in node.keywords if k.arg == "help"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "th_" in node.value:
                text = node.value.replace("%%", "%") if id(node) in helps else node.value
                out.append((f"{path.relative_to(ROOT)}:{node.lineno}", text))
    return out


def _doc_texts() -> list[tuple[str, str]]:
    out = [(name, (ROOT / name).read_text(encoding="utf-8")) for name in ("README.md", "docs/architecture.md")]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
            out.append((f"{path.name} cell {i}", "".join(cell["source"])))
    return out


def test_every_magic_command_named_anywhere_is_one_the_magic_takes() -> None:
    """Each ``%th_…`` / ``%%th_…`` in a message, hint, docstring, help text, README, architecture.md or notebook
    is a line / cell magic as written, and each option it gives is one of that magic's: a renamed option, or a
    cell magic written as a line one, fails here rather than in the user's cell."""
    from tokenhot_nb.magics._magics import TokenhotMagics

    kinds = {"%": set(TokenhotMagics.magics["line"]), "%%": set(TokenhotMagics.magics["cell"])}
    wrong = []
    checked = 0
    for where, text in _package_texts() + _doc_texts():
        for percent, magic, options in _commands(text):
            if magic not in kinds[percent]:
                wrong.append(f"{where}: {percent}{magic} is no {'cell' if percent == '%%' else 'line'} magic")
                continue
            known = _args.parser(magic)._option_string_actions
            wrong += [f"{where}: {percent}{magic} has no option {o}" for o in options if o not in known]
            checked += 1
    assert checked > 100, checked
    assert not wrong, "\n".join(wrong)


def test_the_command_reader_sees_a_wrong_option_and_a_wrong_kind() -> None:
    assert _commands("run `%th_config --budgt 2` or %%th_image -n 2.") == [
        ("%", "th_config", ["--budgt"]), ("%%", "th_image", ["-n"])]
    assert _commands('say "%th_history --kind video." then') == [("%", "th_history", ["--kind"])]


def test_help_session_lists_the_arguments_it_takes() -> None:
    """``help(Session)`` opened on a signature without ``defaults=`` and ``budget=``, which it takes (and the
    docstring then told of ``defaults`` as if it were one of the ``**settings``)."""
    import inspect

    doc = inspect.getdoc(tokenhot_nb.Session) or ""
    listed = doc.split("``Session(", 1)[1].split(")``", 1)[0]
    named = [word.split("=")[0].strip(" *\n") for word in listed.split(",")]
    real = [f"**{p.name}" if p.kind is p.VAR_KEYWORD else p.name
            for p in inspect.signature(tokenhot_nb.Session).parameters.values()]
    assert [n for n in named if n] == [r.strip("*") for r in real], (named, real)


#: How messages name the user's objects, and the classes each name may be (``result.top``: a RerankResult's).
_OBJECTS = {
    "s": ("tokenhot_nb._session.core", "Session"), "session": ("tokenhot_nb._session.core", "Session"),
    "entry": ("tokenhot_nb.history._entry", "HistoryEntry"), "history": ("tokenhot_nb.history._history", "History"),
    "task": ("tokenhot_nb.results.task", "VideoTask"), "batch": ("tokenhot_nb.results.batch", "BatchResult"),
}
_NAMED = re.compile(r"(?<![\w.])((?:s|session|result|entry|err|history|task|batch)(?:\.[A-Za-z_]\w*)+)")
#: File names a message gives (``history.jsonl``, ``history.sqlite.broken``), not attributes.
_FILE_SUFFIXES = {"json", "jsonl", "sqlite", "broken"}


def _classes(first: str) -> list[type]:
    import importlib

    import tokenhot_nb.errors as errors
    import tokenhot_nb.results as results

    if first == "result":
        return [c for c in vars(results).values() if isinstance(c, type) and c.__module__.startswith("tokenhot_nb")]
    if first == "err":
        return [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, BaseException)]
    module, name = _OBJECTS[first]
    return [getattr(importlib.import_module(module), name)]


@functools.cache
def _source(module: str) -> str:
    import importlib
    import inspect

    return inspect.getsource(importlib.import_module(module))


def _has(cls: type, attr: str) -> bool:
    """An instance of ``cls`` has ``attr``: a class member, an annotation, or ``self.attr =`` in its module's code
    (where the class or a base sets it)."""
    if hasattr(cls, attr):
        return True
    return any(attr in getattr(k, "__annotations__", {})
               or re.search(rf"\bself\.{attr}\s*(:[^=\n]*)?=[^=]", _source(k.__module__))
               for k in cls.__mro__ if k.__module__.startswith("tokenhot_nb"))


def _resolves(cls: type, chain: list[str]) -> bool:
    """``chain`` is reachable from an instance of ``cls``: each name an attribute (a method, property, field or
    ``self.x =``), followed through a property's return annotation; past what cannot be typed, the rest is
    taken as said."""
    import inspect
    import typing

    for i, attr in enumerate(chain):
        if not _has(cls, attr):
            return False
        member = inspect.getattr_static(cls, attr, None)
        if not isinstance(member, property) or i == len(chain) - 1:
            return True
        try:
            hint = typing.get_type_hints(member.fget).get("return")
        except Exception:
            return True
        if not isinstance(hint, type):
            return True
        cls = hint
    return True


def test_every_object_a_message_names_has_what_it_says() -> None:
    """A fix said "history: entry.task_id": a HistoryEntry has none (the id is ``entry.response['task_id']``), so
    the line it suggested raised AttributeError. Every ``entry.x``, ``session.x``, ``result.x``, ``err.x``… in a
    message or hint of the package (docstrings aside) names an attribute that object has."""
    named: dict[str, str] = {}  # each name once, where it is first said
    for path, tree in _trees():
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docstrings:
                continue
            for m in _NAMED.finditer(node.value):
                if not set(m.group(1).split(".")) & _FILE_SUFFIXES:
                    named.setdefault(m.group(1), f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(named) > 40, named
    wrong = [f"{where}: {name}" for name, where in named.items()
             if not any(_resolves(cls, name.split(".")[1:]) for cls in _classes(name.split(".")[0]))]
    assert not wrong, "\n".join(wrong)


def test_the_layouts_name_every_result_class() -> None:
    """README's layout listed the results without RerankResult, which ``s.rerank`` returns."""
    import tokenhot_nb.results as results

    public = {name for name in dir(results) if name.endswith(("Result", "Task")) and name != "Result"}
    for doc in ("README.md", "docs/architecture.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        # (the results/ line of the layout block and the lines under it that carry it on)
        block = re.search(r"^ *results/ .*\n(?:^ {10,}\S.*\n)*", text, flags=re.M).group(0)  # type: ignore[union-attr]
        listed = set(re.findall(r"\b[A-Z]\w+", block))
        assert public <= listed, f"{doc}'s layout misses {sorted(public - listed)}"


def test_every_magic_option_says_what_it_does_in_help() -> None:
    """``--help`` listed ``--temperature TEMPERATURE``, ``--max-tokens N``, ``--seed SEED``, ``--voice VOICE``,
    ``--duration SECONDS``, ``--mode``, ``--base-url URL``, ``--kind``, ``--status``, ``--format`` and the
    SOURCE / NAME words with nothing after them: the README's table was the only place that said."""
    from tokenhot_nb.magics._magics import TokenhotMagics

    bare = []
    for magic in sorted(set(TokenhotMagics.magics["line"]) | set(TokenhotMagics.magics["cell"])):
        for action in _args.parser(magic)._actions:
            if not (action.help or "").strip():
                bare.append(f"{magic}: {'/'.join(action.option_strings) or action.metavar or action.dest}")
    assert not bare, bare


def test_a_count_below_the_range_is_not_told_to_go_lower(ip: Any, no_key: Any) -> None:
    """``n=0`` got "makes 1 to 15 image(s) per call; got n=0. Lower n, …": lowering it fails again. The fix names
    the range, in Python and with the magic's -n."""
    from tokenhot_nb.errors import UnsupportedOptionError

    with pytest.raises(UnsupportedOptionError) as info:
        no_key.image("a fox", n=0)
    assert "Lower" not in info.value.hint and "n=1 to 15" in info.value.hint, info.value.hint
    with pytest.raises(UnsupportedOptionError) as info:
        no_key.image("a fox", n=16)
    assert info.value.hint.startswith("Lower n"), info.value.hint
    with capture_output(display=True) as cap:
        ip.run_cell("%%th_image -n 0\na fox")
    shown = str(cap.outputs[-1].data["text/plain"])
    assert "Fix: Give -n 1 to 15" in shown and "Lower" not in shown, shown


def test_session_threads_lists_the_conversations_the_hints_send_you_to(tmp_path: Path) -> None:
    """"thread='study'; session.threads lists them": as a cell's value it showed ``<…Threads object at 0x…>``,
    and ``names()`` knew only the threads this kernel had used, none of the store's after a restart."""
    store = tmp_path / "store"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = tokenhot_nb.Session(store=store, mode="offline")
        first.chat("hi", stream=False)
        first.chat("and Kyoto?", thread="travel", stream=False)
        first.chat("a one-off", thread=False, stream=False)
        first.close()
        later = tokenhot_nb.Session(store=store, mode="offline")  # a new kernel on the same store
    try:
        assert later.threads.names() == ["default", "travel"]
        shown = repr(later.threads)
        assert "'default', 'travel'" in shown and "object at" not in shown, shown
        assert later.threads["travel"].turns == 1
    finally:
        later.close()


def test_the_models_the_hints_name_show_as_a_table() -> None:
    """Hints say "tokenhot_nb.models() lists them" / "pick a chat model: tokenhot_nb.models('chat')": as a cell's
    value that was a plain list, tens of KB of ModelInfo reprs. It is still a list, shown as the models table."""
    from IPython.lib.pretty import pretty

    import tokenhot_nb

    every = tokenhot_nb.models()
    assert isinstance(every, list) and every == list(every) and len(every) > 40
    shown = pretty(every)
    assert "ModelInfo(" not in shown and len(shown) < 30_000, shown[:300]
    assert shown.splitlines()[1].split()[:3] == ["id", "kind", "family"] and "gpt-image-2" in shown
    chat = tokenhot_nb.models("chat")
    assert "text/html" in chat._repr_mimebundle_() and {m.kind for m in chat} == {"chat"}
