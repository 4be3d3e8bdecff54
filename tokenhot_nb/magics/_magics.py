"""The ``th_*`` magics: parse options, call the default session, show the result in place.

Every magic is a thin skin over :func:`tokenhot_nb.session`: no HTTP, no parsing of responses.
Failures of the service become one short message with the fix (see ``_errors``); bad options
become an IPython ``UsageError`` (one line, no traceback); ``--help`` prints the help.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from IPython.core.magic import Magics, cell_magic, line_cell_magic, line_magic, magics_class

from . import _args
from ._args import HelpRequested, MagicUsageError
from ._display import Placeholder, live_display
from ._interp import interpolate, resolve_source

EMPTY_CELL = "{prog}: the cell is the {what}; write it on the lines below the magic line."
NEED_SOURCE = "{prog} needs a SOURCE: a file path, URL, variable or earlier audio result."
MASK_WITHOUT_EDIT = "--mask needs --edit SOURCE (the image to repaint)."
RESUME_WITH_PROMPT = "--resume picks up an existing task; it takes no prompt and no generation options."
EXPORTED = "Exported {n} history entries to {path}."
FAILED = "The tokenhot call failed; see the message above."
CODE_NOTE = "⬇ {note}"
WORKING_IMAGE = "Generating {n} with {model}"
WORKING_EDIT = "Editing {count} image(s) with {model}"
WORKING_AUDIO = "Speaking with {model}"
WORKING_EMBED = "Embedding {n} with {model}"
WORKING_RERANK = "Ranking {n} with {model}"
NEED_QUERY = ("the QUERY is missing: write it on the magic line (%%th_rerank 'what do cats eat?') and the "
              "documents below it, one a line")
TOP_OVER = "--top {top} asks for more documents than the cell's {n}; give 1 to {n}, or leave --top out for all."
DEFAULT_LABEL = "the default model"

F = TypeVar("F", bound=Callable[..., Any])


def _session() -> Any:
    """The shared default session (tests replace this)."""
    import tokenhot_nb

    return tokenhot_nb.session()


def _opts(**kw: Any) -> dict[str, Any]:
    """Keyword arguments that were given (None means "let the session decide")."""
    return {k: v for k, v in kw.items() if v is not None}


def _friendly(fn: F) -> F:
    """Turn ``--help`` into printed help and TokenhotErrors into one short message."""

    @functools.wraps(fn)
    def wrapper(self: TokenhotMagics, line: str = "", cell: str | None = None) -> Any:
        from .._warn import IN_MAGIC, for_magic_user
        from ..errors import TokenhotError

        self._pending = None
        token = IN_MAGIC.set(True)  # (what a warning names on the session is said on the magics' own)
        try:
            return fn(self, line, cell)
        except KeyboardInterrupt as stop:  # "Stopped: … session.history.get(3).text": on the magics' session
            said = for_magic_user(str(stop))
            if said == str(stop):
                raise
            raise KeyboardInterrupt(said) from None
        except HelpRequested as h:
            print(h.text)
            return None
        except TokenhotError as err:
            return self._report(err, fn.__name__, line)
        except MagicUsageError:
            raise  # IPython prints it as one short line
        except Exception as err:  # an OSError (unwritable path…) or a bug: still a short block, never a traceback
            return self._report(err, fn.__name__, line)
        finally:
            self._pending = None
            IN_MAGIC.reset(token)

    return wrapper  # type: ignore[return-value]


@magics_class
class TokenhotMagics(Magics):
    """``%%th_image``, ``%%th_chat``, ``%%th_video``, ``%%th_audio``, ``%%th_embed``, ``%%th_rerank``,
    ``%th_transcribe``, ``%th_translate``, ``%th_models``, ``%th_history``, ``%th_config``, ``%th_balance``,
    ``%th_panel``. Add ``--help`` to any of them."""

    _pending: Placeholder | None = None

    # -- shared plumbing -------------------------------------------------------------------
    @property
    def _ns(self) -> dict[str, Any]:
        return self.shell.user_ns  # type: ignore[no-any-return,union-attr]

    def _text(self, prog: str, cell: str | None, what: str) -> str:
        text = interpolate(cell or "", self._ns).strip()
        if not text:
            raise MagicUsageError(EMPTY_CELL.format(prog=prog, what=what))
        return text

    def _start(self, what: str) -> None:
        if live_display(self.shell):
            self._pending = Placeholder(what)

    def _done(self, result: Any, output: str | None, *, shown: bool = False) -> Any:
        """Store under ``-o NAME``; in a notebook the placeholder becomes the result and ``_``/``Out[n]``
        are set here (so it is not shown twice); in a terminal the result is the cell's value."""
        if output:
            self._ns[output] = result
        if self._pending is not None:
            self._pending.replace(result)
            self._pending = None
            shown = True
        if shown:
            self._set_underscore(result)
            return None
        return result

    def _set_underscore(self, result: Any) -> None:
        hook = getattr(self.shell, "displayhook", None)
        if hook is not None and result is not None:
            try:
                hook.update_user_ns(result)
            except Exception:
                pass

    def _report(self, err: BaseException, magic: str | None = None, line: str = "") -> None:
        """Show ``err`` as one short block, its fix said the way ``magic`` takes it."""
        from IPython.display import display

        from . import _errors

        _set_last_error(err)
        view = _errors.ErrorView(err, magic=magic, model_kind=_model_kind(magic, line))
        if self._pending is not None:
            self._pending.replace(view)
            self._pending = None
        else:
            display(view)
        if _package().raise_errors:
            raise MagicUsageError(FAILED) from None
        return None

    def _dry_run(self, s: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """``--dry-run``: the estimate of exactly the call the options describe; nothing is sent."""
        from ._cost import DryRun

        return DryRun(s.estimate(method, *args, **kwargs), method, s.budget)

    def _model_label(self, model: str | None, kind: str, s: Any) -> str:
        """The model a call will use, for the placeholder (the result's metadata has the resolved id)."""
        if model:
            return model
        method = {"audio": "speak"}.get(kind, kind)
        defaults = getattr(s, "defaults", None) or {}
        chosen = defaults.get(method) or defaults.get(kind)
        if chosen:
            return str(chosen)
        try:
            from ..catalog import default_model

            return default_model(kind).id
        except Exception:
            return DEFAULT_LABEL

    # -- media -------------------------------------------------------------------------------
    @cell_magic
    @_friendly
    def th_image(self, line: str, cell: str | None = None) -> Any:
        """Generate (or with --edit, edit) images; the cell is the prompt. See %%th_image --help."""
        a = _args.parse("th_image", line)
        prompt = self._text("%%th_image", cell, "prompt")
        if a.mask and not a.edit:
            _args.parser("th_image").error(MASK_WITHOUT_EDIT)
        opts = _opts(model=a.model, n=a.n, size=a.size, seed=a.seed, quality=a.quality, negative=a.negative)
        opts.update(a.extra or {})
        s = _session()
        label = self._model_label(a.model, "image", s)
        if a.edit:
            images = [resolve_source(x, self._ns) for x in a.edit]
            mask = resolve_source(a.mask, self._ns) if a.mask else None
            if a.dry_run:
                return self._dry_run(s, "edit", images, prompt, **_opts(mask=mask), **opts)
            self._start(WORKING_EDIT.format(count=len(images), model=label))
            result = s.edit(images, prompt, **_opts(mask=mask), **opts)
        else:
            if a.dry_run:
                return self._dry_run(s, "image", prompt, **opts)
            n = f"{a.n} images" if a.n and a.n > 1 else "an image"
            self._start(WORKING_IMAGE.format(n=n, model=label))
            result = s.image(prompt, **opts)
        return self._done(result, a.output)

    @cell_magic
    @_friendly
    def th_audio(self, line: str, cell: str | None = None) -> Any:
        """Speak the cell's text. See %%th_audio --help."""
        a = _args.parse("th_audio", line)
        text = self._text("%%th_audio", cell, "text to speak")
        s = _session()
        if a.dry_run:
            return self._dry_run(s, "speak", text, **_opts(model=a.model, voice=a.voice), **(a.extra or {}))
        self._start(WORKING_AUDIO.format(model=self._model_label(a.model, "audio", s)))
        result = s.speak(text, **_opts(model=a.model, voice=a.voice), **(a.extra or {}))
        return self._done(result, a.output)

    # -- vectors: embeddings and rerank -------------------------------------------------------------
    @cell_magic
    @_friendly
    def th_embed(self, line: str, cell: str | None = None) -> Any:
        """Texts to vectors: one text a non-empty line of the cell (``--whole``: the cell is one). See --help."""
        a = _args.parse("th_embed", line)
        text = self._text("%%th_embed", cell, "texts to embed, one a line")
        texts: str | list[str] = text if a.whole else _lines(text)
        opts = _opts(model=a.model, dimensions=a.dimensions)
        opts.update(a.extra or {})
        s = _session()
        if a.dry_run:
            return self._dry_run(s, "embed", texts, **opts)
        n = 1 if isinstance(texts, str) else len(texts)
        self._start(WORKING_EMBED.format(n=_plural(n, "text"), model=self._model_label(a.model, "embed", s)))
        return self._done(s.embed(texts, **opts), a.output)

    @cell_magic
    @_friendly
    def th_rerank(self, line: str, cell: str | None = None) -> Any:
        """Rank the cell's documents (one a non-empty line) against the QUERY on the magic line. See --help."""
        a = _args.parse("th_rerank", line)
        query = " ".join(a.words).strip()
        if not query:
            _args.parser("th_rerank").error(NEED_QUERY)
        documents = _lines(self._text("%%th_rerank", cell, "documents to rank, one a line"))
        if a.top_n is not None and a.top_n > len(documents):
            _args.parser("th_rerank").error(TOP_OVER.format(top=a.top_n, n=len(documents)))
        opts = _opts(model=a.model, top_n=a.top_n)
        opts.update(a.extra or {})
        s = _session()
        if a.dry_run:
            return self._dry_run(s, "rerank", query, documents, **opts)
        self._start(WORKING_RERANK.format(n=_plural(len(documents), "document"),
                                          model=self._model_label(a.model, "rerank", s)))
        return self._done(s.rerank(query, documents, **opts), a.output)

    @line_magic
    @_friendly
    def th_transcribe(self, line: str, cell: str | None = None) -> Any:
        """Transcribe speech: %th_transcribe SOURCE [--language xx] [--format srt]."""
        return self._transcript("th_transcribe", line)

    @line_magic
    @_friendly
    def th_translate(self, line: str, cell: str | None = None) -> Any:
        """Translate speech to English text: %th_translate SOURCE [--format text]."""
        return self._transcript("th_translate", line)

    def _transcript(self, magic: str, line: str) -> Any:
        a = _args.parse(magic, line)
        if not a.source:
            _args.parser(magic).error(NEED_SOURCE.format(prog="%" + magic))
        source = resolve_source(a.source, self._ns)
        s = _session()
        opts = _opts(model=a.model, language=a.language, format=a.format)
        opts.update(a.extra or {})
        # A line magic's value is used in expressions (x = %th_transcribe f): no placeholder, plain return.
        if a.dry_run:
            return self._dry_run(s, magic.removeprefix("th_"), source, **opts)
        fn = s.transcribe if magic == "th_transcribe" else s.translate
        return self._done(fn(source, **opts), a.output)

    # -- chat ----------------------------------------------------------------------------------
    @line_cell_magic
    @_friendly
    def th_chat(self, line: str, cell: str | None = None) -> Any:
        """Chat, streamed into one output that ends as Markdown; the line form answers tool calls
        (``%th_chat --tool-results NAME``). See %%th_chat --help."""
        from ..errors import SchemaMismatchError, StreamError
        from ._stream import StreamView

        a = _args.parse("th_chat", line)
        answering = a.tool_results is not None
        message = self._text("%%th_chat", cell, "message") if not answering or (cell or "").strip() else ""
        kwargs = _opts(model=a.model, system=a.system, temperature=a.temperature, max_tokens=a.max_tokens,
                       thread=a.thread, endpoint=a.endpoint)
        if a.new:
            kwargs["new_thread"] = True
        if a.image:
            kwargs["images"] = [resolve_source(x, self._ns) for x in a.image]
        if a.json:
            kwargs["json"] = True
        if a.cache:
            kwargs["cache"] = a.cache
        if a.schema:
            kwargs["schema"] = self._variable("--schema", a.schema, object,
                                              "a pydantic model or a JSON-schema dict")
        if a.tools:
            kwargs["tools"] = [tool for name in a.tools for tool in self._tools(name)]
        if a.tool_choice:
            kwargs["tool_choice"] = a.tool_choice
        if answering:
            kwargs["tool_results"] = self._variable("--tool-results", a.tool_results, dict,
                                                    "a dict {call_id: result} (the ids are in .tool_calls)")
        kwargs.update(a.extra or {})
        s = _session()
        if a.dry_run:
            return self._dry_run(s, "chat", message, stream=False, **kwargs)
        live = live_display(self.shell)
        from .._threads import DEFAULT_THREAD

        going_on = None if a.model or a.new else s.threads.get(a.thread or DEFAULT_THREAD).model
        view = StreamView(model=going_on.id if going_on is not None else self._model_label(a.model, "chat", s),
                          fmt="text" if a.format == "text" else "markdown", live=live)
        view.start()
        try:
            if a.no_stream:
                result = s.chat(message, stream=False, **kwargs)
            else:
                result = s.chat(message, stream=True, on_delta=view.on_delta, **kwargs)
        except StreamError as err:
            view.fail(err.partial_text)
            raise
        except SchemaMismatchError as err:  # a whole, paid answer that does not fit: shown and kept, then said
            if err.result is None:
                view.fail()
                raise
            view.finish(err.result)
            if a.output:
                self._ns[a.output] = err.result
            self._set_underscore(err.result)
            raise
        except BaseException:  # errors and interrupts: keep what arrived, marked as cut off
            view.fail()
            raise
        view.finish(result)
        if a.format == "code":
            self._offer_code(getattr(result, "text", "") or view.text)
        if a.output:
            self._ns[a.output] = result
        self._set_underscore(result)
        return None

    def _tools(self, name: str) -> list[Any]:
        """``--tools``: a variable (one schema dict or a list of them) or inline JSON."""
        value = self._variable("--tools", name, (dict, list), "an OpenAI function schema or a list of them")
        return value if isinstance(value, list) else [value]

    def _variable(self, option: str, name: str, kinds: type | tuple[type, ...], what: str) -> Any:
        """A value named on the magic line: a variable of the notebook, else inline JSON."""
        if name in self._ns:
            value = self._ns[name]
        else:
            try:
                value = json.loads(name)
            except ValueError as exc:
                if name.lstrip()[:1] in ("{", "["):  # meant as inline JSON, not as a variable name
                    _args.parser("th_chat").error(f"{option}: the inline JSON does not parse ({exc}). Check its "
                                                  "quotes: wrap it in single quotes, with double quotes inside.")
                _args.parser("th_chat").error(
                    f"{option} {name!r}: no such variable. Name a variable holding {what}, or give it as inline "
                    "JSON.")
        if not isinstance(value, kinds):
            _args.parser("th_chat").error(
                f"{option} {name!r} holds a {type(value).__name__}; it must be {what}.")
        return value

    def _offer_code(self, answer: str) -> None:
        from ..errors import clean_text
        from ._stream import CODE_INSERTED, NO_CODE, extract_code

        code, found = extract_code(answer)
        code = code.replace("\r\n", "\n")
        clean = clean_text(code)  # (a cell the user runs: no bidi override may make it read other than it runs)
        self.shell.set_next_input(clean, replace=False)  # type: ignore[union-attr]
        note = CODE_INSERTED if found else NO_CODE
        n = len(code) - len(clean)
        if n > 0:
            note += (f" {n} character{'s' if n != 1 else ''} that could make the code read other than it runs "
                     "(bidi overrides, terminal escapes) were taken out.")
        print(CODE_NOTE.format(note=note))

    # -- video -----------------------------------------------------------------------------------
    @line_cell_magic
    @_friendly
    def th_video(self, line: str, cell: str | None = None) -> Any:
        """Generate a video with live progress; %th_video --resume TASK_ID picks one up. See --help."""
        from ._video import VideoView

        a = _args.parse("th_video", line)
        s = _session()
        if a.resume:
            if (cell or "").strip() or a.image or a.last or a.ref or a.video or a.audio or a.duration \
                    or a.resolution or a.ratio or a.seed:
                _args.parser("th_video").error(RESUME_WITH_PROMPT)
            from ._video import resume_target

            task = s.resume(resume_target(s, a.resume))  # no request: the panel shows only once it is found
            view = VideoView(model=a.model or task.model, live=live_display(self.shell)).start()
            return self._wait_video(task, view, a, background=a.no_wait)
        prompt = self._text("%%th_video", cell, "prompt")
        kwargs = _opts(model=a.model, duration=a.duration, resolution=a.resolution, ratio=a.ratio, seed=a.seed)
        if a.image:
            kwargs["image"] = resolve_source(a.image, self._ns)
        if a.last:
            if not a.image:
                _args.parser("th_video").error("--last needs --image (the first frame) too.")
            kwargs["last_frame"] = resolve_source(a.last, self._ns)
        if a.ref:  # tagged by the session: untagged, one or two would be taken for frames
            kwargs["references"] = [resolve_source(x, self._ns) for x in a.ref]
        for name in ("video", "audio"):
            sources = [resolve_source(x, self._ns) for x in getattr(a, name) or []]
            if sources:
                kwargs[name] = sources[0] if len(sources) == 1 else sources
        kwargs.update(a.extra or {})
        if a.dry_run:
            return self._dry_run(s, "video", prompt, **kwargs)
        view = VideoView(model=self._model_label(a.model, "video", s), live=live_display(self.shell)).start()
        if a.no_wait:
            task = self._video_call(view, lambda: s.video(prompt, wait=False, **kwargs))
            return self._wait_video(task, view, a, background=True)
        result = self._video_call(
            view, lambda: s.video(prompt, wait=True, progress=False, on_progress=view.on_status, **kwargs)
        )
        return self._video_done(result, view, a.output)

    def _video_call(self, view: Any, call: Callable[[], Any]) -> Any:
        """Run ``call`` with the interrupt and failure paths shown in the progress panel."""
        from ..errors import NotFoundError, TaskFailedError, TokenhotError

        try:
            return call()
        except KeyboardInterrupt as exc:
            view.task_id = view.task_id or _task_id_of(exc)
            view.interrupted()
            from ._video import resume_message

            raise MagicUsageError(resume_message(view.task_id)) from None
        except TaskFailedError as err:
            view.task_id = view.task_id or err.task_id
            view.failed(err.reason or str(err))
            raise
        except NotFoundError:  # the service does not know the task: its row ends in error
            if view.task_id is None:  # (no task at all: a model no channel serves, refused before anything ran)
                self._pending = view.refused()
            else:
                view.failed("")
            raise
        except TokenhotError:
            if view.task_id is None:  # refused before any task existed: the error line takes the panel's place
                self._pending = view.refused()
            else:  # the wait ended, the task did not: it stays pending, resumable
                view.stopped()
            raise

    def _video_done(self, result: Any, view: Any, output: str | None) -> Any:
        if output:
            self._ns[output] = result
        if view.live:
            view.show_result(result)
            self._set_underscore(result)
            return None
        return result

    def _wait_video(self, task: Any, view: Any, a: Any, *, background: bool) -> Any:
        """Wait for ``task`` here, or (``background``) on a thread that fills the panel in when done."""
        from ._video import in_background

        view.task_id = getattr(task, "task_id", None) or getattr(task, "id", None) or view.task_id
        if not background:
            result = self._video_call(view, lambda: _task_wait(task, view.on_status))
            return self._video_done(result, view, a.output)
        view.state = "background"
        view.redraw()

        def poll() -> None:
            import asyncio
            import concurrent.futures

            from .._warn import IN_MAGIC
            from ..errors import NotFoundError, TaskFailedError
            from ._errors import parts
            from ._video import CANCELLED

            # the thread's own context (not the cell's, see in_background), carried into the loop with the wait: the
            # warnings it issues later (the video arrived but its row could not take it) are the magic's
            IN_MAGIC.set(True)
            try:
                view.show_result(_task_wait(task, view.on_status))
            except TaskFailedError as err:
                _set_last_error(err)
                view.failed(err.reason or str(err))
            except NotFoundError as err:  # the service does not know the task: its row ends in error
                _set_last_error(err)
                title, message, fix = parts(err, "th_video")
                view.failed(f"✖ {title}: {message}", fix)
            except (concurrent.futures.CancelledError, asyncio.CancelledError, KeyboardInterrupt):
                view.stopped(CANCELLED)  # (IPython exiting cancels the loop's work): the task runs on, pending
            except Exception as err:  # a thread has no cell to raise into; the wait ended, the task did not
                _set_last_error(err)
                title, message, fix = parts(err, "th_video")  # (the fix too: the one error block it has)
                view.stopped(f"✖ {title}: {message}\nFix: {fix}")

        # what its lines (task.wait()) name: the variable -o made, else the resume that finds it by its id (`_` is
        # replaced by the next cell's output)
        task._held_as = a.output or None
        view.thread = in_background(poll)
        if a.output:
            self._ns[a.output] = task
        self._set_underscore(task)
        return None

    # -- catalogue, history, config, panels -----------------------------------------------------------
    @line_magic
    @_friendly
    def th_models(self, line: str, cell: str | None = None) -> Any:
        """The models of the session's service as a table: %th_models [FILTER] [--kind KIND] [--refresh]."""
        from ._tables import models_table

        a = _args.parse("th_models", line)
        if a.builtin:
            return models_table(a.filter, a.kind)
        return _session().models(a.kind, refresh=a.refresh).table(a.filter)

    @line_magic
    @_friendly
    def th_history(self, line: str, cell: str | None = None) -> Any:
        """The session history: %th_history [N] [TEXT] [--model M] [--kind K] [--status S] [--export PATH]."""
        a = _args.parse("th_history", line)
        for option, value in (("--export", a.export), ("--model", a.model), ("--search", a.search)):
            if value is not None and not value.strip():  # ignored without a word: nothing written, nothing filtered
                raise _args.MagicUsageError(f"%th_history {option} needs a value; it was given empty.")
        words = list(a.words)
        n = _args.history_count(words.pop(0)) if words and words[0].lstrip("-").isdigit() else None
        text = " ".join([*words, a.search or ""]).strip()
        h = _session().history
        if a.kind or a.model or a.status or text:
            h = h.filter(kind=a.kind, model=a.model, status=a.status, text=text or None)
        if n:
            h = h.tail(n)
        if a.export:
            h.export(a.export)
            print(EXPORTED.format(n=len(h), path=a.export))
        from ._tables import for_magic_user_history

        return for_magic_user_history(h)

    @line_magic
    @_friendly
    def th_config(self, line: str, cell: str | None = None) -> Any:
        """Show or change settings; the key only ever through a hidden prompt or the environment. See %th_config --help."""
        from ._config_magic import apply_config

        a = _args.parse("th_config", line)
        if a.last_error:
            from .. import errors
            from ._errors import full_report, magic_report

            err = errors.last_error or _package().last_error
            # a magic's error (its user has no `session` variable) said on the magics' session; one a Python cell
            # showed keeps the Python form (its `session` may be the user's own, not the magics')
            print(magic_report(err) if err is not None and err is _package().last_error else full_report(err))
            return None
        return apply_config(a)

    @line_magic
    @_friendly
    def th_balance(self, line: str, cell: str | None = None) -> Any:
        """What the key may still spend, and the budget: %th_balance."""
        from ._cost import BalanceView

        _args.parse("th_balance", line)
        s = _session()
        return BalanceView(s.balance(), s.budget)

    @line_magic
    @_friendly
    def th_panel(self, line: str, cell: str | None = None) -> Any:
        """Show a widget panel: %th_panel image|chat|video|audio|history (tokenhot_nb.studio(): all as tabs)."""
        a = _args.parse("th_panel", line)
        import importlib

        widgets = importlib.import_module("tokenhot_nb.widgets")  # lazy: ipywidgets only now
        if not (a.name or "").strip():  # panel() needs a name: without one it was a TypeError
            raise MagicUsageError(f"%th_panel needs a NAME: one of {', '.join(widgets.PANELS)} "
                                  "(or tokenhot_nb.studio() for all of them as tabs).")
        return widgets.panel(a.name)


def _lines(text: str) -> list[str]:
    """The non-empty lines of a cell, each stripped: one text (or document) a line."""
    return [one.strip() for one in text.splitlines() if one.strip()]


def _plural(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _model_kind(magic: str | None, line: str) -> str | None:
    """The kind of the model named by ``-m`` on the magic's line, if the session's catalogue knows it (no
    request: the table it already has)."""
    if magic is None:
        return None
    try:
        model = getattr(_args.parse(magic, line), "model", None)
        info = _session().catalog.snapshot().find(model) if model else None
    except Exception:  # (an error about the line itself, or no session): the fix is said without it
        return None
    return getattr(info, "kind", None)


def _task_wait(task: Any, on_status: Callable[[Any], None]) -> Any:
    """``VideoTask.wait`` with our progress callback (and the session's own bar off)."""
    return task.wait(progress=False, on_progress=on_status)


_TASK_IN_MESSAGE = re.compile(r"video task (\S+?)[.,;:]?(?:\s|$)")


def _task_id_of(exc: BaseException) -> str | None:
    """The task id an interrupt carries (as an attribute, or in the session's resume message)."""
    for name in ("task_id", "id"):
        value = getattr(exc, name, None)
        if isinstance(value, str):
            return value
    m = _TASK_IN_MESSAGE.search(str(exc))
    return m.group(1) if m else None


def _package() -> Any:
    import tokenhot_nb.magics as pkg

    return pkg


def _set_last_error(err: BaseException) -> None:
    from .. import errors

    _package().last_error = errors.last_error = err
