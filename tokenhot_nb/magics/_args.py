"""Option grammar for the magics: argparse over ``shlex.split`` so quoting works.

Parsing never exits the kernel and never shows a traceback: bad options raise
:class:`MagicUsageError` (an IPython ``UsageError``, printed as one short message),
``--help`` raises :class:`HelpRequested` carrying the full help text.
"""

from __future__ import annotations

import argparse
import builtins
import json
import keyword
import re
import shlex
from collections.abc import Callable
from functools import cache
from typing import Any, NoReturn

from IPython.core.error import UsageError

MORE_HELP = "Run {prog} --help for every option."
TYPED_KEY = ("{prog} --key takes no value: it asks for the key in a hidden prompt. What was typed after it was not "
             "used and is not shown; if it is your key, delete it from this cell (IPython keeps the line in its "
             "history too), then run {prog} --key alone, or {prog} --key-from-env VAR.")
UNCLOSED_QUOTE = "{prog}: {problem} in the options; close the quote or escape it with a backslash."
BAD_NAME = "-o needs a Python variable name, got {name!r}."
TAKEN_NAME = "-o {name} would replace {what}; pick another name, e.g. -o {other}."
#: IPython's own names in the notebook's namespace: ``get_ipython`` is what every magic line is run through, so
#: ``-o get_ipython`` made each later magic fail ("'ChatResult' object is not callable").
IPYTHON_NAMES = re.compile(r"In|Out|get_ipython|exit|quit|_+|_i+|_\d+|_i\d+|_[iod]h|__\w*__")
BAD_EXTRA = "--extra needs KEY=VALUE (VALUE is JSON or text), got {item!r}."
OWN_EXTRA = ("-x {key}=… cannot be set: {prog} passes {key} itself; to send a body field named {key!r}, write "
             "-x extra='{{\"{key}\": …}}'.")
EXTRA_TWICE = "{first} and {second} both set {key}; give it once."
#: A value shaped like an API key where no key belongs (``%th_config --store sk-…`` made a folder named after it).
KEY_ON_LINE = ("{prog}: {where} looks like an API key, so it was not used (and is not shown). If it is your key, "
               "delete it from this cell (IPython keeps the line in its history too). A key goes in the environment "
               "variable TOKENHOT_API_KEY (then %th_config --key-from-env), or in the hidden prompt of "
               "%th_config --key.")
#: What each magic passes to its Session call itself (the cell's text; how it streams or waits): ``-x stream=false``
#: was a TypeError ("got multiple values for keyword argument") shown as a possible bug in tokenhot_nb.
OWN_ARGUMENTS = {
    "th_image": ("prompt", "images"), "th_audio": ("text",), "th_embed": ("texts",),
    "th_rerank": ("query", "documents"), "th_transcribe": ("audio",), "th_translate": ("audio",),
    "th_chat": ("message", "stream", "on_delta"), "th_video": ("prompt", "wait", "progress", "on_progress"),
}
CHAT_FORMATS = ("markdown", "text", "code")
#: The catalogue's chat endpoint names (``%th_models --kind chat`` shows which model has which).
CHAT_ENDPOINTS = ("chat.completions", "responses", "messages", "gemini.generate", "gemini.stream")
TRANSCRIPT_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
#: Written out, not imported (``%load_ext`` loads this module and must not pull in the history or catalogue); a
#: test holds them equal to ``history._validate.KINDS`` (the Session methods a row names) and ``catalog.KINDS``.
KINDS = ("image", "edit", "video", "speak", "transcribe", "translate", "chat", "embed", "rerank")
MODEL_KINDS = ("image", "video", "audio", "chat", "embed", "rerank")
MODES = ("live", "offline", "replay")
#: A history row's status (written out like KINDS; a test holds it equal to ``history._entry.STATUSES``).
STATUSES = ("running", "ok", "error", "pending", "interrupted")


#: Bad options. IPython prints exactly ``UsageError`` (not subclasses) as one line without a traceback.
MagicUsageError = UsageError

#: Said after "unrecognized arguments: a cat" (words that are no option): where that text goes in each magic.
_STRAY_WORDS = {
    "%%th_image": "the prompt goes in the cell, below the %%th_image line; quote an option's value that holds "
                  "spaces, e.g. --edit 'my photo.png'",
    "%%th_chat": "the message goes in the cell, below the %%th_chat line (%th_chat on one line only answers tool "
                 "calls: --tool-results NAME); quote an option's value that holds spaces, e.g. --system 'Be brief'",
    "%%th_video": "the prompt goes in the cell, below the %%th_video line; quote an option's value that holds "
                  "spaces, e.g. --image 'first frame.png'",
    "%%th_audio": "the text to speak goes in the cell, below the %%th_audio line; quote an option's value that "
                  "holds spaces, e.g. --voice 'Puck'",
    "%%th_embed": "the texts go in the cell, one a line, below the %%th_embed line (--whole: the cell is one text); "
                  "quote an option's value that holds spaces",
    "%th_transcribe": "quote a SOURCE that holds spaces, e.g. %th_transcribe 'my talk.mp3'",
    "%th_translate": "quote a SOURCE that holds spaces, e.g. %th_translate 'my talk.mp3'",
    "%th_models": "quote a FILTER that holds spaces, e.g. %th_models 'seedance 2'",
    "%th_config": "quote a value that holds spaces, e.g. --store 'my history'",
}


class HelpRequested(Exception):
    """``--help`` was given; ``text`` is the help to show."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _HelpAction(argparse.Action):
    def __init__(self, option_strings: list[str], dest: str = "help", **kw: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, help="show this help")

    def __call__(self, parser: argparse.ArgumentParser, *a: Any, **kw: Any) -> NoReturn:
        raise HelpRequested(parser.format_help())


class MagicParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing and exiting."""

    def __init__(self, prog: str, description: str, epilog: str = "", *, intermixed: bool = False,
                 no_keys: bool = False) -> None:
        """``intermixed``: positional words may come after options (``%th_history --kind image red fox``).
        A value shaped like an API key given to any option is refused, unused and unshown (:meth:`_refuse_keys`);
        ``no_keys``: any word on the line too (a magic whose words are settings, not text to send)."""
        self.intermixed = intermixed
        self.no_keys = no_keys
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            add_help=False,
            allow_abbrev=False,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.add_argument("-h", "--help", action=_HelpAction)

    def error(self, message: str) -> NoReturn:
        from .._config import redact  # a key typed on the line must never come back in the message
        from .._suggest import phrase  # (only here: %load_ext imports no more than it needs)

        extra = message.partition("unrecognized arguments: ")[2].split()
        if extra and not any(word.startswith("-") for word in extra):  # `%th_transcribe my file.mp3`
            message += f" ({_STRAY_WORDS.get(self.prog, 'quote a value that holds spaces')})"
        # `--temprature 0.2`, `--max_tokens 9`: the option it is one typo from
        meant = phrase(self._meant([w for w in extra if w.startswith("--")]), show=str)
        # one line: the usage block argparse adds is 5-9 lines for the big magics, and --help has it whole
        raise MagicUsageError(redact(f"{self.prog}: {message.rstrip('. ')}.{meant} {MORE_HELP.format(prog=self.prog)}"))

    def _refuse_typed_key(self, argv: list[str]) -> None:
        """``--key sk-…`` / ``--key=…``: a key typed after ``--key`` (which takes none: it prompts) came back in
        argparse's "unrecognized arguments: …" or "ignored explicit argument …", and a key without ``sk-`` (the
        service takes one) is nothing redaction recognises. Refused without quoting any of it."""
        for i, word in enumerate(argv):
            if word == "--":
                break
            typed = word.startswith("--key=") or (word == "--key" and i + 1 < len(argv)
                                                    and not argv[i + 1].startswith("-"))
            if typed and "--key" in self._option_string_actions:
                raise MagicUsageError(TYPED_KEY.format(prog=self.prog))

    def _refuse_keys(self, argv: list[str]) -> None:
        """A value shaped like an API key (the redaction's own test) given to an option (``-m sk-…``,
        ``--model=sk-…``, ``-msk-…``, ``-x user=sk-…``), or any such word where :attr:`no_keys` says none belongs:
        one line naming where it was and where a key goes. Masked, it still became a folder named after the key
        (``--store``) or a message such as "Unknown chat model 'sk-****'" that said nothing of the mistake."""
        from .._config import redact

        for i, word in enumerate(argv):
            if redact(word) == word:
                continue
            name = word.partition("=")[0] if word.startswith("--") else word[:2] if word.startswith("-") else ""
            if name not in self._option_string_actions:  # a word of its own: the previous one may take it
                name = argv[i - 1] if i and argv[i - 1] in self._option_string_actions else ""
            action = self._option_string_actions.get(name)
            if action is None or (action.nargs == 0 and name != word):  # a word of the text (a query, a search)
                if not self.no_keys:
                    continue
                where = "a word on the line" if action is None else f"the word after {name}"
            else:
                where = f"the value given to {name}"
            raise MagicUsageError(KEY_ON_LINE.format(prog=self.prog, where=where))

    def _refuse_repeats(self, argv: list[str]) -> None:
        """An option that takes one value, given twice (``-n 1 … -n 4``): argparse keeps the last without a word,
        so the call made (and paid for) may not be the one meant. Repeatable options (``--edit``, ``-x``) and
        flags are fine."""
        seen: dict[str, tuple[str, str]] = {}
        i = 0
        while i < len(argv):
            word = argv[i]
            i += 1
            if word == "--":
                break
            name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
            action = self._option_string_actions.get(name)
            if action is None or action.nargs == 0 or isinstance(action, argparse._AppendAction):
                continue
            if not eq and i < len(argv) and (action.nargs is None or not argv[i].startswith("-")):
                value = argv[i]
                i += 1
            if action.dest in seen:
                first_name, first_value = seen[action.dest]
                self.error(f"{first_name} is given twice ({first_value!r} and {value!r}); give it once.")
            seen[action.dest] = (name, value)

    def _meant(self, words: list[str]) -> list[str]:
        """The options these unknown ones are likely typos of (``--max_tokens`` → ``--max-tokens``), each once."""
        from .._suggest import nearest

        known = [o for o in self._option_string_actions if o.startswith("--")]
        found: list[str] = []
        for word in words:
            found += nearest(word.partition("=")[0].replace("_", "-"), known, cutoff=0.75)
        return list(dict.fromkeys(found))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        self.error(message or "invalid options")

    def _intermixed(self, argv: list[str]) -> argparse.Namespace:
        """Options and words in any order, the words collected in ``ns.words`` (argparse's own
        ``parse_intermixed_args`` cannot format a usage whose prog holds ``%``)."""
        ns, rest = self.parse_known_args(argv)
        unknown = [w for w in rest if w.startswith("-") and not w.lstrip("-").isdigit()]
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}")
        ns.words = [*ns.words, *rest]
        return ns

    def parse_line(self, line: str) -> argparse.Namespace:
        """Split ``line`` like a shell and parse it."""
        try:
            argv = shlex.split(line, posix=True)
        except ValueError as exc:  # "No closing quotation"
            raise MagicUsageError(UNCLOSED_QUOTE.format(prog=self.prog, problem=str(exc).lower())) from None
        self._refuse_keys(argv)
        self._refuse_repeats(argv)
        self._refuse_typed_key(argv)
        ns = self._intermixed(argv) if self.intermixed else self.parse_args(argv)
        out = getattr(ns, "output", None)
        if out is not None and (not out.isidentifier() or keyword.iskeyword(out)):
            self.error(BAD_NAME.format(name=out))
        if out is not None and (IPYTHON_NAMES.fullmatch(out) or hasattr(builtins, out)):
            what = f"{out}, a name IPython keeps for itself" if IPYTHON_NAMES.fullmatch(out) else \
                f"Python's built-in {out}"
            self.error(TAKEN_NAME.format(name=out, what=what, other=out.strip("_") + "_result" if out.strip("_")
                                         else "result"))
        if getattr(ns, "extra", None) is not None:
            ns.extra = parse_extra(ns.extra, self)
            self._refuse_own(ns)
        return ns

    def _refuse_own(self, ns: argparse.Namespace) -> None:
        """``-x KEY=…`` naming what the magic passes itself, or an option also given on the line (``--voice Puck
        -x voice=Kore`` was a TypeError; ``-m a -x model=b`` silently used b)."""
        own = OWN_ARGUMENTS.get(self.prog.lstrip("%"), ())
        for key in ns.extra:
            if key in own:
                self.error(OWN_EXTRA.format(key=key, prog=self.prog))
            action = next((a for a in self._actions if a.dest == key != "extra" and a.option_strings), None)
            if action is not None and getattr(ns, key, None) not in (None, False, [], action.default):
                first = max(action.option_strings, key=len)
                self.error(EXTRA_TWICE.format(first=first, second=f"-x {key}=…", key=key))


def parse_extra(items: list[str], parser: MagicParser) -> dict[str, Any]:
    """``KEY=VALUE`` pairs (VALUE decoded as JSON when it parses) → extra body fields."""
    out: dict[str, Any] = {}
    raws: dict[str, str] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            parser.error(BAD_EXTRA.format(item=item))
        if key.strip() in raws:  # (the last one won without a word, as a repeated option did)
            parser.error(f"-x {key.strip()}=… is given twice ({raws[key.strip()]!r} and {raw!r}); give it once.")
        raws[key.strip()] = raw
        try:
            out[key.strip()] = json.loads(raw)
        except ValueError:
            out[key.strip()] = raw
    return out


def number(text: str) -> int | float:
    """An int when the value is whole (``5``), else a float (``5.5``)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def count(text: str) -> int:
    """How many entries: a whole number of at least 1 (``-3`` or ``0`` would show nothing, or everything)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected how many entries (a whole number of at least 1), got {text!r}")
    return n


def history_count(text: str) -> int:
    """``%th_history N``: the leading number of its words, checked as :func:`count` checks it."""
    try:
        return count(text)
    except argparse.ArgumentTypeError as exc:
        parser("th_history").error(f"argument N: {exc}")


def _common(p: MagicParser, *, extra: bool = True) -> None:
    p.add_argument("-m", "--model", help="model id, display name or alias (see %%th_models)")
    p.add_argument("-o", "--output", metavar="NAME", help="also store the result in variable NAME")
    p.add_argument("--dry-run", action="store_true",
                   help="show what the call would cost and send nothing")
    if extra:
        p.add_argument(
            "-x", "--extra", action="append", metavar="KEY=VALUE",
            help="extra request body field, repeatable (VALUE is JSON or text)",
        )


def _image() -> MagicParser:
    p = MagicParser("%%th_image", "Generate or edit images. The cell is the prompt; {name} interpolates.",
                    "examples:\n  %%th_image -m seedream-4.5 --size 2K -n 2\n"
                    "  %%th_image --edit photo.png --edit logo -o edited")
    _common(p)
    p.add_argument("-n", type=int, metavar="N", help="how many images")
    p.add_argument("--size", help="e.g. 1024x1024, 1536x1024, 2K")
    p.add_argument("--seed", type=int, help="seed, for models that take one")
    p.add_argument("--quality", help="e.g. low, medium, high, hd")
    p.add_argument("--negative", metavar="TEXT", help="negative prompt (what to avoid)")
    p.add_argument("--edit", action="append", metavar="SOURCE",
                   help="image to edit: path, URL, variable or earlier result; repeatable")
    p.add_argument("--mask", metavar="SOURCE", help="mask for --edit (transparent = repaint)")
    return p


def _chat() -> MagicParser:
    p = MagicParser("%%th_chat", "Chat with a model, streamed. The cell is the message; {name} interpolates.",
                    "examples:\n  %%th_chat -m claude-sonnet --system 'Be terse' --thread study\n"
                    "  %%th_chat --format code --image chart.png\n"
                    "  %%th_chat -m gpt-5 --endpoint responses\n"
                    "  %%th_chat -m claude-sonnet --tools weather_tool --thread w -o ask\n"
                    "  %th_chat -m claude-sonnet --tools weather_tool --thread w --tool-results answers")
    _common(p)
    p.add_argument("--system", metavar="TEXT", help="system prompt")
    p.add_argument("--temperature", type=float,
                   help="sampling temperature (refused for models that fix it, e.g. the GPT-5 family)")
    p.add_argument("--max-tokens", type=int, metavar="N", help="answer length limit, in tokens")
    p.add_argument("--thread", metavar="NAME", help="continue (or start) the named conversation, with its model unless -m "
                        "names another; without it cells share one default thread")
    p.add_argument("--new", action="store_true", help="start the conversation (--thread NAME, or the default one) afresh")
    p.add_argument("--no-stream", action="store_true", help="wait for the whole answer")
    p.add_argument("--format", choices=CHAT_FORMATS, default="markdown",
                   help="markdown (default), text, or code (offers the answer's code as a new cell)")
    p.add_argument("--image", action="append", metavar="SOURCE", help="attach an image; repeatable")
    p.add_argument("--endpoint", choices=CHAT_ENDPOINTS,
                   help="the API to ask through, where the model has it: chat.completions, responses (OpenAI "
                        "Responses), messages (Claude native), gemini.stream / gemini.generate (Gemini native; "
                        "generate with --no-stream); default: the model's first")
    p.add_argument("--cache", nargs="?", const="5m", choices=("5m", "1h"),
                   help="Claude: cache the system prompt and the conversation so far for the next turn (read back "
                        "at ~0.1× the input price; written at 1.25×, 2× for 1h); 5m unless 1h is given")
    p.add_argument("--json", action="store_true", help="answer in JSON; the parsed value is the result's .data")
    p.add_argument("--schema", metavar="NAME",
                   help="answer as data of this shape: a variable holding a pydantic model or a JSON-schema dict "
                   "(or inline JSON); the checked value is the result's .data")
    p.add_argument("--tools", action="append", metavar="NAME",
                   help="offer functions to call: a variable holding an OpenAI function schema or a list of them "
                        "(or inline JSON); repeatable. The calls asked for are the result's .tool_calls")
    p.add_argument("--tool-choice", metavar="CHOICE",
                   help="auto (default), required, none, or the name of one tool")
    p.add_argument("--tool-results", metavar="NAME",
                   help="answer the last tool calls of the thread: a variable holding {call_id: result}; as a "
                        "line magic (%%th_chat …) no message is needed")
    return p


def _video() -> MagicParser:
    p = MagicParser("%%th_video", "Generate a video with live progress. The cell is the prompt.",
                    "examples:\n  %%th_video -m seedance-2.0 --duration 8 --ratio 16:9\n"
                    "  %%th_video --image first_frame.png --no-wait -o clip\n"
                    "  %%th_video -m seedance-2.0-v2v --video clip.mp4\n"
                    "  %th_video --resume TASK_ID")
    _common(p)
    p.add_argument("--image", metavar="SOURCE", help="first frame")
    p.add_argument("--last", metavar="SOURCE", help="last frame (with --image, on models that take one)")
    p.add_argument("--ref", action="append", metavar="SOURCE", help="reference image; repeatable")
    p.add_argument("--video", action="append", metavar="SOURCE",
                   help="input video (V2V, video-edit, Seedance 2.x references); repeatable")
    p.add_argument("--audio", action="append", metavar="SOURCE", help="reference audio (Seedance 2.x); repeatable")
    p.add_argument("--duration", type=number, metavar="SECONDS", help="clip length")
    p.add_argument("--resolution", help="e.g. 720p, 1080p")
    p.add_argument("--ratio", help="aspect ratio, e.g. 16:9")
    p.add_argument("--seed", type=int, help="seed, for models that take one")
    p.add_argument("--no-wait", action="store_true", help="return at once; the panel fills in when done")
    p.add_argument("--resume", metavar="TASK_ID", help="pick up a task started earlier (no prompt needed): its task "
                        "id, or the history # of its video call (all digits: a history # when that row exists)")
    return p


def _audio() -> MagicParser:
    p = MagicParser("%%th_audio", "Speak the cell's text (text to speech).",
                    "example:\n  %%th_audio -m gemini-tts --voice Puck -o hello")
    _common(p)
    p.add_argument("--voice", help="voice (%%th_models --kind audio lists them)")
    return p


def _embed() -> MagicParser:
    p = MagicParser("%%th_embed", "Texts to vectors: each non-empty line of the cell is one text (--whole: the whole "
                    "cell is one); {name} interpolates.",
                    "examples:\n  %%th_embed -m jina-embeddings-v4 --dimensions 256 -o vecs\n"
                    "  %%th_embed --whole -o doc")
    _common(p)
    p.add_argument("--dimensions", type=int, metavar="N", help="shorter vectors, where the model can make them")
    p.add_argument("--whole", action="store_true", help="embed the whole cell as one text, not one text a line")
    return p


def _rerank() -> MagicParser:
    p = MagicParser("%%th_rerank", "Rank the cell's documents (one a non-empty line; {name} interpolates) by "
                    "relevance to QUERY, the words on the magic line (quote it, or not).",
                    "examples:\n  %%th_rerank 'what do cats eat?' --top 3 -o ranked\n"
                    "  %%th_rerank -m jina-reranker-m0 cheap flights to Rome",
                    intermixed=True)
    p.add_argument("words", nargs="*", metavar="QUERY", help="the query the documents are ranked against")
    _common(p)
    p.add_argument("--top", dest="top_n", type=count, metavar="N", help="only the N best documents")
    return p


def _transcript(name: str, what: str) -> MagicParser:
    p = MagicParser(f"%{name}", f"{what} SOURCE: a file, URL, variable or earlier audio result.",
                    f"example:\n  %{name} meeting.mp3 --format srt -o subs")
    p.add_argument("source", nargs="?", metavar="SOURCE",
                   help="the speech: a file path, URL, variable or earlier audio result")
    _common(p)
    p.add_argument("--language", help="ISO-639-1 code of the speech, e.g. en, zh")
    p.add_argument("--format", choices=TRANSCRIPT_FORMATS, default="json",
                   help="transcript format (default json; srt/vtt: subtitles, verbose_json: timed segments)")
    return p


def _models() -> MagicParser:
    p = MagicParser("%th_models", "The models of this session's service (built-in catalogue + the service's "
                    "table): kinds, families, source, price and capabilities.",
                    "example:\n  %th_models seedream\n  %th_models --kind video\n  %th_models --refresh\n"
                    "  %th_models --builtin")
    p.add_argument("filter", nargs="?", metavar="FILTER",
                   help="text to match in id, name, family, vendor or source (built-in / live / both)")
    p.add_argument("--kind", choices=MODEL_KINDS, help="only models of this kind")
    p.add_argument("--refresh", action="store_true", help="read the service's model table again now")
    p.add_argument("--builtin", action="store_true", help="only the catalogue built into tokenhot_nb")
    return p


def _history() -> MagicParser:
    p = MagicParser("%th_history", "The session history (every call, with its outputs).",
                    "examples:\n  %th_history 5 --kind image\n  %th_history red fox --model claude-opus\n"
                    "  %th_history 10 --status error\n  %th_history --export history.json",
                    intermixed=True)
    p.add_argument("words", nargs="*", metavar="[N] [TEXT]",
                   help="only the last N entries (a whole number first); entries whose prompt or answer holds "
                        "every word of TEXT (--search for a text that is a number)")
    p.add_argument("--search", metavar="TEXT", help="the search text, given as an option")
    p.add_argument("-m", "--model", help="only this model (id, display name or alias)")
    p.add_argument("--kind", choices=KINDS, help="only calls of this kind")
    p.add_argument("--status", choices=STATUSES, help="only entries with this status")
    p.add_argument("--export", metavar="PATH", help="write the (filtered) history to PATH")
    return p


def _config() -> MagicParser:
    p = MagicParser("%th_config", "Show or change the settings (the key is never shown).",
                    "examples:\n  %th_config --mode live --key\n  %th_config --default-image nano-banana --default-chat claude-sonnet\n"
                    "  %th_config --last-error", no_keys=True)
    p.add_argument("--base-url", metavar="URL", help="change the base URL (e.g. https://api.tokenhot.ai)")
    p.add_argument("--mode", choices=MODES,
                   help="live (your key, paid), offline (the simulator, free) or replay (from the store only)")
    p.add_argument("--store", metavar="DIR", help="history and artifact folder")
    p.add_argument("--price-group", metavar="GROUP",
                   help="your key's group on the service: costs use its price ratio (e.g. vip)")
    p.add_argument("--key", action="store_true", help="ask for the API key (hidden prompt)")
    p.add_argument("--key-from-env", nargs="?", const="TOKENHOT_API_KEY", metavar="VAR",
                   help="read the API key from environment variable VAR (default TOKENHOT_API_KEY)")
    for kind in MODEL_KINDS:
        p.add_argument(f"--default-{kind}", metavar="MODEL", help=f"default {kind} model")
    p.add_argument("--reset", action="store_true", help="rebuild the default session from the environment")
    p.add_argument("--budget", metavar="AMOUNT",
                   help="refuse calls that would cross this spending limit: 2.50 (USD), '$2.50' or '¥20'")
    p.add_argument("--budget-unknown", choices=("refuse", "allow"),
                   help="calls whose cost cannot be estimated before they run (video, unpriced models): refuse "
                        "them (the default) or let them through while budget is left")
    p.add_argument("--budget-reset", action="store_true", help="start a new budget period now")
    p.add_argument("--no-budget", action="store_true", help="remove the spending limit")
    p.add_argument("--last-error", action="store_true", help="show the last error in full (with traceback)")
    return p


def _balance() -> MagicParser:
    p = MagicParser("%th_balance", "What the key may still spend (from the relay's billing routes), and the budget.",
                    "example:\n  %th_balance")
    return p


def _panel() -> MagicParser:
    p = MagicParser("%th_panel", "Show a widget panel (tokenhot_nb.studio(): all of them as tabs).",
                    "example:\n  %th_panel image")
    p.add_argument("name", nargs="?", metavar="NAME", help="image, chat, video, audio or history")
    return p


_BUILDERS: dict[str, Callable[[], MagicParser]] = {
    "th_image": _image,
    "th_chat": _chat,
    "th_video": _video,
    "th_audio": _audio,
    "th_embed": _embed,
    "th_rerank": _rerank,
    "th_transcribe": lambda: _transcript("th_transcribe", "Transcribe speech in"),
    "th_translate": lambda: _transcript("th_translate", "Translate to English the speech in"),
    "th_models": _models,
    "th_history": _history,
    "th_config": _config,
    "th_panel": _panel,
    "th_balance": _balance,
}


@cache
def parser(magic: str) -> MagicParser:
    """The (cached) parser of one magic, built on first use."""
    return _BUILDERS[magic]()


def parse(magic: str, line: str) -> argparse.Namespace:
    return parser(magic).parse_line(line)
