"""Chat: a thread view whose last answer grows as the stream arrives, with Stop and New thread."""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .._safe import markdown_html, text_html
from ..errors import SchemaMismatchError, StreamError
from ._entries import entry_of
from ._panel import Panel
from ._pickers import model_info, model_picker, set_options

if TYPE_CHECKING:
    from .._session import Session
    from ..catalog import ModelInfo
    from ..families._types import ChatDelta
    from ..results import ChatResult


class StreamStopped(Exception):
    """Raised from the delta callback after Stop, so the session stops consuming the stream and closes the
    entry with the partial answer. A plain Exception on purpose: a KeyboardInterrupt raised on the session's
    loop thread could stop that loop."""

    def __init__(self) -> None:
        super().__init__("Stopped by the user.")


#: How the API picker names the catalogue's chat endpoints.
API_LABELS = {
    "chat.completions": "Chat Completions",
    "responses": "Responses (OpenAI)",
    "messages": "Messages (Claude native)",
    "gemini.stream": "Gemini native",
}


def panel_endpoints(info: ModelInfo) -> list[str]:
    """The APIs the panel can ask ``info`` through, default first. The panel always streams, so Gemini's
    generate endpoint is offered as its streaming twin."""
    eps = ["gemini.stream" if ep == "gemini.generate" else ep for ep in info.endpoints]
    return list(dict.fromkeys(ep for ep in eps if ep in API_LABELS))


_numbers = itertools.count(1)


def _thread_name() -> str:
    """Each panel thread gets its own name, so it never mixes with the magics' default thread. Numbered in the
    order panels start threads, not random: the name is part of a chat call's replay key, so a notebook re-run
    in replay mode must ask with the names its recording run used (a first message starts the thread afresh,
    so a name seen in an older run of the store is never continued)."""
    return f"panel-{next(_numbers)}"


def _bubble(role: str, text: str, note: str = "") -> str:
    """One message: the user's as text, the assistant's as Markdown through the one safe renderer."""
    color = "#eef4ff" if role == "user" else "#f6f6f6"
    who = "You" if role == "user" else "Assistant"
    tail = f' <i style="color:#a60">{text_html(note)}</i>' if note else ""
    if role == "user":  # (text_html masks a key pasted into the message, as the history masks it)
        body = f'<span class="tokenhot-text" style="white-space:pre-wrap">{text_html(text)}</span>'
    else:
        body = f'<div class="tokenhot-text">{markdown_html(text)}</div>'
    return (
        f'<div class="tokenhot-msg tokenhot-{role}" style="background:{color};border-radius:6px;padding:6px 8px;'
        f'margin:3px 0"><b>{who}:</b> {body}{tail}</div>'
    )


def _shown(result: ChatResult) -> str:
    """The answer as the bubble shows it: data (JSON mode) as a formatted JSON block, text as Markdown."""
    if result.data is None:
        return result.text
    body = json.dumps(result.data, indent=2, ensure_ascii=False, default=str)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", body)), default=0))
    return f"{fence}json\n{body}\n{fence}"


class ChatPanel(Panel):
    """Send messages in a thread; the answer streams in and can be stopped (the partial answer stays)."""

    kind = "chat"

    def __init__(self, session: Session | None = None) -> None:
        super().__init__(session)
        self.model = model_picker(self.session, "chat")
        self.api = w.Dropdown(description="API", layout=w.Layout(width="max-content", min_width="260px"))
        self.system = w.Text(placeholder="System prompt (optional)", layout=w.Layout(width="100%"))
        self.as_json = w.Checkbox(description="Answer as JSON", indent=False,
                                  tooltip="The answer is checked as JSON and shown formatted; it is .data of "
                                          "panel.result")
        self.thread_box = w.VBox(layout=w.Layout(max_height="420px", overflow="auto", width="100%"))
        self.thread_box.add_class("tokenhot-thread")
        self.input = w.Textarea(placeholder="Message…", layout=w.Layout(width="100%", height="4em"))
        self.send = w.Button(description="Send", button_style="primary", icon="paper-plane")
        self.price = w.HTML(layout=w.Layout(min_height="1.2em"))
        self.stop = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.new_thread = w.Button(description="New thread", icon="plus")
        self.busy_widgets = [self.send, self.model, self.api, self.new_thread, self.as_json]
        self.thread_id = _thread_name()
        self.result: ChatResult | None = None
        self.answer: w.HTML | None = None
        self.text = ""
        self.stopped = False
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._new = True

        self.follow(self.model, self._model_changed)
        self.send.on_click(self.shielded(self.start))
        self.stop.on_click(self.shielded(self.cancel))
        self.new_thread.on_click(self.shielded(self.reset))
        self.reprice = self.priced(self.price, [self.input, self.model, self.api, self.system, self.as_json],
                                   lambda: ("chat", (self.input.value.strip() or "Hello",), self._options()))
        self.children = [
            w.HTML("<b>Chat</b>"),
            w.HBox([self.model, self.api, self.new_thread, self.as_json], layout=w.Layout(flex_flow="row wrap")),
            self.system,
            self.thread_box,
            self.input,
            w.HBox([self.send, self.stop]),
            self.price,
            self.status,
            self.error_box,
        ]

    def _model_changed(self, _change: object = None) -> None:
        """Offer the APIs this model is served on (Chat Completions, Responses, Claude or Gemini native)."""
        if self.model.value is None:
            return
        info = model_info(self.model.value)
        eps = panel_endpoints(info)
        self.api.options = []  # each model starts on its own default API
        set_options(self.api, eps, blank=None, prefer=info.preset.get("endpoint") or (eps[0] if eps else None),
                    labels=lambda ep: API_LABELS.get(ep, ep))
        self.api.layout.display = None if len(eps) > 1 else "none"

    def endpoint(self) -> str | None:
        """The API picked, or None when it is the model's default (so the call records no endpoint option)."""
        eps = panel_endpoints(model_info(self.model.value))
        picked = self.api.value
        return picked if picked and eps and picked != eps[0] else None

    def _options(self) -> dict[str, Any]:
        """What a Send passes to ``session.chat`` besides the message (the thread, with its turns so far)."""
        kw: dict[str, Any] = {"model": self.model.value, "stream": True}
        endpoint = self.endpoint()
        if endpoint is not None:
            kw["endpoint"] = endpoint
        if self.system.value.strip():
            kw["system"] = self.system.value.strip()
        if self.as_json.value:
            kw["json"] = True
        kw["thread"] = self.thread_id
        if self._new:
            kw["new_thread"] = True
        return kw

    def reset(self) -> None:
        """Start a new thread: the next message carries no earlier turns."""
        if self.busy:
            self.cancel()
        self.thread_box.children = []
        self.thread_id = _thread_name()
        self._new = True
        self.reprice()
        self.say("New thread.")

    def start(self) -> None:
        if self.busy:  # (a click queued before Send greyed out: the message stays typed, Stop keeps its stream)
            self.say("Still answering: wait for the answer or Stop it, then Send again.")
            return
        if not self.keyless((self.input, "message"), (self.system, "system prompt")):
            return
        message = self.required(self.input, "Type a message first.")
        if not message:
            return
        self.input.value = ""
        self.stopped = False
        self._stop_event = stop = threading.Event()
        self.text = ""
        user = w.HTML(_bubble("user", message))
        answer = w.HTML(_bubble("assistant", "…"))
        answer.add_class("tokenhot-answer")
        self.answer = answer
        self.thread_box.children = [*self.thread_box.children, user, answer]
        kw = self._options()
        session = self.session

        def on_delta(_delta: ChatDelta, text_so_far: str) -> None:
            with self._lock:
                if stop.is_set():
                    raise StreamStopped()
                self.text = text_so_far
                answer.value = _bubble("assistant", text_so_far)

        def work() -> Any:
            return session.chat(message, on_delta=on_delta, **kw)

        def failed(exc: BaseException) -> None:
            self.stop.disabled = True
            from ..results import ChatResult

            if isinstance(exc, SchemaMismatchError) and isinstance(exc.result, ChatResult):
                # a whole, paid answer that is no JSON: a turn of the thread (the next message goes on from it,
                # not as a new thread), shown as it came, not as an interrupted one
                self.result, self.text, self._new = exc.result, exc.result.text, False
                answer.value = _bubble("assistant", exc.result.text, "(not JSON: see the error below)")
                answer.add_class("tokenhot-final")
                self.reprice()
                return
            partial = (exc.partial_text if isinstance(exc, StreamError) else "") or self.text
            if partial:
                answer.value = _bubble("assistant", partial, "(interrupted)")
                return
            # nothing came back (a budget refusal, a bad character, a refused request): no bubble left waiting,
            # and the message back in the box to fix or send again, unless something new was typed meanwhile
            answer.value = _bubble("assistant", "", "(no answer: see the error below)")
            if not self.input.value:
                self.input.value = message

        self.stop.disabled = False
        self.run(work, self._done, label="Waiting for the answer…", failed=failed)

    def _done(self, result: ChatResult) -> None:
        self.stop.disabled = True
        self.result = result
        self.text = result.text
        if self.answer is not None:
            self.answer.value = _bubble("assistant", _shown(result))
            self.answer.add_class("tokenhot-final")
        entry = entry_of(result)
        self._new = False
        self.reprice()  # (the thread is a turn longer: the next message carries it)
        api = API_LABELS.get(entry.endpoint, "") if entry is not None else ""
        self.say(f"Answered by {self.model.value}" + (f" via {api}" if api else "")
                 + (f" · entry #{entry.id}" if entry is not None else ""))

    def cancel(self) -> None:
        """Stop the stream now: keep the partial answer, mark it stopped and free the panel."""
        if not self.busy:
            return
        with self._lock:
            self._stop_event.set()
        self.stopped = True
        self.stop.disabled = True
        if self.answer is not None:
            self.answer.value = _bubble("assistant", self.text, "(stopped)")
            self.answer.add_class("tokenhot-final")
        self.detach()
        self.say("Stopped; the partial answer is kept.")
