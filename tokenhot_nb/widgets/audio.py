"""Audio: text to speech with a voice and a player; transcription / translation of uploaded or earlier audio."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ._entries import entry_label, entry_of, history_entries, outputs
from ._media import INLINE_LIMIT, audio_widget
from ._panel import Call, MediaPanel
from ._pickers import chosen, model_info, model_picker, set_options
from ._uploads import uploaded

if TYPE_CHECKING:
    from .._session import Session
    from ..catalog import ModelInfo
    from ..results import AudioResult, TranscriptResult

UPLOAD = ""


def _speaks(info: ModelInfo) -> bool:
    return bool(info.choices("voices")) or "audio.speech" in info.endpoints


def _listens(info: ModelInfo) -> bool:
    return info.can("transcribe") or "audio.transcriptions" in info.endpoints


class AudioPanel(MediaPanel):
    """Speak text, or turn speech into text (transcribe in its language, or translate to English)."""

    kind = "audio"

    def __init__(self, session: Session | None = None, *, inline_limit: int = INLINE_LIMIT) -> None:
        super().__init__(session, inline_limit=inline_limit)
        # speech
        self.text = w.Textarea(placeholder="Text to speak…", layout=w.Layout(width="100%", height="4em"))
        self.tts_model = model_picker(self.session, "audio", _speaks)
        self.voice = w.Dropdown(description="Voice", layout=w.Layout(width="220px"))
        self.speak_button = w.Button(description="Speak", button_style="primary", icon="volume-up")
        self.speak_price = w.HTML(layout=w.Layout(min_height="1.2em"))
        # transcription
        self.stt_model = model_picker(self.session, "audio", _listens)
        self.source = w.Dropdown(description="Audio", layout=w.Layout(width="max-content", min_width="320px"))
        self.upload = w.FileUpload(accept="audio/*,video/mp4", multiple=False, description="Upload audio")
        self.task = w.ToggleButtons(options=[("Transcribe", "transcribe"), ("Translate to English", "translate")],
                                    value="transcribe")
        self.format = w.Dropdown(description="Format", layout=w.Layout(width="200px"))
        self.language = w.Dropdown(description="Language", layout=w.Layout(width="200px"))
        self.listen_button = w.Button(description="Transcribe", button_style="primary", icon="file-text")
        self.listen_price = w.HTML(layout=w.Layout(min_height="1.2em"))
        self.transcript = w.Textarea(layout=w.Layout(width="100%", height="8em"))
        self.transcript.add_class("tokenhot-transcript")
        self.busy_widgets = [self.speak_button, self.listen_button]

        self.task.observe(self.shielded(self._task_changed), names="value")
        self.follow(self.tts_model, self._tts_changed)
        self.follow(self.stt_model, self._stt_changed)
        self.upload.observe(self.shielded(lambda: self.refresh_sources(select=UPLOAD)), names="value")
        self.priced(self.speak_price, [self.text, self.tts_model, self.voice],
                    lambda: ("speak", (self.text.value.strip() or "Hello",), self._speech_options()))
        self.speak_button.on_click(self.shielded(self.speak))
        self.listen_button.on_click(self.shielded(self.listen))
        self.refresh_sources()
        # (the audio chosen: an estimate sends nothing; with none yet the line waits, as the click would)
        self.priced(self.listen_price, [self.source, self.upload, self.stt_model, self.task, self.format,
                                        self.language], self._listen_call)
        self.children = [
            w.HTML("<b>Text to speech</b>"),
            self.text,
            w.HBox([self.tts_model, self.voice], layout=w.Layout(flex_flow="row wrap")),
            self.speak_button,
            self.speak_price,
            self.player,
            w.HTML("<b>Speech to text</b>"),
            w.HBox([self.source, self.upload], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.stt_model, self.task], layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.format, self.language], layout=w.Layout(flex_flow="row wrap")),
            self.listen_button,
            self.listen_price,
            self.transcript,
            self.status,
            self.error_box,
        ]

    def _tts_changed(self, _change: object = None) -> None:
        if self.tts_model.value is None:
            return
        info = model_info(self.tts_model.value)
        set_options(self.voice, info.choices("voices"), prefer=info.defaults.get("voice"))

    def _stt_changed(self, _change: object = None) -> None:
        if self.stt_model.value is None:
            return
        info = model_info(self.stt_model.value)
        set_options(self.format, info.choices("formats"), blank=None, prefer=info.defaults.get("format", "json"))
        set_options(self.language, info.choices("languages"), blank="detect")
        self._task_changed()

    def _task_changed(self, _change: object = None) -> None:
        translate = self.task.value == "translate"
        self.listen_button.description = "Translate" if translate else "Transcribe"
        self.language.layout.display = "none" if translate or len(self.language.options) <= 1 else None

    def on_show(self) -> None:
        self.refresh_sources()

    def refresh_sources(self, select: str | None = None) -> None:
        """Earlier audio from the history (spoken results) next to the uploaded file."""
        files = uploaded(self.upload)
        opts: list[tuple[str, str]] = [(f"uploaded: {files[0][1]}" if files else "uploaded file", UPLOAD)]
        for entry in history_entries(self.session, ("speak",), ("ok",), limit=20):
            for path, _art in outputs(self.session, entry, ("audio",))[:1]:
                opts.append((entry_label(entry, 40), str(path)))
        current = select if select is not None else self.source.value
        values = [v for _, v in opts]
        if current not in values or (current == UPLOAD and not files):
            current = values[1] if len(values) > 1 and not files else UPLOAD
        self.source.options = opts
        self.source.value = current

    # -- work --------------------------------------------------------------------------------------
    def _speech_options(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": self.tts_model.value}
        if chosen(self.voice) is not None:
            kw["voice"] = chosen(self.voice)
        return kw

    def speak(self) -> None:
        if self.still_busy():
            return
        if not self.keyless((self.text, "text")):
            return
        text = self.required(self.text, "Type the text to speak first.")
        if not text:
            return
        kw = self._speech_options()
        session = self.session
        self.player.children = []
        self.run(lambda: session.speak(text, **kw), self._show_speech, label="Speaking…")

    def _show_speech(self, result: AudioResult) -> None:
        ready = ("Speech ready, but cut at the model's output limit: the end of the text is not in it"
                 if result.cut else "Speech ready")
        if self.show_output(result, "audio",
                            lambda path, art: audio_widget(path, art.get("mime") or "audio/wav", self.inline_limit),
                            missing="The speech finished but no audio file came back.", ready=ready):
            self.refresh_sources()

    def audio_input(self) -> bytes | Path:
        if self.source.value == UPLOAD:
            files = uploaded(self.upload)
            if not files:
                raise ValueError("Upload an audio file or pick an earlier one under Audio.")
            return files[0][0]
        return Path(self.source.value)

    def _listen_options(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": self.stt_model.value, "format": self.format.value}
        if self.task.value != "translate" and chosen(self.language) is not None:
            kw["language"] = chosen(self.language)
        return kw

    def _listen_call(self) -> Call:
        """The call a click on Transcribe (or Translate) would make now, for its price."""
        return self.task.value, (self.audio_input(),), self._listen_options()

    def listen(self) -> None:
        if self.still_busy():
            return
        try:
            audio = self.audio_input()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        kw = self._listen_options()
        translate = self.task.value == "translate"
        session = self.session
        method = session.translate if translate else session.transcribe
        self.transcript.value = ""
        self.run(lambda: method(audio, **kw), self._show_transcript,
                 label="Translating…" if translate else "Transcribing…")

    def _show_transcript(self, result: TranscriptResult) -> None:
        self.result = result
        fmt = self.format.value
        self.transcript.value = result.body if fmt in ("srt", "vtt") and result.body else result.text
        entry = entry_of(result)
        self.say(f"{len(self.transcript.value)} characters · entry #{entry.id if entry is not None else '?'}")
