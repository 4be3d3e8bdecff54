"""The panel base classes: the session, busy state, the status line, the error box and background work.

Panels are a thin skin over the :class:`~tokenhot_nb.Session`: they read widgets, call the session's sync
methods on a worker thread (so the kernel stays free) and write results back into widgets. Widget trait
updates from a thread are safe; ``display()`` from a thread is not, so panels only ever set values and
children.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import ipywidgets as w

from .._config import redact
from .._safe import text_html
from ..errors import clean_text
from ._entries import entry_of, outputs
from ._media import INLINE_LIMIT

if TYPE_CHECKING:
    from .._session import Session
    from ..results import Result


#: A session call as a panel's click would make it: the method's name, its positional and its keyword arguments.
Call = tuple[str, tuple[Any, ...], dict[str, Any]]


@runtime_checkable
class _SessionShape(Protocol):
    """What every panel reads of its session before any call: its mode and model table (not ``history``: on
    Python 3.11 the check reads each attribute, and reading that one opens the store)."""

    mode: str

    def models(self, kind: str | None = None) -> Any: ...


def check_session(session: object) -> None:
    """What ``panel()`` and ``studio()`` were given as a session: 5 was an AttributeError from the model picker."""
    if session is not None and not isinstance(session, _SessionShape):
        from ..errors import WrongTypeError

        raise WrongTypeError(f"A panel takes a Session (or nothing, for the shared one), not {type(session).__name__}.",
                             hint="e.g. tokenhot_nb.panel('image', session=s) with s = tokenhot_nb.Session(…).")


def get_session(session: Session | None = None) -> Session:
    """The session passed in, else the shared default one (so everything lands in the same history)."""
    if session is not None:
        return session
    import tokenhot_nb

    return tokenhot_nb.session()


def error_text(exc: BaseException) -> str:
    """Plain words for the user: a TokenhotError's message and hint, else the exception's own text (any library's
    text may quote a header or a URL: redacted, and without terminal escapes, like every error front end shows)."""
    from ..errors import TokenhotError

    if isinstance(exc, TokenhotError):
        return str(exc)
    text = str(exc) or type(exc).__name__
    return redact(clean_text(f"{type(exc).__name__}: {text}"))


class Panel(w.VBox):
    """Base panel: a VBox with a status line, an error box and one background job at a time."""

    kind = ""

    def __init__(self, session: Session | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.session = get_session(session)
        self.status = w.HTML(value="", layout=w.Layout(min_height="1.5em"))
        self.error_box = w.HTML(value="", layout=w.Layout(display="none"))
        self.error_box.add_class("tokenhot-error")
        self.busy_widgets: list[w.Widget] = []
        self.thread: threading.Thread | None = None
        self._job = 0
        self.last_error: BaseException | None = None
        self.add_class("tokenhot-panel")
        if self.kind:
            self.add_class(f"tokenhot-{self.kind}")

    # -- callbacks -------------------------------------------------------------------------------
    def shielded(self, action: Callable[[], object]) -> Callable[..., None]:
        """``action`` as a button or observer callback whose error shows in the panel: ipywidgets sends a
        callback's exception to the log, where the user who clicked never sees it."""

        def handler(*_args: object) -> None:
            try:
                action()
            except Exception as exc:
                self.show_error(exc)

        return handler

    def follow(self, widget: w.ValueWidget, handler: Callable[[], object]) -> None:
        """Call ``handler`` now and whenever ``widget``'s value changes (options that follow a model picker)."""
        widget.observe(self.shielded(handler), names="value")
        handler()

    # -- feedback -------------------------------------------------------------------------------
    def _on_shared_session(self) -> bool:
        """Whether this panel works on the shared session (``%th_panel``, ``panel(name)``): a line its messages
        name runs on ``tokenhot_nb.session()`` then, whatever the notebook's own variables are called."""
        from .._session.default import current

        return self.session is not None and self.session is current()

    def show_error(self, exc: BaseException | str | None) -> None:
        """Put an error in the panel (never raise into the kernel: the user is looking at the panel)."""
        if exc is None:
            self.error_box.value = ""
            self.error_box.layout.display = "none"
            return
        text = exc if isinstance(exc, str) else error_text(exc)
        text = redact(clean_text(text))  # (a message of ours may quote a model id or a path from elsewhere)
        if self._on_shared_session():  # (session.resume(3) names a variable a %th_panel user does not have)
            from .._warn import for_magic_user

            text = for_magic_user(text)
        if not isinstance(exc, str):
            self.last_error = exc
        self.error_box.value = (
            '<div style="color:#a00;background:#fee;border:1px solid #e99;padding:6px;border-radius:4px;'
            f'white-space:pre-wrap">{html.escape(text)}</div>'
        )
        self.error_box.layout.display = None

    def say(self, text: str) -> None:
        self.status.value = f"<small>{text_html(text)}</small>"

    def required(self, widget: w.ValueWidget, message: str) -> str:
        """The widget's text, stripped; empty, with ``message`` in the error box, when nothing was typed."""
        text = str(widget.value or "").strip()
        if not text:
            self.show_error(message)
        return text

    def keyless(self, *fields: tuple[w.ValueWidget, str]) -> bool:
        """False, with one line in the error box, when a text field holds an API key (a paste gone wrong): the
        key would go to the model's provider, and a field's value is widget state saved with the notebook. The
        key is masked in its field, so sending again sends the mask."""
        held = []
        for widget, what in fields:
            text = str(widget.value or "")
            masked = redact(text)
            if masked != text:
                widget.value = masked
                held.append(what)
        if held:
            self.show_error(f"The {' and the '.join(held)} held an API key: nothing was sent, and the key is masked "
                            "in the box now. Send again to send it masked, or write it without the key.")
        return not held

    def on_show(self) -> None:
        """The panel's tab was opened: refresh what other panels may have changed (the history's lists)."""

    # -- price -----------------------------------------------------------------------------------
    def priced(self, line: w.HTML, watched: Sequence[w.ValueWidget], call: Callable[[], Call]) -> Callable[[], None]:
        """Keep ``line`` saying what a click would cost, since each one is paid for: ``call()`` gives the session
        method a click would call and its arguments, estimated again whenever a ``watched`` value changes (the
        price table was read for the model picker: an estimate sends nothing). Returns the update, for what else
        changes the price (a chat's thread, longer after each answer)."""

        def update(_change: object = None) -> None:
            line.value = self.price_text(call)

        for widget in watched:
            widget.observe(update, names="value")
        update()
        return update

    def price_text(self, call: Callable[[], Call]) -> str:
        """One small line: the estimate of the call ``call()`` gives; empty while the options cannot make a call
        yet (a seed half typed: the click says what is wrong)."""
        try:
            method, args, kwargs = call()
            price = self.session.estimate(method, *args, **kwargs)
        except Exception:
            return ""
        said = f"Cost: {price}" if price.known else "Cost: not known before it runs"
        if price.detail:  # (how it was worked out: "~8 input tokens, up to 4,096 output", "charged per task")
            said += f" ({price.detail})"
        return f'<small style="color:#555">{text_html(said)}</small>'

    @property
    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def still_busy(self) -> bool:
        """True, said in the status line, while a job runs: a click queued before the buttons greyed out must
        neither start a second paid call nor clear what the running one will show."""
        if self.busy:
            self.say("Still working on the previous request…")
            return True
        return False

    def _set_busy(self, busy: bool) -> None:
        for widget in self.busy_widgets:
            widget.disabled = busy

    # -- background work -------------------------------------------------------------------------
    def run(
        self,
        work: Callable[[], Any],
        done: Callable[[Any], None] | None = None,
        *,
        label: str = "Working…",
        failed: Callable[[BaseException], None] | None = None,
    ) -> threading.Thread | None:
        """Run ``work`` on a daemon thread; ``done(result)`` or the error box afterwards.

        Buttons in ``busy_widgets`` are disabled meanwhile, so a double click cannot start two calls.
        """
        if self.still_busy():
            return None
        self.show_error(None)
        self._set_busy(True)
        self.say(label)
        label_html = self.status.value
        started = time.monotonic()
        self._job += 1
        job = self._job

        def target() -> None:
            try:
                result = work()
            except BaseException as exc:  # shown in the panel, never lost in a thread
                if job != self._job:  # detached (e.g. a stopped stream): nothing to report
                    return
                if failed is not None:
                    failed(exc)
                self.show_error(exc)
                self.say("Failed.")
            else:
                if job != self._job:
                    return
                try:
                    if done is not None:
                        done(result)
                    if self.status.value == label_html:
                        self.say(f"Done in {time.monotonic() - started:.1f} s.")
                except BaseException as exc:
                    self.show_error(exc)
                    self.say("Done, but the result could not be shown here: it is in the history.")
            finally:
                if job == self._job:
                    self._set_busy(False)

        self.thread = threading.Thread(target=target, name=f"tokenhot-{self.kind or 'panel'}", daemon=True)
        self.thread.start()
        return self.thread

    def detach(self) -> None:
        """Forget the running job (its late results are dropped) and free the panel for the next one."""
        self._job += 1
        self.thread = None
        self._set_busy(False)

    def is_current(self, job: int) -> bool:
        return job == self._job

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the current job ends (tests and scripts); raises TimeoutError if it does not."""
        thread = self.thread
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"the {self.kind or 'panel'} job did not finish within {timeout} s")


class MediaPanel(Panel):
    """A panel that ends in a player (video, speech): the last result, the player box, and the step from a
    finished call to a player for its first output file."""

    def __init__(self, session: Session | None = None, *, inline_limit: int = INLINE_LIMIT) -> None:
        super().__init__(session)
        self.inline_limit = inline_limit
        self.result: Result | None = None
        self.player = w.Box()
        self.player.add_class("tokenhot-player")

    def show_output(self, result: Result, role: str, make_player: Callable[[Path, dict[str, Any]], w.Widget], *,
                    missing: str, ready: str, every: bool = False) -> Path | None:
        """A player for ``result``'s first ``role`` output (``every``: one for each, as a video task that made
        several keeps them all), and "<ready> · N KB · entry #id" in the status line; ``missing`` in the error box
        (and None) when the call left no such file."""
        self.result = result
        entry = entry_of(result)
        items = outputs(self.session, entry, (role,)) if entry is not None else []
        if not items:
            self.show_error(missing)
            return None
        shown = items if every else items[:1]
        self.player.children = [make_player(path, art) for path, art in shown]
        count = f" · {len(shown)} {role}s" if len(shown) > 1 else ""
        size = sum(path.stat().st_size for path, _ in shown) // 1024
        self.say(f"{ready}{count} · {size} KB · entry #{entry.id if entry is not None else '?'}")
        return items[0][0]
