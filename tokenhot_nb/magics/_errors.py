"""One short message and the fix for a failed call, instead of a traceback.

The full exception stays inspectable as ``tokenhot_nb.magics.last_error`` (and, for calls the
session made, in the history entry); ``%th_config --last-error`` prints it in full.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from .._safe import text_html as escape
from .._session.checks import with_article
from .._warn import for_magic_user
from ..errors import (
    FALLBACK_FIX,
    TITLES,
    InputError,
    UnsupportedOptionError,
    error_parts,
    full_report,
    one_line,
    title_for,
)

DETAILS = "Details: tokenhot_nb.magics.last_error or %th_config --last-error."
INTERRUPTED = "Interrupted."
_STYLE = (
    "border-left:4px solid #d9534f;background:rgba(217,83,79,.08);padding:6px 10px;"
    "margin:2px 0;font-family:var(--jp-ui-font-family,sans-serif);font-size:13px"
)


def parts(err: BaseException, magic: str | None = None, model_kind: str | None = None) -> tuple[str, str, str]:
    """(title, message, fix) for ``err``, all redacted: the error tree's own short form, its fix said the way
    ``magic`` takes it (``-x size=…``, ``--temperature``, ``%%th_chat``) when it was that magic's call.

    ``model_kind``: the kind of the model the magic was told to use (``-m``), when the catalogue knows it."""
    title, message, fix = error_parts(err)
    if magic is None:
        return title, message, fix
    message, fix = MagicPhrasing(magic).say(err, message, fix, model_kind)
    # what to do on the session (session.resume(3), a setting %th_config has no option for): on the magics' own,
    # which has no name there
    return title, _task_said(err, for_magic_user(message)), _task_said(err, for_magic_user(fix))


#: ``task.wait(…)`` / ``task.status()`` in a message: the handle of a Python wait.
_ON_TASK = re.compile(r"(?<![\w.])task\.(?=(?:wait|status|result)\()")


def _task_said(err: BaseException, text: str) -> str:
    """``text`` with ``task.wait(…)`` said on the task of the wait that ended (``err.partial``): as the magic user
    holds it (``clip.wait(…)``, the ``-o NAME`` of a ``--no-wait`` task), else found by its id
    (``tokenhot_nb.session().resume('…').wait(…)``): a magic's wait hands its user no ``task`` variable."""
    task = getattr(err, "partial", None)
    held, task_id = getattr(task, "_held_as", None), getattr(task, "task_id", None)
    if isinstance(held, str) and held != "task" and held.isidentifier():
        return _ON_TASK.sub(f"{held}.", text)
    if not isinstance(task_id, str):
        return text
    return _ON_TASK.sub(lambda _: f"tokenhot_nb.session().resume({task_id!r}).", text)


#: The magic that does each kind of call.
KIND_MAGIC = {"image": "%%th_image", "edit": "%%th_image --edit SOURCE", "video": "%%th_video",
              "audio": "%%th_audio", "speak": "%%th_audio", "chat": "%%th_chat", "transcribe": "%th_transcribe",
              "translate": "%th_translate", "embed": "%%th_embed", "rerank": "%%th_rerank QUERY"}
#: The Session methods the magics make (``image()`` in a message, ``embed(…)`` in a fix: the magic's call).
_KINDS = "image|edit|chat|video|speak|transcribe|translate|embed|rerank"
#: The kind of call each magic makes, and the method name Python messages use for it.
MAGIC_KIND = {"th_image": "image", "th_chat": "chat", "th_video": "video", "th_audio": "audio",
              "th_transcribe": "audio", "th_translate": "audio", "th_embed": "embed", "th_rerank": "rerank"}
#: A Python fix → the magic's, where no option is involved (a batch is a list of prompts in Python).
_PHRASES = (
    (re.compile(r"pass a list of prompts / call several times"), "run the cell again"),
    (re.compile(r"\bLower n\b"), "Lower -n"),
    (re.compile(r" \(or pass None\)"), ""),  # (a magic's option is left out, never given None)
    (re.compile(r"\bnew_thread=True\b"), "--new"),
    (re.compile(r"kept in \.result\.text"), "kept in _ (and -o NAME)"),  # (a magic's paid answer that did not fit)
    # (a broken stream's: the error the magic hands out is tokenhot_nb.magics.last_error)
    (re.compile(r"kept in \.partial_text"), "shown above and kept in tokenhot_nb.magics.last_error.partial_text"),
    (re.compile(r"Session\(store='([^']*)'\)"), r"%th_config --store \1"),  # (a store that cannot be opened)
    (re.compile(r"\s*/\s*raw=\{\.\.\.\}"), " (or -x raw='{…}' for the whole body)"),
    (re.compile(r"extra=\{\.\.\.\}"), """-x extra='{"KEY": VALUE}'"""),
    (re.compile(r"`?tokenhot_nb\.model\(name\)\.capabilities`?"), "%th_models NAME"),
    (re.compile(r"tokenhot_nb\.models\('(\w+)'\)"), r"%th_models --kind \1"),
    (re.compile(r"tokenhot_nb\.models\(\)"), "%th_models"),
    (re.compile(r"(?<![\w.])(?:session|s)\.history\.filter\(kind='(\w+)'\)"), r"%th_history --kind \1"),
    (re.compile(r"(?:session|s)\.(\w+)\((?:[^()]|\([^()]*\))*\)"), lambda m: KIND_MAGIC.get(m.group(1), m.group(0))),
)
#: ``mode='offline'`` in a Python fix: the session's mode, which a magic sets with %th_config.
_MODE = re.compile(r"(?<![\w.(-])mode='(live|offline|replay)'")
#: ``extra={'size': …}`` in a Python fix.
_EXTRA_FIELD = re.compile(r"extra=\{'(\w+)': …\}")
#: ``name=`` / ``name=value`` / ``name=…`` / ``name=[…]`` in a Python fix (``name`` is then looked up among the
#: magic's options; a value that is a Python literal is shown as ``…``: the magic takes a name or text there).
_ARGUMENT = re.compile(r"(?<![\w.(-])(?P<name>[a-z_]+)=(?P<value>'[^']*'|\[[^\]]*\]|\{[^}]*\}|[\w.:-]+|…)?")
#: A bare Python call in a fix (``transcribe(…, language=…)``): the magic that makes it, with its options.
_CALL = re.compile(rf"(?<![\w.%])(?P<name>{_KINDS})\((?P<args>(?:[^()]|\([^()]*\))*)\)")


class MagicPhrasing:
    """Says a fix in one magic's terms, from the error's structured fields (``option``, ``value``, ``suggestion``:
    see :class:`~tokenhot_nb.errors.InputError`) and the magic's own option table (its argparse parser), with
    the Python idioms of fixes that carry no fields (``extra={'size': …}``, ``n``) mapped to its flags."""

    def __init__(self, magic: str) -> None:
        from . import _args

        self.magic = magic
        self.prog = "%%" + magic if magic in MAGIC_KIND and magic not in ("th_transcribe", "th_translate") \
            else "%" + magic
        self.flags: dict[str, str] = {}
        self.switches: set[str] = set()
        for action in _args.parser(magic)._actions:
            longs = [o for o in action.option_strings if o.startswith("--")] or list(action.option_strings)
            if longs and action.dest not in ("help", "extra"):
                self.flags.setdefault(action.dest, longs[0])
                if action.nargs == 0:  # (--json, --new: a switch takes no value)
                    self.switches.add(action.dest)

    def flag(self, name: str, value: str = "") -> str:
        """``--temperature 0.2`` for an option the magic has, ``-x name=0.2`` for a documented body field."""
        value = value.strip("'")
        if value[:1] in ("[", "{"):  # a Python list or dict: the magic takes a variable's name or JSON there
            value = "…"
        if name in self.switches:
            return self.flags[name]
        if name in self.flags:
            return f"{self.flags[name]} {value}".rstrip()
        return f"-x {name}={value or '…'}"

    def say(self, err: BaseException, message: str, fix: str, model_kind: str | None) -> tuple[str, str]:
        fields = err if isinstance(err, (InputError, UnsupportedOptionError)) else None
        suggestion, option = (fields.suggestion, fields.option) if fields is not None else (None, None)
        if fields is not None and suggestion and option:  # `-x temprature=0.2`: a typo of an option the magic has
            shown = _shown(fields.value)
            body = json.dumps({option: "…"}, ensure_ascii=False).replace('"…"', shown)
            return (f"{self.prog} sends {option!r} as a body field (-x {option}=…), and it looks like a typo of "
                    f"{self.flag(suggestion)}.",
                    f"Use {self.flag(suggestion, shown)}; to send {option!r} anyway, write "
                    f"-x extra={shlex.quote(body)}.")
        if fields is not None and option in self.flags and message.startswith(f"{option}= "):
            message = f"{self.flags[option]} {message.removeprefix(f'{option}= ')}"  # ("--voice is empty.")
        kind = MAGIC_KIND.get(self.magic)
        if not isinstance(err, UnsupportedOptionError) or not kind or model_kind in (None, kind):
            return message, self.fix(fix)
        # `%%th_image -m gpt-5.2`: the model makes another kind of call (the first check made), by another magic
        message = re.sub(rf"\b({_KINDS})\(\)", self.prog, message)
        if model_kind in KIND_MAGIC:
            return message, (f"Use {KIND_MAGIC[model_kind]} with it, or pick {with_article(kind)} model: "
                             f"%th_models --kind {kind}.")
        return message, self.fix(fix)

    def fix(self, fix: str) -> str:
        from .._session.checks import BODY_FIELDS

        def option(m: re.Match[str]) -> str:
            before, name = fix[:m.start()], m.group("name")
            if before.count("(") > before.count(")") or (name not in self.flags and name not in BODY_FIELDS):
                return m.group(0)  # (a call's argument, or a setting: not the magic's to pass)
            return self.flag(name, m.group("value") or "")

        # a session setting, said first: `mode='offline'` is no body field ("-x mode=offline" went to the model)
        fix = _MODE.sub(r"%th_config --mode \1", fix)
        # (a field sent "anyway" must pass as extra=: `-x size=…` is the same as --size, checked the same way)
        said = _EXTRA_FIELD.sub(lambda m: f"""-x extra='{{"{m.group(1)}": …}}'""", _ARGUMENT.sub(option, fix))
        said = _CALL.sub(self._call, said)
        for pattern, phrase in _PHRASES:
            said = pattern.sub(phrase, said)
        return for_magic_user(said)

    def _call(self, m: re.Match[str]) -> str:
        """``transcribe(…, language=…)`` → ``%th_transcribe --language …`` (the magic, with the call's options)."""
        magic = KIND_MAGIC.get(m.group("name"))
        if magic is None:
            return m.group(0)
        other = MagicPhrasing(magic.split()[0].lstrip("%"))
        named = [other.flag(a.group("name"), a.group("value") or "") for a in _ARGUMENT.finditer(m.group("args"))
                 if a.group("name") in other.flags]
        return " ".join([magic, *named])


def magic_report(err: BaseException | None) -> str:
    """:func:`full_report` for a magic user (``%th_config --last-error`` of a magic's error): what the error's words
    name on the session is said on the magics' own (``tokenhot_nb.session().resume(3)``); the frames' lines of code
    stay as they ran (``s.image(prompt)``), indented as a traceback indents them."""
    lines = full_report(err).splitlines(keepends=True)
    return "".join(line if line[:1].isspace() else for_magic_user(line) for line in lines)


def _shown(value: Any) -> str:
    """A value as a magic line would carry it, short and redacted (``0.2``, ``"high"``)."""
    from .._config import redact

    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = "…"
    return one_line(redact(text), 40, kept_in=None)


class ErrorView:
    """The rendered error: HTML box plus a plain-text fallback (terminal, logs, nbconvert)."""

    def __init__(self, err: BaseException, *, extra: str = "", magic: str | None = None,
                 model_kind: str | None = None) -> None:
        self.error = err
        self.title, self.message, self.fix = parts(err, magic, model_kind)
        self.extra = extra

    def text(self) -> str:
        lines = [f"✖ {self.title}: {self.message}", f"  Fix: {self.fix}"]
        if self.extra:
            lines.append(f"  {self.extra}")
        lines.append(f"  {DETAILS}")
        return "\n".join(lines)

    def html(self) -> str:
        extra = f"<div>{escape(self.extra)}</div>" if self.extra else ""
        return (
            f'<div class="tokenhot-error" style="{_STYLE}"><b>✖ {escape(self.title)}</b>: '
            f"{escape(self.message)}<div><b>Fix:</b> {escape(self.fix)}</div>{extra}"
            f'<div style="opacity:.7"><small>{escape(DETAILS)}</small></div></div>'
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> tuple[dict[str, str], dict[str, Any]]:
        meta = {"tokenhot": {"error": type(self.error).__name__}}
        return {"text/plain": self.text(), "text/html": self.html()}, meta

    def __repr__(self) -> str:
        return self.text()


__all__ = ["DETAILS", "FALLBACK_FIX", "INTERRUPTED", "TITLES", "ErrorView", "MagicPhrasing", "full_report",
           "magic_report", "parts", "title_for"]
