"""Images, video tasks and audio from the simulator: shapes per family and real media bytes."""

from __future__ import annotations

import base64
import io
import json
import wave
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from tokenhot_nb.sim import Faults, Server
from tokenhot_nb.sim._pricing import video_task_quota


def post(url: str, path: str, auth: dict[str, str], **kw: Any) -> httpx.Response:
    return httpx.post(url + path, headers=auth, timeout=60, **kw)


def fetch_png(url: str) -> Image.Image:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(r.content))


def rgb(img: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    px = img.convert("RGB").getpixel(xy)
    assert isinstance(px, tuple)
    return px[0], px[1], px[2]


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- images


def test_gpt_image_url_and_usage(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/images/generations", auth,
             json={"model": "gpt-image-2", "prompt": "a red bicycle", "size": "1536x1024", "n": 2})
    body = r.json()
    assert isinstance(body["created"], int) and len(body["data"]) == 2
    assert body["usage"]["input_tokens_details"]["image_tokens"] == 0
    urls = [d["url"] for d in body["data"]]
    assert all(u.startswith(sim_url + "/sim/files/") for u in urls) and urls[0] != urls[1]
    img = fetch_png(urls[0])
    assert img.size == (1536, 1024)


def test_images_b64_and_determinism(sim_url: str, auth: dict[str, str]) -> None:
    req = {"model": "dall-e-3", "prompt": "a calm lake", "response_format": "b64_json", "size": "1024x1792"}
    a = post(sim_url, "/v1/images/generations", auth, json=req).json()
    b = post(sim_url, "/v1/images/generations", auth, json=req).json()
    item = a["data"][0]
    assert "url" not in item and item["revised_prompt"].startswith("a calm lake")
    assert item["b64_json"] == b["data"][0]["b64_json"]
    img = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
    assert img.size == (1024, 1792)
    other = post(sim_url, "/v1/images/generations", auth, json={**req, "prompt": "a stormy sea"}).json()
    c1 = rgb(Image.open(io.BytesIO(base64.b64decode(other["data"][0]["b64_json"]))), (2, 2))
    assert c1 != rgb(img, (2, 2))  # colour follows the prompt


def test_seedream_2k_shape(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/images/generations", auth,
             json={"model": "doubao-seedream-4-0-250828", "prompt": "mountains", "size": "2K", "watermark": False})
    body = r.json()
    assert body["model"] == "doubao-seedream-4-0-250828"
    assert body["data"][0]["size"] == "2048x2048"
    assert body["usage"]["generated_images"] == 1
    assert fetch_png(body["data"][0]["url"]).size == (2048, 2048)


def test_wan_documented_shape(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "wan2.6-image",
            "input": {"messages": [{"role": "user", "content": [{"text": "autumn painting"}]}]},
            "parameters": {"enable_interleave": True, "max_images": 2, "size": "512*768", "stream": False}}
    out = post(sim_url, "/v1/images/generations", auth, json=body).json()
    content = out["output"][0]["content"]
    assert out["output"][0]["type"] == "message" and out["request_id"]
    images = [c["text"] for c in content if c["type"] == "image"]
    assert len(images) == 2 and any(c["type"] == "text" for c in content)
    assert fetch_png(images[0]).size == (512, 768)
    assert out["usage"]["output_tokens_details"]["reasoning_tokens"] == 0


def test_qwen_flat_and_edit_with_metadata(sim_url: str, auth: dict[str, str]) -> None:
    for body in ({"model": "qwen-image-max", "prompt": "tea house", "size": "1328*1328"},
                 {"model": "qwen-image-max", "input": {"messages": [{"role": "user", "content": [{"text": "tea"}]}]},
                  "parameters": {"size": "1328*1328", "n": 1, "watermark": False}}):
        out = post(sim_url, "/v1/images/generations", auth, json=body).json()
        part = out["output"][0]["content"][-1]  # §10.4: the URL under ``text`` of an ``image`` part
        assert part["type"] == "image" and fetch_png(part["text"]).size == (1328, 1328)
    src = "data:image/png;base64," + base64.b64encode(png_bytes((0, 0, 255))).decode()
    edit = post(sim_url, "/v1/images/generations", auth, json={
        "model": "qwen-image-edit-max-2026-01-16",
        "input": {"messages": [{"role": "user", "content": [{"image": src}, {"text": "make it warmer"}]}]},
        "parameters": {"n": 1, "size": "256*256"}}).json()
    img = fetch_png(edit["output"][0]["content"][-1]["text"]).convert("RGB")
    r, _g, b = rgb(img, (128, 200))
    assert b > r  # still visibly the blue source


def test_edits_multipart_derived_from_input_and_mask(sim_url: str, auth: dict[str, str]) -> None:
    green = png_bytes((0, 200, 0), (200, 100))
    mask = Image.new("RGBA", (200, 100), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 50, 200, 100))  # transparent bottom half: edit only there
    mbuf = io.BytesIO()
    mask.save(mbuf, "PNG")
    files = [("image[]", ("in.png", green, "image/png")), ("mask", ("mask.png", mbuf.getvalue(), "image/png"))]
    r = post(sim_url, "/v1/images/edits", auth, files=files,
             data={"model": "gpt-image-1.5", "prompt": "add a sun", "n": "2"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert len(data) == 2
    img = fetch_png(data[0]["url"]).convert("RGB")
    assert img.size == (200, 100)
    top, bottom = rgb(img, (100, 40)), rgb(img, (100, 90))
    assert top == (0, 200, 0)  # untouched under the opaque mask
    assert bottom != top and bottom[1] > bottom[0]  # tinted, still green-ish


def test_edits_requires_image(sim_url: str, auth: dict[str, str]) -> None:
    r = post(sim_url, "/v1/images/edits", auth, data={"model": "gpt-image-2", "prompt": "x"},
             files=[("other", ("a.txt", b"x", "text/plain"))])
    assert r.status_code == 400 and "image" in r.json()["error"]["message"]


# ----------------------------------------------------------------------------- video


def _create(url: str, auth: dict[str, str], body: dict[str, Any], path: str = "/v1/video/generations",
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = post(url, path, {**auth, **(headers or {})}, json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_video_lifecycle_taskdto_and_mp4(sim_url: str, auth: dict[str, str]) -> None:
    created = _create(sim_url, auth, {"model": "happyhorse-1.0-i2v", "input": {
        "prompt": "a horse galloping", "media": [{"type": "first_frame", "url": "https://x.example/a.png"}]},
        "parameters": {"resolution": "720P", "duration": 3, "watermark": False}})
    assert set(created) >= {"id", "task_id", "object", "model", "status", "progress", "created_at"}
    assert created["id"] == created["task_id"] and created["id"].startswith("task_") and len(created["id"]) == 37
    assert (created["object"], created["status"], created["progress"]) == ("video", "queued", 0)
    seen = []
    for _ in range(3):
        d = httpx.get(f"{sim_url}/v1/video/generations/{created['id']}", headers=auth).json()
        assert d["code"] == "success"
        seen.append((d["data"]["status"], d["data"]["progress"]))
    assert seen == [("SUBMITTED", "0%"), ("IN_PROGRESS", "67%"), ("SUCCESS", "100%")]
    data = d["data"]
    assert data["result_url"] == f"{sim_url}/v1/videos/{created['id']}/content" and data["fail_reason"] == ""
    assert data["quota"] == video_task_quota("happyhorse-1.0-i2v", 3, "720P") > 0  # what the task cost
    assert data["data"]["output"]["task_status"] == "SUCCEEDED"
    assert data["data"]["output"]["video_url"].endswith(".mp4")  # the vendor's CDN copy: no key needed
    # result_url sits on the API host: it needs the key (§10.3)
    assert httpx.get(data["result_url"]).status_code == 401
    mp4 = httpx.get(data["result_url"], headers=auth).content
    assert mp4 == httpx.get(data["data"]["output"]["video_url"]).content
    container = av.open(io.BytesIO(mp4), mode="r")
    stream = container.streams.video[0]
    assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    frames = len(list(container.decode(video=0)))
    assert frames == 30  # 3 s at 10 fps
    assert mp4.find(b"moov") < mp4.find(b"mdat")  # faststart


@pytest.mark.parametrize(("body", "raw_path", "raw"), [
    ({"model": "MiniMax-Hailuo-2.3", "prompt": "x", "duration": 6}, ("status",),
     ["Preparing", "Queueing", "Processing", "Processing", "Success"]),
    ({"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "x"}], "duration": 4}, ("status",),
     ["queued", "queued", "running", "running", "succeeded"]),
    ({"model": "wan3.0-video", "input": {"prompt": "x"}, "parameters": {"duration": 2}}, ("output", "task_status"),
     ["PENDING", "PENDING", "RUNNING", "RUNNING", "SUCCEEDED"]),
], ids=["hailuo", "seedance", "dashscope"])
def test_video_tasks_wait_through_submitted_and_queued(sim_url: str, auth: dict[str, str], body: dict[str, Any],
                                                      raw_path: tuple[str, ...], raw: list[str]) -> None:
    """§10.3: NOT_START/SUBMITTED/QUEUED come before IN_PROGRESS; ``video_steps`` says how many polls it takes."""
    tid = _create(sim_url, auth, body, headers={"X-Sim-Faults": json.dumps({"video_steps": 5})})["id"]
    polls = [httpx.get(f"{sim_url}/v1/video/generations/{tid}", headers=auth).json()["data"] for _ in range(5)]
    assert [d["status"] for d in polls] == ["SUBMITTED", "QUEUED", "IN_PROGRESS", "IN_PROGRESS", "SUCCESS"]
    assert [d["progress"] for d in polls] == ["0%", "10%", "60%", "80%", "100%"]
    assert [d["start_time"] > 0 for d in polls] == [False, False, True, True, True]  # not started while waiting
    upstream = []
    for d in polls:
        value: Any = d["data"]
        for key in raw_path:
            value = value[key]
        upstream.append(value)
    assert upstream == raw
    assert [d["quota"] for d in polls][:4] == [0, 0, 0, 0] and polls[-1]["quota"] > 0


def test_a_task_polled_often_is_first_seen_not_started(sim_url: str, auth: dict[str, str]) -> None:
    """§10.3/§4.1: new-api makes a task NOT_START and its background poller moves it on, so a caller polling often
    sees NOT_START first: waiting, with no progress and no start time, in both poll styles."""
    body = {"model": "doubao-seedance-2.0", "content": [{"type": "text", "text": "x"}], "duration": 4}
    faults = {"X-Sim-Faults": json.dumps({"video_steps": 6})}
    tid = _create(sim_url, auth, body, headers=faults)["id"]
    polls = [httpx.get(f"{sim_url}/v1/video/generations/{tid}", headers=auth).json()["data"] for _ in range(6)]
    assert [d["status"] for d in polls] == ["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "IN_PROGRESS",
                                            "SUCCESS"]
    assert [d["progress"] for d in polls][:3] == ["0%", "0%", "10%"]
    assert [d["start_time"] > 0 for d in polls] == [False, False, False, True, True, True]
    assert polls[0]["data"]["status"] == "queued" and polls[0]["quota"] == 0 and polls[0]["result_url"] == ""
    tid = _create(sim_url, auth, body, headers=faults)["id"]
    openai_style = [httpx.get(f"{sim_url}/v1/videos/{tid}", headers=auth).json() for _ in range(6)]
    assert [v["status"] for v in openai_style] == ["queued"] * 3 + ["in_progress"] * 2 + ["completed"]
    assert openai_style[0]["progress"] == 0


def test_video_steps_set_how_many_polls_a_task_takes(sim_url: str, auth: dict[str, str]) -> None:
    body = {"model": "veo3.1", "prompt": "x", "duration": 4}
    for steps, statuses in ((1, ["SUCCESS"]), (2, ["SUBMITTED", "SUCCESS"]),
                            (3, ["SUBMITTED", "IN_PROGRESS", "SUCCESS"])):
        tid = _create(sim_url, auth, body, headers={"X-Sim-Faults": json.dumps({"video_steps": steps})})["id"]
        seen = [httpx.get(f"{sim_url}/v1/video/generations/{tid}", headers=auth).json()["data"]["status"]
                for _ in range(steps)]
        assert seen == statuses
    tid = _create(sim_url, auth, body, headers={"X-Sim-Faults": json.dumps({"video_steps": 4})})["id"]
    openai_style = [httpx.get(f"{sim_url}/v1/videos/{tid}", headers=auth).json()["status"] for _ in range(4)]
    assert openai_style == ["queued", "queued", "in_progress", "completed"]


def test_video_openai_style_and_content(sim_url: str, auth: dict[str, str]) -> None:
    created = _create(sim_url, auth, {"model": "doubao-seedance-2.0", "content": [
        {"type": "text", "text": "city at night"}], "duration": 4, "ratio": "9:16", "resolution": "720p"},
        path="/v1/videos")
    tid = created["id"]
    statuses = [httpx.get(f"{sim_url}/v1/videos/{tid}", headers=auth).json() for _ in range(3)]
    assert [s["status"] for s in statuses] == ["queued", "in_progress", "completed"]
    assert statuses[0]["progress"] < statuses[1]["progress"] < statuses[2]["progress"] == 100
    done = statuses[-1]
    assert done["metadata"]["url"] == f"{sim_url}/v1/videos/{tid}/content" and done["size"] == "180x320"
    assert done["seconds"] == "4"
    r = httpx.get(f"{sim_url}/v1/videos/{tid}/content", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert av.open(io.BytesIO(r.content)).streams.video[0].codec_context.height == 320
    raw = httpx.get(f"{sim_url}/v1/video/generations/{tid}", headers=auth).json()["data"]["data"]
    assert raw["status"] == "succeeded" and raw["content"]["video_url"].endswith(".mp4")


def test_video_failure_and_steps(sim_url: str, auth: dict[str, str]) -> None:
    faults = json.dumps({"video_failure": True, "video_steps": 1})
    created = _create(sim_url, auth, {"model": "MiniMax-Hailuo-2.3", "prompt": "x", "duration": 6},
                      headers={"X-Sim-Faults": faults})
    d = httpx.get(f"{sim_url}/v1/video/generations/{created['id']}", headers=auth).json()["data"]
    assert d["status"] == "FAILURE" and d["result_url"] == "" and "sensitive" in d["fail_reason"]
    assert d["data"]["status"] == "Fail" and d["data"]["base_resp"]["status_code"] == 1026
    v = httpx.get(f"{sim_url}/v1/videos/{created['id']}", headers=auth).json()
    assert v["status"] == "failed" and v["error"]["code"] == "1026"
    r = httpx.get(f"{sim_url}/v1/videos/{created['id']}/content", headers=auth)
    assert r.status_code == 400 and r.json()["data"] is None


def test_video_unknown_task_envelope(sim_url: str, auth: dict[str, str]) -> None:
    for path in ("/v1/video/generations/task_missing", "/v1/videos/task_missing"):
        r = httpx.get(sim_url + path, headers=auth)
        assert r.status_code == 404  # §10.3: a poll 404 means "no such task"
        body = r.json()
        assert body["code"] == "task_not_exist" and body["data"] is None and "error" not in body


# ----------------------------------------------------------------------------- audio


def _speech(url: str, auth: dict[str, str], text: str) -> bytes:
    r = post(url, "/v1/audio/speech", auth, json={"model": "mimo-v2.5-tts", "input": text, "voice": "alloy"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    return r.content


def _wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 24000)
        return w.getnframes() / w.getframerate()


def test_speech_wav_length_scales(sim_url: str, auth: dict[str, str]) -> None:
    short = _wav_seconds(_speech(sim_url, auth, "Hello there"))
    long = _wav_seconds(_speech(sim_url, auth, "Hello there " * 10))
    assert 0.5 < short < 1.5
    assert 6.0 < long < 9.0 and long > 5 * short
    assert _speech(sim_url, auth, "same") == _speech(sim_url, auth, "same")


def test_speech_of_a_text_longer_than_the_service_takes_is_a_400(sim_url: str, auth: dict[str, str]) -> None:
    """The simulator made 60 ms of audio a character (a list of every sample to hide the text in): 60,000
    characters took ~4 GB, and in offline mode (in-process) an over-long speak() killed the kernel. The
    services refuse such text (OpenAI's speech ``input``: 4096 characters; Gemini TTS: 8192 input tokens)."""
    r = post(sim_url, "/v1/audio/speech", auth, json={"model": "mimo-v2.5-tts", "input": "x" * 4097, "voice": "a"})
    assert r.status_code == 400 and "string too long" in r.json()["error"]["message"]
    gemini = {"contents": [{"parts": [{"text": "hello " * 20_000}]}],
              "generationConfig": {"responseModalities": ["AUDIO"]}}
    r = post(sim_url, "/v1beta/models/gemini-2.5-flash-preview-tts:generateContent", auth, json=gemini)
    assert r.status_code == 400 and "exceeds the maximum number of tokens allowed" in r.text


def test_hiding_the_text_touches_only_the_samples_it_needs() -> None:
    import tracemalloc

    from tokenhot_nb.sim.media import _embed_lsb, extract_lsb

    pcm = b"\x10\x00" * 5_000_000  # ~3.5 min of speech
    tracemalloc.start()
    out = _embed_lsb(pcm, "hello")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert extract_lsb(out) == "hello" and len(out) == len(pcm) and out[-1000:] == pcm[-1000:]
    assert peak < 4 * len(pcm)  # a list of every sample took ~40 bytes a sample (~200 MB here)


def _transcribe(url: str, auth: dict[str, str], audio: bytes, fmt: str, path: str = "/v1/audio/transcriptions",
                **fields: str) -> httpx.Response:
    return post(url, path, auth, files=[("file", ("speech.wav", audio, "audio/wav"))],
                data={"model": "whisper-1", "response_format": fmt, **fields})


@pytest.mark.parametrize("name", ["voice", "take.dat", "talk.aiff", "speech."])
def test_whisper_refuses_an_upload_whose_name_has_no_extension_it_takes(sim_url: str, auth: dict[str, str],
                                                                          name: str) -> None:
    """OpenAI reads the upload's type from its file name (reference §6.2 lists the types): a WAV named ``voice``
    is a 400 naming them, as the service answers it."""
    audio = _speech(sim_url, auth, "Named badly.")
    r = post(sim_url, "/v1/audio/transcriptions", auth, files=[("file", (name, audio, "audio/wav"))],
             data={"model": "whisper-1"})
    assert r.status_code == 400 and r.json()["error"]["message"].startswith("Invalid file format. Supported formats:")
    ok = post(sim_url, "/v1/audio/translations", auth, files=[("file", ("VOICE.WAV", audio, "audio/wav"))],
              data={"model": "whisper-1"})
    assert ok.status_code == 200 and ok.json()["text"] == "Named badly."


def test_whisper_refuses_an_upload_past_its_size_limit(sim_url: str, auth: dict[str, str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Reference §6.2: Whisper takes up to 25 MB; a larger upload is a 413 (here with the limit made small)."""
    from tokenhot_nb.sim import _audio

    audio = _speech(sim_url, auth, "Too large.")
    monkeypatch.setattr(_audio, "MAX_UPLOAD_BYTES", len(audio) - 1)
    r = _transcribe(sim_url, auth, audio, "json")
    assert r.status_code == 413 and "Maximum content size limit" in r.json()["error"]["message"]
    monkeypatch.setattr(_audio, "MAX_UPLOAD_BYTES", len(audio))
    assert _transcribe(sim_url, auth, audio, "json").json()["text"] == "Too large."


def test_tts_to_transcription_round_trip(sim_url: str, auth: dict[str, str]) -> None:
    text = "The quick brown fox jumps. It lands softly!"
    audio = _speech(sim_url, auth, text)
    assert _transcribe(sim_url, auth, audio, "json").json()["text"] == text
    assert _transcribe(sim_url, auth, audio, "text").text.strip() == text
    verbose = _transcribe(sim_url, auth, audio, "verbose_json", language="en",
                          **{"timestamp_granularities[]": "word"}).json()
    assert verbose["task"] == "transcribe" and verbose["language"] == "english"
    segs = verbose["segments"]
    assert [s["text"] for s in segs] == ["The quick brown fox jumps.", "It lands softly!"]
    assert 0 <= segs[0]["start"] < segs[0]["end"] <= segs[1]["start"] < segs[1]["end"] <= verbose["duration"]
    assert verbose["words"][0]["word"] == "The"
    srt = _transcribe(sim_url, auth, audio, "srt").text
    assert srt.startswith("1\n00:00:00,") and "\n2\n" in srt and "It lands softly!" in srt
    vtt = _transcribe(sim_url, auth, audio, "vtt").text
    assert vtt.startswith("WEBVTT") and " --> " in vtt


def test_gemini_pcm_round_trip_and_translation(sim_url: str, auth: dict[str, str]) -> None:
    tts = {"contents": [{"parts": [{"text": "你好，世界"}]}], "generationConfig": {"responseModalities": ["AUDIO"]}}
    g = post(sim_url, "/v1beta/models/gemini-2.5-pro-preview-tts:generateContent", auth, json=tts).json()
    pcm = base64.b64decode(g["candidates"][0]["content"]["parts"][0]["inlineData"]["data"])
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:  # the client wraps raw PCM like this
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(pcm)
    t = _transcribe(sim_url, auth, buf.getvalue(), "verbose_json", language="zh").json()
    assert t["text"] == "你好，世界" and t["language"] == "chinese"
    tr = _transcribe(sim_url, auth, buf.getvalue(), "json", path="/v1/audio/translations").json()
    assert tr["text"] == "[translated to English] 你好，世界"
    en = _transcribe(sim_url, auth, _speech(sim_url, auth, "Already English."), "verbose_json",
                     path="/v1/audio/translations").json()
    assert en["text"] == "Already English." and en["task"] == "translate"


def test_transcription_of_unknown_audio_is_generic(sim_url: str, auth: dict[str, str]) -> None:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x01\x00" * 16000 * 2)
    t = _transcribe(sim_url, auth, buf.getvalue(), "json").json()["text"]
    assert "2.0 seconds" in t
    bad = _transcribe(sim_url, auth, buf.getvalue(), "xml")
    assert bad.status_code == 400


def test_models_list(sim_url: str, auth: dict[str, str]) -> None:
    r = httpx.get(sim_url + "/v1/models", headers=auth).json()
    ids = {m["id"] for m in r["data"]}
    assert r["object"] == "list" and {"gpt-image-2", "wan2.6-image", "whisper-1"} <= ids


@pytest.mark.parametrize("model", ["gpt-unknown-9", "nonexistent-model"])
def test_unknown_model(sim_url: str, auth: dict[str, str], model: str) -> None:
    r = post(sim_url, "/v1/images/generations", auth, json={"model": model, "prompt": "x"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "model_not_found"


def test_media_concurrency(sim_server: Server, auth: dict[str, str]) -> None:
    """Several image and speech requests at once all succeed (encoding runs in the thread pool)."""
    import asyncio

    async def run() -> list[int]:
        async with httpx.AsyncClient(base_url=sim_server.url, headers=auth, timeout=60) as c:
            jobs = [c.post("/v1/images/generations", json={"model": "gpt-image-2", "prompt": f"p{i}"})
                    for i in range(6)]
            jobs += [c.post("/v1/audio/speech", json={"model": "mimo-v2.5-tts", "input": f"line {i}"}) for i in range(4)]
            return [r.status_code for r in await asyncio.gather(*jobs)]

    assert asyncio.run(run()) == [200] * 10
    sim_server.set_faults(Faults())


@pytest.mark.parametrize(("extra", "ok"), [({"response_format": "wav"}, True), ({"response_format": "pcm"}, True),
                                           ({"response_format": "ogg"}, False), ({"speed": 4}, True),
                                           ({"speed": 0.1}, False), ({"speed": "fast"}, False)])
def test_speech_formats_and_speed(sim_url: str, auth: dict[str, str], extra: dict[str, Any], ok: bool) -> None:
    r = post(sim_url, "/v1/audio/speech", auth, json={"model": "mimo-v2.5-tts", "input": "hi", "voice": "alloy", **extra})
    assert (r.status_code == 200) is ok, r.text
    if not ok:
        assert r.json()["error"]["type"] == "invalid_request_error"
