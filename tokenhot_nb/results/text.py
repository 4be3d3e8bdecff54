"""ChatResult and TranscriptResult: text answers, rendered as Markdown / HTML."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._safe import markdown_html, text_html
from ..errors import InputError
from ..families._types import NOT_JSON, Choice, Segment, ToolCall, Usage, set_apart_said
from ._base import Result
from ._save import destinations, write_text

if TYPE_CHECKING:
    from .._session import Session
    from ..history import HistoryEntry


class ChatResult(Result):
    """A chat answer. ``str(result)`` is the text; ``.reasoning`` shows collapsed; ``.usage`` the tokens.

    ``.data`` is the structured answer of a ``schema=`` (the pydantic object or the dict) or ``json=True`` call;
    ``.tool_calls`` the functions the model asked to call (answer them with ``chat(tool_results={id: …})``).
    ``.choices`` every answer of the call (``n=3`` gives three, each paid for); ``choices[0]`` is this answer
    (``.text`` …), and it is the one a thread keeps.
    """

    kind = "chat"

    def __init__(self, text: str, *, reasoning: str = "", usage: Usage | None = None,
                 finish_reason: str | None = None, thread: str | None = None, prompt: str = "",
                 model: str = "", entry: HistoryEntry | None = None, session: Session | None = None,
                 data: Any = None, tool_calls: list[ToolCall] | None = None,
                 others: list[Choice] | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.text = text
        self.reasoning = reasoning
        self.usage = usage or Usage()
        # a label from the relay (or an old row): a number there is shown, never a reason to fail displaying
        self.finish_reason = None if finish_reason is None else str(finish_reason)
        self.thread = thread
        self.prompt = prompt
        self.data = data
        self.tool_calls: list[ToolCall] = list(tool_calls or [])
        self._others: list[Choice] = list(others or [])
        #: tool calls never whole, arguments as far as they came (text, marked ``incomplete``): a broken stream's
        #: (in ``err.partial``) or an answer's cut at max_tokens (ask again with a larger ``max_tokens=``); never
        #: ``tool_calls``, which a notebook answers or runs
        self.cut_tool_calls: list[dict[str, Any]] = []

    @property
    def choices(self) -> list[Choice]:
        """Every answer the call returned, in the relay's order: this one first, then those of ``n=``."""
        return [Choice(self.text, self.reasoning, self.finish_reason, list(self.tool_calls),
                       list(self.cut_tool_calls)), *self._others]

    def __str__(self) -> str:
        return self.text

    def markdown(self) -> str:
        """The answer's Markdown source, as the model wrote it (untrusted text: display it through ``html()``)."""
        return self.text

    def _foot(self) -> str:
        foot = [self.model] if self.model else []
        if self.usage.total_tokens:
            foot.append(f"{self.usage.total_tokens} tokens")
        if self.entry is not None and self.entry.cost.known:
            foot.append(str(self.entry.cost))
        if self._others:
            foot.append(f"{1 + len(self._others)} choices (.choices)")
        if self.thread:
            foot.append(f"thread {self.thread!r}")
        if self.entry_id is not None:
            foot.append(f"history #{self.entry_id}")
        if self.finish_reason and self.finish_reason.lower() not in ("stop", "end_turn", "completed"):
            foot.append(f"finish: {self.finish_reason}")
        return " · ".join(foot)

    def html(self) -> str:
        """The answer rendered from Markdown and sanitised (model output is data: nothing in it can run)."""
        calls = "".join(
            '<div style="font:12px monospace">&#128295; '
            + text_html(f"{c.name}({json.dumps(c.arguments, ensure_ascii=False, default=str)})  [{c.id}]") + "</div>"
            for c in self.tool_calls) + "".join(
            '<div style="font:12px monospace;color:#a60">&#9986; '
            + text_html(f"{_set_apart(c)}  [{c.get('id')}] {set_apart_said(c)}")
            + "</div>" for c in self.cut_tool_calls)
        text = self.text if self.data is None else json_block(self.text, self.data)
        return answer_html(text, self.reasoning, foot=self._foot(), tail=calls + self._others_html())

    def _others_html(self) -> str:
        """The other answers of an ``n=`` call, folded away under the first (untrusted text: sanitised)."""
        if not self._others:
            return ""
        parts = [f"<details><summary>{1 + len(self._others)} choices: "
                 f"{len(self._others)} more below</summary>"]
        for i, c in enumerate(self._others, 1):
            calls = ", ".join([f"{t.name}({json.dumps(t.arguments, ensure_ascii=False, default=str)})"
                               for t in c.tool_calls] + [f"{_set_apart(t)} {set_apart_said(t)}"
                                                         for t in c.cut_tool_calls])
            parts.append(f'<div style="font:11px sans-serif;color:#888">choice {i}'
                         f'{text_html(" · finish: " + c.finish_reason) if c.finish_reason else ""}</div>'
                         f"{markdown_html(c.text)}"
                         + (f'<div style="font:12px monospace">&#128295; {text_html(calls)}</div>' if calls else ""))
        parts.append("</details>")
        return "".join(parts)

    _repr_html_ = html

    def save(self, path: str | os.PathLike[str] = ".", stem: str | None = None) -> Path:
        """Write the answer out and return the new path: to a folder (``<stem>.md``, by default
        ``tokenhot-<entry id>``; ``.json`` for a structured answer), or under a file name whose suffix picks the
        form (``"answer.md"`` / ``"answer.txt"`` the text, ``"answer.json"`` the data of a ``json=`` / ``schema=``
        answer, else the text with its model, usage and history id)."""
        default = f"tokenhot-{self.entry_id}" if self.entry_id is not None else f"tokenhot-{self.kind}"
        dest = destinations(path, default, stem, [".json" if self.data is not None else ".md"])[0]
        return write_text(dest, self._as(dest))

    def _as(self, dest: Path) -> str:
        """The answer in the form ``dest``'s suffix names; another suffix is one line, nothing written."""
        suffix = dest.suffix.lower()
        if suffix in (".md", ".txt"):
            return _ended(self.text)
        if suffix == ".json":
            if self.data is not None:
                dump = getattr(self.data, "model_dump", None)  # (a pydantic object: its JSON form)
                value = dump(mode="json") if callable(dump) else self.data
            else:
                from dataclasses import asdict

                usage = {k: v for k, v in asdict(self.usage).items() if k != "raw" and v}
                value = {k: v for k, v in {
                    "text": self.text, "model": self.model or None, "prompt": self.prompt or None,
                    "reasoning": self.reasoning or None, "thread": self.thread, "finish_reason": self.finish_reason,
                    "usage": usage, "history_id": self.entry_id,
                    "tool_calls": [c.as_dict() for c in self.tool_calls] or None,
                }.items() if v is not None}
            from .._config import redact  # (a prompt holding a pasted key: as the history keeps it)

            return redact(json.dumps(value, ensure_ascii=False, indent=2, default=str)) + "\n"
        raise InputError(f"A chat answer is saved as .md, .txt or .json, not {suffix or 'a name with no suffix'}.",
                         hint=f"e.g. result.save({dest.with_suffix('.md').name!r}), or to a folder.")

    def _plain(self) -> str:
        return self.text

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}


def json_block(text: str, data: Any) -> str:
    """A structured answer (``json=True``, ``schema=``) as a fenced JSON block. Read as Markdown, its backslash
    escapes were eaten and its stars became emphasis: what showed was neither the answer nor JSON."""
    try:
        value = json.loads(text)
    except ValueError:  # (fenced by the model, or cut): the parsed data
        dump = getattr(data, "model_dump", None)
        value = dump(mode="json") if callable(dump) else data
    body = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", body)), default=0))
    return f"{fence}json\n{body}\n{fence}"


def answer_html(text: str, reasoning: str = "", *, foot: str = "", tail: str = "") -> str:
    """A chat answer as safe HTML: reasoning folded away, the Markdown answer, a small footer.

    ``tail`` is trusted markup of ours (the streaming cursor); ``text``, ``reasoning`` and ``foot`` are not.
    """
    parts = ['<div class="tokenhot-chat-answer">']
    if reasoning:
        parts.append(f"<details><summary>{REASONING_SUMMARY} ({len(reasoning):,} chars)</summary>"
                     f"{markdown_html(reasoning)}</details>")
    parts.append(markdown_html(text))
    if tail:
        parts.append(tail)
    if foot:
        parts.append(f'<div style="font:11px sans-serif;color:#888">{text_html(foot)}</div>')
    parts.append("</div>")
    return "".join(parts)


REASONING_SUMMARY = "Reasoning"


def _shown(value: Any) -> str:
    """A segment time for the table: seconds with two decimals, or "?" when the relay sent no usable time."""
    from ..families.audio import usable_time

    seconds = usable_time(value)
    return "?" if seconds is None else f"{seconds:.2f}"


def _set_apart(call: dict[str, Any]) -> str:
    """A set-apart tool call as written: ``name(arguments…`` where they were cut off, ``name(arguments)`` where the
    model sent them whole but as no JSON object (a ``…`` there said they were cut, which they were not)."""
    end = ")" if call.get(NOT_JSON) else "…"
    return f"{call.get('name')}({call.get('arguments')}{end}"


def _ended(text: str) -> str:
    """A saved text file's content: ending with a newline, as a text file does."""
    return text if text.endswith("\n") or not text else text + "\n"


_SUFFIXES = {"srt": ".srt", "vtt": ".vtt", "json": ".json", "verbose_json": ".json", "text": ".txt"}


class TranscriptResult(Result):
    """Whisper output: ``.text``, ``.segments``, ``.srt``/``.vtt`` (from the body or the segments), ``.save()``."""

    kind = "transcribe"

    def __init__(self, text: str, *, segments: list[Segment] | None = None, format: str = "json",
                 body: str = "", language: str | None = None, duration: float | None = None,
                 model: str = "", entry: HistoryEntry | None = None, session: Session | None = None) -> None:
        super().__init__(model=model, entry=entry, session=session)
        self.text = text
        self.segments = segments or []
        self.format = format
        self.body = body
        self.language = language
        self.duration = duration

    def __str__(self) -> str:
        return self.text

    @property
    def srt(self) -> str | None:
        if self.format == "srt" and self.body:
            return self.body
        if not self.segments:
            return None
        from ..families.audio import cues_body

        return cues_body("srt", self.segments)

    @property
    def vtt(self) -> str | None:
        if self.format == "vtt" and self.body:
            return self.body
        if not self.segments:
            return None
        from ..families.audio import cues_body

        return cues_body("vtt", self.segments)

    def save(self, path: str | os.PathLike[str] = ".", stem: str | None = None) -> Path:
        """Write the transcript out and return the new path: to a folder (``<stem><ext>``, by default
        ``tokenhot-<entry id>``, the extension of its format: .srt, .vtt, .json, .txt), or under a file name whose
        suffix picks the form (``"talk.srt"`` from the segments, ``"talk.txt"`` the text, ``"talk.json"``)."""
        default = f"tokenhot-{self.entry_id}" if self.entry_id is not None else f"tokenhot-{self.kind}"
        own = _SUFFIXES.get(str(self.format).lower(), ".txt")
        dest = destinations(path, default, stem, [own])[0]
        return write_text(dest, self._as(dest))

    def _as(self, dest: Path) -> str:
        """The transcript in the form ``dest``'s suffix names; a form it cannot take is one line, nothing written."""
        suffix = dest.suffix.lower()
        if suffix == ".txt":
            return _ended(self.text)
        if suffix in (".srt", ".vtt"):
            cues = self.srt if suffix == ".srt" else self.vtt
            if cues is None:
                raise InputError(f"This transcript has no timed segments: it cannot be saved as {suffix}.",
                                 hint=f"Save it as {dest.with_suffix('.txt').name!r}, or transcribe with "
                                      f"format='{suffix[1:]}' or 'verbose_json' to get timings.")
            return cues
        if suffix == ".json":
            if self.format in ("json", "verbose_json") and self.body:
                try:
                    json.loads(self.body)
                except ValueError:
                    pass  # (a relay that answered a JSON request in plain text: written as JSON below)
                else:
                    return self.body  # as received (the store's copy, key-safe)
            from ..families.audio import usable_time  # (a time no JSON can hold, NaN, is null)

            obj: dict[str, Any] = {"text": self.text}
            if self.language:
                obj["language"] = self.language
            if usable_time(self.duration) is not None:
                obj["duration"] = self.duration
            if self.segments:
                obj["segments"] = [{"start": usable_time(s.start), "end": usable_time(s.end), "text": s.text}
                                   for s in self.segments]
            return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"
        raise InputError(f"A transcript is saved as .txt, .srt, .vtt or .json, not {suffix}.",
                         hint=f"e.g. result.save({dest.with_suffix('.txt').name!r}), or to a folder.")

    def html(self) -> str:
        out = f'<div style="white-space:pre-wrap">{text_html(self.text)}</div>'
        if self.segments:
            rows = "".join(
                f"<tr><td>{_shown(s.start)}</td><td>{_shown(s.end)}</td><td>{text_html(s.text)}</td></tr>"
                for s in self.segments
            )
            out += (f"<details><summary>{len(self.segments)} segments</summary><table><tr><th>start</th>"
                    f"<th>end</th><th>text</th></tr>{rows}</table></details>")
        return out + self._footer()

    _repr_html_ = html

    def _plain(self) -> str:
        return self.text

    def _bundle(self) -> dict[str, Any]:
        return {"text/html": self.html()}
