"""Speech falls back to the model's next endpoint when the relay does not serve the first one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _session_support import Recorder, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import AuthenticationError, ReplayMissError

NOT_SERVED = {"X-Sim-Faults": json.dumps({"fail_first": {"404": 1}})}


def test_gemini_tts_falls_back_to_audio_speech(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    res = s.speak("Hello from the fallback.", model="gemini-2.5-flash-preview-tts", headers=NOT_SERVED)
    paths = [r["path"] for r in rec.requests if r["method"] == "POST"]
    assert paths == ["/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", "/v1/audio/speech"]
    assert res.duration > 0.5 and res.entry.params["endpoint"] == "audio.speech"
    failed, ok = s.history[-2], s.history[-1]
    assert (failed.status, failed.error["status"], ok.status) == ("error", 404, "ok")
    s.close()


def test_other_errors_do_not_fall_back(tmp_path: Path) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    with pytest.raises(AuthenticationError):
        s.speak("x", headers={"X-Sim-Faults": json.dumps({"fail_first": {"401": 1}})})
    assert sum(r["method"] == "POST" for r in rec.requests) == 1
    s.close()


def test_replay_finds_a_fallback_recording(tmp_path: Path) -> None:
    s = make_session(tmp_path / "st", Recorder())
    first = s.speak("Replay me.", model="gemini-tts", headers=NOT_SERVED)
    s.close()
    replay = Session(mode="replay", store=tmp_path / "st")
    again = replay.speak("Replay me.", model="gemini-tts")
    assert again.wav == first.wav
    with pytest.raises(ReplayMissError):
        replay.speak("Never recorded.", model="gemini-tts")
    replay.close()
