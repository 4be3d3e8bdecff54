"""Every built-in video model end to end: offline (in-process simulator) and live over loopback HTTP, from the
Session and from ``%%th_video``; each sends its §10.2 body, which the simulator accepts (it refuses others)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _session_support import Recorder, make_session
from IPython.testing.globalipapp import start_ipython
from IPython.utils.capture import capture_output

import tokenhot_nb
from tokenhot_nb import Session, catalog
from tokenhot_nb.catalog import ModelInfo
from tokenhot_nb.results import VideoResult

IMAGE = "https://cdn.example.com/first.png"
VIDEO = "https://cdn.example.com/in.mp4"
MODELS = catalog.models("video")


def _shortest(m: ModelInfo) -> int | None:
    allowed = [d for d in m.choices("durations") if d > 0]
    return min(allowed) if allowed else None


def _inputs(m: ModelInfo) -> dict[str, Any]:
    kw: dict[str, Any] = {"duration": _shortest(m)}
    if m.can("requires_image"):
        kw["image"] = IMAGE
    if m.can("requires_video"):
        kw["video"] = VIDEO
    return kw


def _check_body(m: ModelInfo, body: dict[str, Any]) -> None:
    """The §10.2 shape of each family (the simulator checked the details when it accepted the body)."""
    assert body["model"] == m.id
    shape = {
        "seedance": lambda b: b["content"][0] == {"type": "text", "text": "a red kite"} and "metadata" not in b,
        "happyhorse": lambda b: b["input"]["prompt"] == "a red kite" and "parameters" in b,
        "wan-video": lambda b: b["input"]["prompt"] == "a red kite" and "parameters" in b,
        "kling": lambda b: b["prompt"].endswith("a red kite") and "size" in b,
        "veo": lambda b: b["generationType"] in ("TEXT_2_VIDEO", "FIRST_AND_LAST_FRAMES_2_VIDEO"),
        "grok-video": lambda b: b["input"]["image_urls"] == [IMAGE],
        "gemini-omni-video": lambda b: isinstance(b["input"]["duration"], str),
        "hailuo": lambda b: b["prompt"] == "a red kite",
    }[m.family]
    assert shape(body), body


def _check_result(m: ModelInfo, res: Any) -> None:
    assert isinstance(res, VideoResult) and res.path.is_file() and res.entry.status == "ok"
    want = _shortest(m)
    if want is not None:
        assert res.duration == pytest.approx(want, abs=0.3)
    assert res.entry.response["quota"] > 0 and res.entry.usage["video_seconds"] > 0


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.id)
def test_every_video_model_offline(tmp_path: Path, m: ModelInfo) -> None:
    rec = Recorder()
    s = make_session(tmp_path / "st", rec)
    try:
        res = s.video("a red kite", model=m.id, progress=False, **_inputs(m))
        _check_result(m, res)
        _check_body(m, rec.json(0, "/video/generations"))
    finally:
        s.close()


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.id)
def test_every_video_model_live_over_loopback(tmp_path: Path, sim_url: str, m: ModelInfo) -> None:
    s = Session(api_key="sk-loopback-video-1234", base_url=sim_url, mode="live", store=tmp_path / "st",
                poll_interval=0.001)
    try:
        res = s.video("a red kite", model=m.id, progress=False, **_inputs(m))
        _check_result(m, res)
        _check_body(m, res.entry.request["json"])
    finally:
        s.close()


@pytest.fixture(scope="module")
def ip() -> Any:
    from IPython import get_ipython

    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "tokenhot_nb")
    return shell


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.id)
def test_every_video_model_from_the_magic(ip: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          m: ModelInfo) -> None:
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "store"))
    tokenhot_nb.session(reset=True).settings.poll_interval = 0.01
    kw = _inputs(m)
    line = f"%%th_video -m {m.id} -o clip"
    line += f" --duration {kw['duration']}" if kw["duration"] else ""
    line += f" --image {IMAGE}" if "image" in kw else ""
    line += f" --video {VIDEO}" if "video" in kw else ""
    try:
        with capture_output(display=True) as cap:
            res = ip.run_cell(line + "\na red kite")
        assert res.error_in_exec is None, cap.stderr + cap.stdout
        clip = ip.user_ns["clip"]
        _check_result(m, clip)
        _check_body(m, clip.entry.request["json"])
        assert "<video" in dict(cap.outputs[-1].data).get("text/html", "")
    finally:
        tokenhot_nb.session(reset=True).close()


def test_magic_takes_input_video_last_frame_and_audio(ip: Any, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "store"))
    tokenhot_nb.session(reset=True)
    try:
        with capture_output(display=True):
            ip.run_cell(f"%%th_video -m doubao-seedance-2.0 --video {VIDEO} --video {VIDEO}2 --audio "
                        "https://cdn.example.com/a.mp3 --duration 4 -o v\nrestyle")
            ip.run_cell(f"%%th_video -m MiniMax-Hailuo-02 --image {IMAGE} --last {IMAGE}?last -o hl\nfly")
        v = ip.user_ns["v"].entry.request["json"]
        assert [c["type"] for c in v["content"]] == ["text", "video_url", "video_url", "audio_url"]
        hl = ip.user_ns["hl"].entry.request["json"]
        assert hl["metadata"]["first_frame_image"] == IMAGE and hl["metadata"]["last_frame_image"] == IMAGE + "?last"
        assert json.dumps(ip.user_ns["v"].entry.params["video"]) == json.dumps([{"url": VIDEO}, {"url": VIDEO + "2"}])
    finally:
        tokenhot_nb.session(reset=True).close()
