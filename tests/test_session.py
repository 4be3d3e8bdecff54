"""Session end to end against the in-process simulator: every method, recording, models, threads, errors."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _session_support import KEY, Recorder, make_session

import tokenhot_nb
from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb._session import endpoint_name
from tokenhot_nb.results import AudioResult, ChatResult, CompareResult, ImageResult, TranscriptResult
from tokenhot_nb.sim import Faults

# ---------------------------------------------------------------- images


def test_image_returns_result_and_records_entry(s: Session, rec: Recorder) -> None:
    res = s.image("a red fox in snow", model="gpt-image-2", size="1024x1024")
    assert isinstance(res, ImageResult) and len(res) == 1
    assert res.path.is_file() and res.path.is_relative_to(s.store.root)
    e = res.entry
    assert e is not None and e.id == res.entry_id and e.status == "ok"
    assert e.kind == "image" and e.model == "gpt-image-2" and e.endpoint == "images.generations"
    assert e.params == {"prompt": "a red fox in snow", "model": "gpt-image-2", "size": "1024x1024"}
    assert e.request["path"] == "/v1/images/generations" and e.request["json"]["prompt"] == "a red fox in snow"
    assert e.response["request_id"]
    assert [o["role"] for o in e.outputs] == ["image"] and e.outputs[0]["sha256"] == res.sha256
    assert e.usage["images"] == 1
    assert e.replay_key == s.store.key_for("image", "gpt-image-2", "images.generations", e.params)
    assert "a red fox" in e.text
    assert len(rec.posts("/v1/images/generations")) == 1


def test_image_several_and_pil(s: Session) -> None:
    res = s.image("three cats", model="gpt-image-2", n=3)
    assert len(res) == 3 and len(res.paths) == 3
    assert res[1].paths == [res.paths[1]]
    assert res.pil(2).size[0] > 0
    assert [r.sha256 for r in res] == [it.sha256 for it in res.items]


def test_default_model_per_kind_and_seed(tmp_path: Path, rec: Recorder) -> None:
    s = make_session(tmp_path / "st", rec, seed=42)
    first = s.image("a lighthouse")  # catalogue default: a seedream model, which takes a seed
    assert first.entry.params["seed"] == 42 and rec.json(-1)["seed"] == 42
    s.defaults["image"] = "gpt-image-2"  # takes no seed: the session seed is not sent
    res = s.image("a lighthouse")
    assert res.model == "gpt-image-2" and "seed" not in res.entry.params and "seed" not in rec.json(-1)
    with pytest.warns(UserWarning, match="takes no seed"):
        s.image("a lighthouse", seed=3)


def test_unknown_model_suggests(s: Session) -> None:
    with pytest.raises(E.UnknownModelError) as info:
        s.image("x", model="gpt-imag-2")
    assert "gpt-image-2" in info.value.suggestions
    assert "Did you mean" in str(info.value)


@pytest.mark.parametrize(("method", "args", "model", "words"), [
    ("image", ("x",), "gpt-5.2", "chat model"),
    ("chat", ("x",), "gpt-image-2", "image model"),
    ("speak", ("x",), "whisper-1", "transcribe"),
    ("edit", (b"", "x"), "dall-e-3", "cannot edit"),
    ("image", ("x",), "qwen-image-edit-max-2026-01-16", "only edits"),
])
def test_wrong_kind_is_a_clear_error(s: Session, method: str, args: tuple, model: str, words: str) -> None:
    with pytest.raises(E.UnsupportedOptionError, match=words):
        getattr(s, method)(*args, model=model)


def test_edit_with_mask_multipart(s: Session, rec: Recorder) -> None:
    base = s.image("a room", model="gpt-image-2")
    mask = io.BytesIO()
    from PIL import Image

    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(mask, format="PNG")
    res = s.edit(base, "add a window", mask=mask.getvalue(), model="gpt-image-2")
    assert isinstance(res, ImageResult)
    e = res.entry
    assert e.kind == "edit" and e.endpoint == "images.edits"
    assert e.params["images"] == [{"artifact": base.sha256, "mime": base.mime}]
    assert e.params["mask"]["artifact"] and s.store.has(e.params["mask"]["artifact"])
    req = rec.posts("/v1/images/edits")[-1]
    assert b'name="mask"' in req["body"] and b'name="image' in req["body"]
    assert {f["field"] for f in e.request["files"]} >= {"mask"}


def test_edit_default_model_with_mask_takes_one_that_masks(s: Session) -> None:
    res = s.edit(s.image("a room", model="gpt-image-2"), "add a door", mask=s.image("m", model="gpt-image-2"))
    assert tokenhot_nb.model(res.model).can("mask")


# ---------------------------------------------------------------- audio


def test_speak_transcribe_translate(s: Session, tmp_path: Path) -> None:
    audio = s.speak("Hello from the notebook.", voice="Puck")
    assert isinstance(audio, AudioResult)
    assert audio.wav[:4] == b"RIFF" and (audio.duration or 0) > 0
    assert audio.entry.params == {"text": "Hello from the notebook.", "model": audio.model, "voice": "Puck"}
    saved = audio.save(tmp_path / "out")
    assert saved.read_bytes() == audio.wav

    tr = s.transcribe(audio)
    assert isinstance(tr, TranscriptResult) and tr.text and str(tr) == tr.text
    assert tr.entry.params["audio"] == {"artifact": audio.sha256, "mime": "audio/wav"}
    assert tr.entry.endpoint == "audio.transcriptions"

    srt = s.transcribe(audio.path, format="srt", language="en")
    assert srt.srt and "-->" in srt.srt and srt.segments
    assert srt.entry.outputs[0]["role"] == "subtitles"
    vtt = s.transcribe(audio.wav, format="verbose_json")
    assert vtt.vtt and vtt.vtt.startswith("WEBVTT")

    tl = s.translate(audio)
    assert tl.kind == "translate" and tl.entry.endpoint == "audio.translations" and tl.text


# ---------------------------------------------------------------- chat


def test_chat_streams_through_on_delta(s: Session) -> None:
    seen: list[tuple[str, str]] = []
    res = s.chat("Say something", model="gpt-5.2", on_delta=lambda d, so_far: seen.append((d.text, so_far)))
    assert isinstance(res, ChatResult) and str(res) == res.text
    assert len(seen) > 1 and "".join(t for t, _ in seen) == res.text and seen[-1][1] == res.text
    assert res.entry.params["stream"] is True and res.entry.thread == "default"
    assert res.usage.total_tokens > 0 and res.entry.usage["total_tokens"] == res.usage.total_tokens
    assert res.entry.outputs[0]["role"] == "text"


def test_chat_not_streamed(s: Session, rec: Recorder) -> None:
    res = s.chat("Say something", model="claude-opus-4-6", stream=False, system="Be brief.")
    assert res.text and rec.json(-1).get("stream") is not True
    assert res.entry.params["system"] == "Be brief."


def test_chat_follow_up_carries_the_thread(s: Session, rec: Recorder) -> None:
    first = s.chat("What is a fox?", model="gpt-5.2")
    s.chat("And its habitat?", model="gpt-5.2")
    msgs = rec.json(-1, "/chat/completions")["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "What is a fox?" and msgs[1]["content"] == first.text
    # another thread name has its own context; new_thread starts afresh
    s.chat("Unrelated", model="gpt-5.2", thread="other")
    assert len(rec.json(-1, "/chat/completions")["messages"]) == 1
    s.chat("Start over", model="gpt-5.2", new_thread=True)
    assert len(rec.json(-1, "/chat/completions")["messages"]) == 1
    s.chat("Next", model="gpt-5.2")
    assert len(rec.json(-1, "/chat/completions")["messages"]) == 3


def test_thread_rebuilt_after_restart(tmp_path: Path) -> None:
    rec1 = Recorder()
    s1 = make_session(tmp_path / "st", rec1)
    a = s1.chat("Remember the word banana.", model="gpt-5.2")
    s1.chat("Noted?", model="gpt-5.2")
    s1.chat("Fresh start", model="gpt-5.2", new_thread=True, system="Be kind.")
    s1.chat("Second fresh turn", model="gpt-5.2")
    assert rec1.json(-1)["messages"][0] == {"role": "system", "content": "Be kind."}  # the thread keeps its system
    s1.close()
    rec2 = Recorder()
    s2 = make_session(tmp_path / "st", rec2)
    s2.chat("What did I say?", model="gpt-5.2")
    msgs = rec2.json(-1)["messages"]
    # rebuilt from the last new_thread=True entry on, with the thread's system prompt
    contents = [m["content"] for m in msgs if m["role"] == "user"]
    assert contents == ["Fresh start", "Second fresh turn", "What did I say?"]
    assert a.text not in [m["content"] for m in msgs]
    assert msgs[0]["role"] == "system" and msgs[0]["content"] == "Be kind."
    s2.close()


def test_close_closes_the_history_connections_of_every_thread(tmp_path: Path) -> None:
    """The calls use the store from the background loop (and the thumbnail worker): closing the session closes
    those connections too, each on its own thread, instead of leaving them to the garbage collector (which warns,
    ``ResourceWarning`` on 3.13, in whatever cell or test runs then)."""
    s = make_session(tmp_path / "st")
    s.chat("hi", model="gpt-5.2")
    s.image("a fox", model="gpt-image-2")
    s.store.wait_thumbnails()
    conns = list(s.store._conns)
    assert len(conns) >= 2  # the loop's and the thumbnail worker's
    s.close()  # returns once they are closed: the store's files are settled
    for conn in conns:
        with pytest.raises(sqlite3.ProgrammingError):
            conn.execute("SELECT 1")


def test_chat_with_image_input(s: Session, rec: Recorder) -> None:
    img = s.image("a cat", model="gpt-image-2")
    res = s.chat("Describe it", model="gpt-5.2", images=img, stream=False)
    assert res.entry.params["images"] == [{"artifact": img.sha256, "mime": img.mime}]
    content = rec.json(-1)["messages"][-1]["content"]
    assert any(p.get("type") == "image_url" for p in content)


def test_stream_failure_keeps_partial_text(s: Session, rec: Recorder) -> None:
    rec.set_faults(Faults(truncate_stream_after=4))
    seen: list[str] = []
    with pytest.raises(E.StreamError) as info:
        s.chat("Tell me a long story", model="gpt-5.2", on_delta=lambda d, t: seen.append(t))
    assert info.value.partial_text and info.value.partial_text == seen[-1]
    e = s.history[-1]
    assert e.status == "error" and e.error["error"] == "StreamError"
    assert info.value.partial_text in e.text
    assert s.store.path_of(e.outputs[0]["sha256"]).read_text() == info.value.partial_text
    # a failed turn does not enter the thread
    rec.set_faults(Faults())
    s.chat("again", model="gpt-5.2")
    assert len(rec.json(-1)["messages"]) == 1


def test_api_error_is_recorded_then_raised(tmp_path: Path) -> None:
    rec = Recorder(Faults(fail_first={401: 1}))
    s = make_session(tmp_path / "st", rec, max_retries=0)
    with pytest.raises(E.AuthenticationError) as info:
        s.image("x", model="gpt-image-2")
    assert info.value.hint
    e = s.history[-1]
    assert e.status == "error" and e.error["status"] == 401 and e.error["error"] == "AuthenticationError"
    assert e.kind == "image" and e.params["prompt"] == "x"
    s.close()


def test_compare_images_and_chat(s: Session) -> None:
    cmp = s.compare("a tiny robot", models=["gpt-image-2", "dall-e-3"])
    assert isinstance(cmp, CompareResult) and cmp.of == "image"
    assert list(cmp) == ["gpt-image-2", "dall-e-3"] and all(isinstance(cmp[m], ImageResult) for m in cmp)
    html = cmp._repr_mimebundle_()[0]["text/html"]
    assert html.count("<img") == 2 and "dall-e-3" in html
    chats = s.compare("hello", models=["gpt-5.2", "claude-opus-4-6", "gemini-2.5-flash"])
    assert chats.of == "chat" and all(isinstance(r, ChatResult) and r.text for r in chats.results.values())
    assert all(r.entry.thread is None and r.entry.params["thread"] is False for r in chats.results.values())


def test_compare_keeps_a_failure(s: Session, rec: Recorder) -> None:
    cmp = s.compare("hi", models=["gpt-5.2", "grok-4.1"], headers={"X-Sim-Faults": json.dumps({"error_rates": {"400": 1.0}})})
    assert set(cmp.failed) == {"gpt-5.2", "grok-4.1"}
    assert "BadRequestError" in repr(cmp)


# ---------------------------------------------------------------- plumbing


def test_async_twins_from_another_loop(s: Session) -> None:
    async def main() -> tuple:
        return await asyncio.gather(s.aimage("a", model="gpt-image-2"), s.achat("b", model="gpt-5.2"),
                                    s.aspeak("c"))

    img, chat, audio = asyncio.run(main())
    assert isinstance(img, ImageResult) and isinstance(chat, ChatResult) and isinstance(audio, AudioResult)


def test_default_session_is_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "default"))
    monkeypatch.setenv("TOKENHOT_MODE", "offline")
    a = tokenhot_nb.session(reset=True)
    assert tokenhot_nb.session() is a
    b = tokenhot_nb.session(reset=True)
    assert b is not a and tokenhot_nb.session() is b
    mine = Session(store=tmp_path / "mine", mode="offline")
    from tokenhot_nb import set_session

    assert set_session(mine) is mine and tokenhot_nb.session() is mine
    assert isinstance(tokenhot_nb.Session, type)


def test_endpoint_names() -> None:
    from tokenhot_nb.families._types import HttpCall

    assert endpoint_name(HttpCall("POST", "/v1beta/models/x:streamGenerateContent")) == "gemini.stream"
    assert endpoint_name(HttpCall("POST", "/v1/video/generations")) == "video.generations"
    assert endpoint_name(HttpCall("GET", "/v1/videos/task_1")) == "videos"


def test_key_never_shows(tmp_path: Path) -> None:
    rec = Recorder()
    s = Session(api_key=KEY, mode="offline", store=tmp_path / "st", transport=rec, poll_interval=0.001)
    results = [s.image("a", model="gpt-image-2"), s.chat("b", model="gpt-5.2"), s.speak("c"),
               s.video("d", progress=False), s.image(["e", "f"], model="gpt-image-2"),
               s.compare("g", models=["gpt-5.2", "grok-4.1"])]
    assert any(KEY in r["headers"].get("authorization", "") for r in rec.requests)  # it was really used
    shown = [repr(s), repr(s.settings)]
    for r in results:
        data, meta = r._repr_mimebundle_()
        shown += [json.dumps(data), json.dumps(meta, default=str), repr(r)]
    for e in s.history:
        shown += [json.dumps(e.to_dict()), e.to_code(), e.to_curl(), repr(e)]
    export = s.history.export(tmp_path / "export.json")
    shown.append(export.read_text())
    shown.append((tmp_path / "st" / "history.sqlite").read_bytes().decode("latin-1"))
    for text in shown:
        assert KEY not in text
    s.close()


def test_to_code_reproduces_the_same_request(s: Session) -> None:
    from tokenhot_nb import set_session

    img = s.image("a harbour at dusk", model="gpt-image-2", size="1024x1536", quality="low")
    ed = s.edit(img, "add boats", model="gpt-image-2")
    ch = s.chat("hello", model="claude-opus-4-6", stream=False, thread="t2", temperature=0.3)
    sp = s.speak("read this", voice="Puck")
    tr = s.transcribe(sp, format="srt", language="en")
    vid = s.video("a kite", model="doubao-seedance-2.0", image=img, duration=5, progress=False)
    one_off = s.chat("alone", model="gpt-5.2", thread=False)
    set_session(s)
    for original in (img.entry, ed.entry, ch.entry, sp.entry, tr.entry, vid.entry, one_off.entry):
        ns: dict = {}
        exec(original.to_code(), ns)
        again = ns["result"]
        assert again.entry_id != original.id
        assert again.entry.replay_key == original.replay_key
        assert again.entry.request == original.request or original.kind == "chat"


def test_to_code_reproduces_a_call_to_an_unlisted_model(s: Session) -> None:
    from tokenhot_nb import model, set_session

    # a model the service sells that the built-in catalogue does not list, built from its family
    res = s.chat("a new vendor model", model=model("deepseek-v4-pro", family="openai-chat"), stream=False)
    assert res.entry.params["model"] == {"id": "deepseek-v4-pro", "family": "openai-chat"}
    set_session(s)
    ns: dict = {}
    exec(res.entry.to_code(), ns)
    assert ns["result"].entry.replay_key == res.entry.replay_key
    assert ns["result"].model == "deepseek-v4-pro"


def test_nest_asyncio_inside_a_running_loop(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import asyncio, warnings
        import nest_asyncio
        nest_asyncio.apply()
        from tokenhot_nb import Session
        s = Session(mode="offline", store={str(tmp_path / 'st')!r}, poll_interval=0.001)

        async def cell():
            # synchronous calls from inside a running loop, as in a notebook with nest_asyncio applied
            img = s.image("a fox", model="gpt-image-2")
            chat = s.chat("hi", model="gpt-5.2")
            batch = s.image(["a", "b", "c"], model="gpt-image-2", progress=False)
            also = await s.achat("and async", model="gpt-5.2")
            return img, chat, batch, also

        img, chat, batch, also = asyncio.run(cell())
        assert img.path.exists() and chat.text and not batch.failed and also.text
        print("OK", len(s.history))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "OK 6"


def test_one_off_chat_without_thread(s: Session, rec: Recorder) -> None:
    s.chat("context", model="gpt-5.2")
    res = s.chat("standalone", model="gpt-5.2", thread=False)
    assert len(rec.json(-1)["messages"]) == 1 and res.entry.thread is None and res.entry.params["thread"] is False
    s.chat("follow-up", model="gpt-5.2")
    assert [m["content"] for m in rec.json(-1)["messages"] if m["role"] == "user"] == ["context", "follow-up"]


def test_a_call_refused_before_any_request_is_recorded_too(s: Session, rec) -> None:
    from tokenhot_nb.errors import AuthenticationError, UnknownModelError, UnsupportedOptionError

    with pytest.raises(UnknownModelError):
        s.image("a lamp", model="no-such-model", size="1024x1024")
    with pytest.raises(UnsupportedOptionError):
        s.image("a lamp", model="gpt-image-2", size="9x9", progress=False)
    # no call was sent (an unknown name may read the service's model tables, GETs that bill nothing)
    assert [r["path"] for r in rec.requests if r["method"] != "GET"] == []
    assert {r["path"] for r in rec.requests} <= {"/api/pricing", "/api/status", "/v1/models"}
    refused, bad_size = s.history[-2], s.history[-1]
    assert (refused.kind, refused.status, refused.model, refused.endpoint) == ("image", "error", "no-such-model", "")
    assert refused.params == {"prompt": "a lamp", "model": "no-such-model", "size": "1024x1024"}
    assert refused.error["error"] == "UnknownModelError" and "no-such-model" in refused.error["message"]
    assert bad_size.params["size"] == "9x9" and "progress" not in bad_size.params
    # a call that reached the API is recorded once, by the recording step, not again as a refusal
    before = len(s.history)
    with pytest.raises(AuthenticationError):
        s.chat("hi", model="gpt-5.2", headers={"X-Sim-Faults": json.dumps({"fail_first": {"401": 1}})})
    assert len(s.history) == before + 1 and s.history[-1].endpoint == "chat.completions"
