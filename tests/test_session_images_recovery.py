"""A paid image whose download failed is kept recoverable: the row keeps the answer's links (signed query and all,
key redacted), the images that arrived and why the others did not; ``session.resume(entry_id)`` fetches the rest
into the same row with no new call and no new charge. Over real loopback (a file host that fails) and the
in-process simulator (its ``expire_downloads`` fault)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _hostile import Action, Hostile, response
from _session_support import Recorder, make_session
from _widgets_support import png_bytes

from tokenhot_nb import Session
from tokenhot_nb import errors as E
from tokenhot_nb.client import RetryPolicy
from tokenhot_nb.history import History
from tokenhot_nb.results import ImageResult, VideoTask
from tokenhot_nb.sim import Faults

#: the loopback relays serve no price table: the session says so once and uses the built-in catalogue
pytestmark = pytest.mark.filterwarnings("ignore:tokenhot_nb. could not read the model table")

KEY = "sk-RECOVERY-loopback-KEY-0123456789"
GENERATE = "/v1/images/generations"


class Sleeps:
    async def __call__(self, delay: float) -> None:
        return None


def live(url: str, tmp: Path) -> Session:
    s = Session(api_key=KEY, base_url=url, mode="live", store=tmp / "store")
    s.client.retry = RetryPolicy(max_retries=1, sleep=Sleeps(), rand=lambda: 0.0)
    return s


def image_relay(items: list[str | dict[str, str]], files: dict[str, Any]) -> Hostile:
    """A relay whose image call answers ``items`` (a str: a link on the relay itself, path and query; a dict: the
    item as it is), with the file routes ``files``."""

    def generate(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        data = [{"url": f"{relay.url}{i}"} if isinstance(i, str) else i for i in items]
        return response(200, json.dumps({"data": data}).encode())

    relay = Hostile({GENERATE: generate, **files})
    return relay


class FileHost:
    """CDN routes that answer 503 while ``busy`` and the image otherwise (``calls`` counts every request)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.busy: set[str] = set()
        self.calls = 0

    def __call__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
        self.calls += 1
        name = path.split("?")[0]
        if name in self.busy:
            return response(503, b"busy", "text/plain")
        return response(200, self.files[name], "image/png")


def one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and len(text) < 600, text
    return text


def single_line_of(s: Session) -> Any:
    (entry,) = s.store.select_entries()
    return entry


@pytest.fixture
def sim_session(tmp_path: Path, rec: Recorder) -> Iterator[Session]:
    sess = make_session(tmp_path / "store", rec)
    yield sess
    sess.close()


# ====================================================================== over real loopback


def test_a_single_image_whose_file_host_fails_keeps_its_signed_link_and_is_fetched_later(tmp_path: Path) -> None:
    image = png_bytes(color="red")
    host = FileHost({"/cdn/img.png": image})
    host.busy.add("/cdn/img.png")

    with image_relay(["/cdn/img.png?sig=abc&exp=99"], {"/cdn/img.png": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError) as info:
            s.image("a cat", model="gpt-image-1.5")
        entry = single_line_of(s)
        text = one_line(info.value)
        assert f"session.resume({entry.id})" in text and "busy" in text and "sig=abc" not in text
        assert entry.status == "pending" and entry.outputs == []
        (ref,) = entry.response["images"]
        assert ref["url"] == f"{relay.url}/cdn/img.png?sig=abc&exp=99" and "busy" in ref["error"]
        assert entry.error and "session.resume" in entry.error["hint"]
        assert len(info.value.partial) == 0  # type: ignore[attr-defined]
        with pytest.raises(E.TokenhotError) as rebuilt:  # the row's own hint: resume it, not a paid rerun
            entry.result()
        assert f"session.resume({entry.id})" in one_line(rebuilt.value) and "rerun" not in one_line(rebuilt.value)

        host.busy.clear()
        res = s.resume(entry.id)
        assert isinstance(res, ImageResult) and res.data() == image and res.entry_id == entry.id
        assert relay.calls(GENERATE) == 1  # fetched from the kept link: no new call
        done = single_line_of(s)
        assert done.status == "ok" and done.error is None and "images" not in done.response
        assert [o["sha256"] for o in done.outputs] == [res.sha256]

        calls = host.calls
        again = s.resume(entry.id)  # complete: from the store, no request at all
        assert isinstance(again, ImageResult) and again.sha256 == res.sha256 and host.calls == calls


def test_of_three_images_the_missing_one_is_fetched_into_its_place(tmp_path: Path) -> None:
    a, b, c = png_bytes(color="red"), png_bytes(color="green"), png_bytes(color="blue")
    host = FileHost({"/cdn/a.png": a, "/cdn/b.png": b})
    host.busy.add("/cdn/b.png")
    import base64

    items: list[str | dict[str, str]] = ["/cdn/a.png?sig=1", "/cdn/b.png?sig=2",
                                         {"b64_json": base64.b64encode(c).decode()}]
    with image_relay(items, {"/cdn/a.png": host, "/cdn/b.png": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError, match=r"2 of 3 images arrived.*image 2") as info:
            s.image("three cats", model="gpt-image-2", n=3, size="64x64")
        partial = info.value.partial  # type: ignore[attr-defined]
        assert [partial.data(i) for i in range(len(partial))] == [a, c]  # those that arrived, shown now
        entry = single_line_of(s)
        assert entry.status == "pending" and [o["role"] for o in entry.outputs] == ["image", "image"]
        refs = entry.response["images"]
        assert refs[0]["sha256"] == entry.outputs[0]["sha256"] and "error" not in refs[0]
        assert refs[1]["url"].endswith("/cdn/b.png?sig=2") and "sha256" not in refs[1] and refs[1]["error"]
        assert refs[2] == {"inline": True, "sha256": entry.outputs[1]["sha256"]}  # the b64 image is stored
        assert all(s.store.path_of(o["sha256"]).exists() for o in entry.outputs)

        host.busy.clear()
        res = s.history.get(entry.id).resume()  # the entry's own door: the same as session.resume(id)
        assert [res.data(i) for i in range(len(res))] == [a, b, c]
        done = single_line_of(s)
        assert done.status == "ok" and [o["sha256"] for o in done.outputs] == [it.sha256 for it in res.items]
        assert relay.calls(GENERATE) == 1


def test_an_answer_item_with_no_image_is_said_and_kept_in_the_row_not_dropped(tmp_path: Path) -> None:
    """n=3 answered with one image, one item whose url is a number and one of broken base64: the call is paid for
    three, so the user hears that two did not arrive and why (one line; the arrived image in ``.partial``), and
    the row keeps each item's place, not an ``ok`` row of one image."""
    a = png_bytes(color="red")
    host = FileHost({"/cdn/a.png": a})
    with image_relay(["/cdn/a.png", {"url": 7}, {"b64_json": "not*base64"}], {"/cdn/a.png": host}) as relay:  # type: ignore[list-item]
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError, match=r"1 of 3 images arrived; 2 did not") as info:
            s.image("three cats", model="gpt-image-2", n=3, size="64x64")
        text = one_line(info.value)
        assert "image 2: the answer's item held no image (its url is a number)" in text
        assert "its b64_json is not base64" in text and "rerun()" in text and "resume" not in text
        assert [info.value.partial.data(i) for i in range(len(info.value.partial))] == [a]  # type: ignore[attr-defined]
        entry = single_line_of(s)
        assert entry.status == "error" and [o["role"] for o in entry.outputs] == ["image"]
        refs = entry.response["images"]
        assert "sha256" in refs[0] and refs[1]["unreadable"] and refs[2]["unreadable"]
        assert entry.usage.get("images") == 3  # (the three are paid for: the cost counts them)
        with pytest.raises(E.DownloadError, match="1 of 3 images arrived"):
            s.resume(entry.id)  # nothing to fetch again: said, no request
        with pytest.raises(E.TokenhotError) as rebuilt:  # the row rebuilt says the same, in one line
            entry.result()
        assert "1 of 3 images arrived" in one_line(rebuilt.value)
        assert relay.calls(GENERATE) == 1

    with image_relay([{"url": 7}], {}) as relay:  # nothing readable at all: the relay's fault, said as such
        s = live(relay.url, tmp_path / "two")
        with pytest.raises(E.APIError, match=r"answered with an image item that held no image to read "
                                             r"\(item 1: its url is a number\)"):
            s.image("a cat", model="gpt-image-2", size="64x64")


def test_a_host_that_answers_with_something_else_is_not_asked_again(tmp_path: Path) -> None:
    a = png_bytes(color="red")
    host = FileHost({"/cdn/a.png": a, "/cdn/page": b"<!DOCTYPE html><html><body>Please sign in</body></html>"})
    host.busy.add("/cdn/a.png")

    with image_relay(["/cdn/a.png?sig=1", "/cdn/page?sig=2"], {"/cdn/a.png": host, "/cdn/page": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError, match=r"0 of 2 images arrived.*image 2: .*not an image"):
            s.image("two cats", model="gpt-image-2", n=2, size="64x64")
        entry = single_line_of(s)
        assert entry.status == "pending" and entry.response["images"][1]["refused"] is True
        host.busy.clear()
        calls = host.calls
        with pytest.raises(E.DownloadError) as info:
            s.resume(entry.id)
        assert host.calls == calls + 1  # the login page is not asked for again
        text = one_line(info.value)
        assert "1 of 2 images arrived" in text and f"session.history.get({entry.id}).rerun()" in text
        row = single_line_of(s)
        assert row.status == "error" and len(info.value.partial) == 1  # type: ignore[attr-defined]
        assert [o["role"] for o in row.outputs] == ["image", "raw"]  # (the login page, kept: see below)


def test_a_kept_link_never_keeps_the_key(tmp_path: Path) -> None:
    host = FileHost({"/cdn/k.png": png_bytes()})
    host.busy.add("/cdn/k.png")

    with image_relay([f"/cdn/k.png?token={KEY}&sig=x"], {"/cdn/k.png": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError) as info:
            s.image("a cat", model="gpt-image-1.5")
        assert KEY not in str(info.value)
        entry = single_line_of(s)
        assert entry.status == "pending" and "sig=x" in entry.response["images"][0]["url"]
        out = s.history.export(tmp_path / "export.json")
        stored = b"".join(p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file())
        for text in (json.dumps(entry.to_dict()), out.read_text(), stored.decode("latin-1")):
            assert KEY not in text and KEY[3:20] not in text


def test_an_interrupted_download_keeps_the_links_for_later(tmp_path: Path) -> None:
    image = png_bytes(color="red")
    stalled = [True]
    downloading = threading.Event()

    def cdn(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes | Action:
        if stalled[0]:
            downloading.set()
            return Action(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n", stall=3)
        return response(200, image, "image/png")

    with image_relay(["/cdn/slow.png?sig=s"], {"/cdn/slow.png": cdn}) as relay:
        s = live(relay.url, tmp_path)

        async def stop_while_downloading() -> None:
            call = asyncio.ensure_future(s.aimage("a cat", model="gpt-image-1.5"))
            while not downloading.is_set():
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

        asyncio.run(stop_while_downloading())
        for _ in range(200):  # the cancelled call finishes its bookkeeping on the session's loop
            entry = single_line_of(s)
            if entry.status != "running":
                break
            time.sleep(0.01)
        assert entry.status == "interrupted" and entry.response["images"][0]["url"].endswith("?sig=s")
        from tokenhot_nb._session.loop import interrupt_message  # what Ctrl-C in a cell says of it

        said = interrupt_message(s, KeyboardInterrupt("interrupted"), None, entry.started)
        assert f"session.resume({entry.id})" in said and "no new charge" in said
        stalled[0] = False
        res = asyncio.run(s.aresume(entry.id))  # the awaitable twin
        assert isinstance(res, ImageResult) and res.data() == image
        assert single_line_of(s).status == "ok" and relay.calls(GENERATE) == 1


def test_an_interrupted_call_keeps_inline_bytes_that_are_not_an_image_as_raw(tmp_path: Path) -> None:
    """Interrupted while the other image downloads: the inline HTML is kept under a neutral type, not as an image
    (the same rule as an answer that finished)."""
    import base64

    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    downloading = threading.Event()

    def cdn(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes | Action:
        downloading.set()
        return Action(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 5000\r\n\r\n", stall=3)

    items: list[str | dict[str, str]] = ["/cdn/slow.png?sig=s",
                                         {"url": "data:text/html;base64," + base64.b64encode(page).decode()}]
    with image_relay(items, {"/cdn/slow.png": cdn}) as relay:
        s = live(relay.url, tmp_path)

        async def stop_while_downloading() -> None:
            call = asyncio.ensure_future(s.aimage("two cats", model="gpt-image-2", n=2, size="64x64"))
            while not downloading.is_set():
                await asyncio.sleep(0.01)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

        asyncio.run(stop_while_downloading())
        for _ in range(200):
            entry = single_line_of(s)
            if entry.status != "running":
                break
            time.sleep(0.01)
    assert entry.status == "interrupted" and [o["role"] for o in entry.outputs] == ["raw"]
    raw = entry.outputs[0]
    assert raw["mime"] == "application/octet-stream" and s.store.read_artifact(raw["sha256"]) == page
    slow, inline = entry.response["images"]
    assert slow["url"].endswith("?sig=s") and "sha256" not in slow
    assert inline["inline"] is True and inline["raw"] == raw["sha256"] and "an HTML page" in inline["error"]
    assert not [p for p in (tmp_path / "store").rglob("*") if p.suffix.lower() in (".html", ".htm")]


# ====================================================================== over the simulator


def test_over_the_simulator_resume_makes_no_new_call_and_no_new_charge(sim_session: Session,
                                                                       rec: Recorder) -> None:
    s = sim_session
    rec.set_faults(Faults(expire_downloads=True))  # the file host refuses every download for now
    with pytest.raises(E.DownloadError, match=r"0 of 2 images arrived") as info:
        s.image("a fox", model="gpt-image-2", n=2, size="64x64")
    entry = single_line_of(s)
    assert f"fetch them with session.resume({entry.id})" in one_line(info.value)
    assert entry.status == "pending" and len(entry.response["images"]) == 2
    assert entry.usage["images"] == 2 and entry.cost.usd == pytest.approx(2 * 0.028)  # both are paid for
    assert s.store.spent_usd(0, simulated=True) == pytest.approx(2 * 0.028)
    balance = s.balance()

    rec.set_faults(Faults())
    res = s.resume(entry.id)
    assert isinstance(res, ImageResult) and len(res) == 2 and all(p.exists() for p in res.paths)
    assert len(rec.posts(GENERATE)) == 1
    assert s.balance().remaining == balance.remaining  # the service charged nothing more
    done = single_line_of(s)
    assert done.status == "ok" and done.cost.usd == pytest.approx(2 * 0.028)
    assert s.store.spent_usd(0, simulated=True) == pytest.approx(2 * 0.028)


def test_an_expired_link_is_said_in_one_line_and_ends_the_row(sim_session: Session, rec: Recorder) -> None:
    s = sim_session
    rec.set_faults(Faults(expire_downloads=True))
    with pytest.raises(E.DownloadError):
        s.image("a fox", model="gpt-image-2", size="64x64")
    entry = single_line_of(s)
    assert entry.status == "pending"
    for _ in range(2):  # the first resume finds the link expired; asking again says the same, with no request
        with pytest.raises(E.DownloadError) as info:
            s.resume(entry.id)
        text = one_line(info.value)
        assert f"history #{entry.id}" in text and "expired (HTTP 403)" in text
        assert f"session.history.get({entry.id}).rerun()" in text and "session.resume" not in text
    row = single_line_of(s)
    assert row.status == "error" and row.response["images"][0]["expired"] == 403
    assert len(rec.posts(GENERATE)) == 1


def test_an_inline_image_that_could_not_be_kept_is_an_error_with_its_cost(tmp_path: Path, rec: Recorder) -> None:
    s = make_session(tmp_path / "store", rec, download_cap=100)
    with pytest.raises(E.DownloadError, match="larger than the download limit"):
        s.image("a cat", model="dall-e-2", size="256x256", response_format="b64_json")
    entry = single_line_of(s)
    assert entry.status == "error" and entry.usage["images"] == 1 and entry.cost.usd
    assert entry.response["images"] == [{"inline": True, "error": entry.response["images"][0]["error"]}]
    with pytest.raises(E.DownloadError, match=r"inline image .* larger.*Nothing is left to fetch.*rerun\(\)"):
        s.resume(entry.id)
    s.close()


def test_export_import_and_replay_keep_working(tmp_path: Path, rec: Recorder) -> None:
    s = make_session(tmp_path / "store", rec)
    rec.set_faults(Faults(expire_downloads=True))
    with pytest.raises(E.DownloadError):
        s.image("a lighthouse", model="gpt-image-2", size="64x64")
    entry = single_line_of(s)

    # replay never downloads, and says which call to make instead
    replay = Session(mode="replay", store=tmp_path / "store")
    with pytest.raises(E.ReplayMissError, match=rf"session\.resume\({entry.id}\)"):
        replay.image("a lighthouse", model="gpt-image-2", size="64x64")
    with pytest.raises(E.ReplayMissError, match="never downloads"):
        replay.resume(entry.id)

    # an export carries the kept links: a session on the imported store fetches the image
    exported = s.history.export(tmp_path / "history.json")
    rec.set_faults(Faults())
    other = make_session(tmp_path / "other", rec)
    History.load(exported, store=other.store)
    (imported,) = other.store.select_entries()
    assert imported.status == "pending" and imported.response["images"] == entry.response["images"]
    moved = other.resume(imported)
    assert isinstance(moved, ImageResult) and len(moved) == 1 and other.store.get(imported.id or 0).status == "ok"
    other.close()

    # once complete, the call replays with its image and no request
    res = s.resume(entry.id)
    assert isinstance(res, ImageResult)
    replayed = replay.image("a lighthouse", model="gpt-image-2", size="64x64")
    assert isinstance(replayed, ImageResult) and replayed.sha256 == res.sha256
    replay.close()
    s.close()


def test_resume_says_what_it_cannot_do(tmp_path: Path, sim_session: Session, rec: Recorder) -> None:
    s = sim_session
    with pytest.raises(E.InputError, match=r"no history entry #999 in"):
        s.resume(999)
    with pytest.raises(E.InputError, match="not bool"):
        s.resume(True)
    chat = s.chat("hi", model="gpt-5.4", stream=False)
    with pytest.raises(E.InputError, match=rf"#{chat.entry_id} is a chat call"):
        s.resume(chat.entry_id or 0)
    rec.set_faults(Faults(service_error="middleware-500"))
    with pytest.raises(E.APIError):
        s.image("a cat", model="gpt-image-2", size="64x64")
    failed = s.history[-1]
    with pytest.raises(E.InputError, match="kept no image links"):
        s.resume(failed.id or 0)
    rec.set_faults(Faults())

    # an entry of another store is not resumed against this one
    other = make_session(tmp_path / "other", Recorder())
    other.image("a cat", model="gpt-image-2", size="64x64")
    with pytest.raises(E.InputError, match="belongs to the history at"):
        s.resume(other.history[-1])
    other.close()

    # a video call's entry gives its task, as its task id does
    task = s.video("a boat", model="doubao-seedance-2.0", wait=False)
    assert isinstance(task, VideoTask)
    again = s.resume(task.entry_id or 0)
    assert isinstance(again, VideoTask) and again.task_id == task.task_id


def test_an_image_past_the_download_limit_says_to_raise_it_before_resuming(tmp_path: Path) -> None:
    """The hint said only "fetch it with session.resume(id)", which stopped at the same limit again, every time;
    it now says to raise the limit first, and doing so fetches the paid image from the kept link."""
    image = png_bytes(size=(400, 400))
    host = FileHost({"/cdn/big.png": image})
    with image_relay(["/cdn/big.png?sig=1"], {"/cdn/big.png": host}) as relay:
        s = live(relay.url, tmp_path)
        s.settings.download_cap = len(image) // 2
        with pytest.raises(E.DownloadError) as info:
            s.image("a cat", model="gpt-image-1.5")
        entry = single_line_of(s)
        text = one_line(info.value)
        assert "larger than the limit" in text
        assert f"raise the limit (session.settings.download_cap = <bytes>), then fetch it with " \
               f"session.resume({entry.id})" in text
        s.settings.download_cap = len(image) * 2
        res = s.resume(entry.id)
        assert res.data() == image and relay.calls(GENERATE) == 1
        s.close()


def test_a_busy_host_is_not_told_to_raise_the_limit(tmp_path: Path) -> None:
    host = FileHost({"/cdn/a.png": png_bytes()})
    host.busy.add("/cdn/a.png")
    with image_relay(["/cdn/a.png"], {"/cdn/a.png": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError) as info:
            s.image("a cat", model="gpt-image-1.5")
        assert "download_cap" not in str(info.value) and "session.resume(" in str(info.value)
        s.close()


def test_a_link_that_serves_no_image_keeps_what_it_sent_in_the_row(sim_session: Session, rec: Recorder) -> None:
    """The simulator's ``html_download``: the image's link answered 200 with a sign-in page. What it sent, dropped
    before ("nothing was stored"), is kept in the row as a ``raw`` .bin output (never an .html file), and the one
    line says what arrived, where it is kept, and that only a new call makes the image (the link is not asked
    again: a resume would get the same page)."""
    s = sim_session
    rec.set_faults(Faults(html_download=True))
    with pytest.raises(E.DownloadError) as info:
        s.image("a fox", model="gpt-image-2", size="64x64")
    row = single_line_of(s)
    text = one_line(info.value)
    assert "is not an image: the server sent an HTML page instead" in text and "nothing was stored" not in text
    assert f"kept in history #{row.id} as a .bin file (output role 'raw')" in text
    assert f"session.history.get({row.id}).rerun()" in text and "session.resume" not in text
    assert info.value.resumable is None
    assert row.status == "error" and [o["role"] for o in row.outputs] == ["raw"]
    assert row.response["images"][0]["raw"] == row.outputs[0]["sha256"] and row.response["images"][0]["refused"]
    kept = s.store.path_of(row.outputs[0]["sha256"]).read_bytes()
    assert kept.startswith(b"<!DOCTYPE html>") and b"sign in" in kept.lower()
    assert not [p for p in s.store.root.rglob("*") if p.suffix.lower() in (".html", ".htm", ".png")]
    with pytest.raises(E.DownloadError, match=r"Nothing is left to fetch.*rerun\(\)"):
        s.resume(row.id)
    assert len(rec.posts(GENERATE)) == 1
    with Session(mode="replay", store=s.store.root) as r:  # a replay does not send the user to a resume either
        with pytest.raises(E.ReplayMissError) as miss:
            r.image("a fox", model="gpt-image-2", size="64x64")
        text = one_line(miss.value)
        assert "cannot be fetched again" in text and f"session.history.get({row.id}).rerun()" in text
        assert "session.resume" not in text


def test_a_link_that_serves_a_page_on_resume_keeps_it_without_the_key(tmp_path: Path) -> None:
    """A link busy at first answers a resume with a page that echoes the key: the page is kept in the row as a
    ``raw`` output with the key masked, and the image is no longer fetchable."""
    host = FileHost({"/cdn/p.png": f"<!DOCTYPE html><html><body>expired for {KEY}</body></html>".encode()})
    host.busy.add("/cdn/p.png")
    with image_relay(["/cdn/p.png?sig=1"], {"/cdn/p.png": host}) as relay:
        s = live(relay.url, tmp_path)
        with pytest.raises(E.DownloadError):
            s.image("a cat", model="gpt-image-1.5")
        assert single_line_of(s).status == "pending"
        host.busy.clear()
        with pytest.raises(E.DownloadError) as info:
            s.resume(single_line_of(s).id)
        row = single_line_of(s)
        assert "not an image" in one_line(info.value)
        assert row.status == "error" and [o["role"] for o in row.outputs] == ["raw"]
        assert row.response["images"][0]["raw"] == row.outputs[0]["sha256"]
        kept = s.store.path_of(row.outputs[0]["sha256"]).read_bytes()
        assert b"expired for" in kept and KEY.encode() not in kept and KEY[3:20].encode() not in kept
        s.close()


def test_two_links_that_serve_the_same_page_keep_it_once(sim_session: Session, rec: Recorder) -> None:
    """Both images' links answered the same sign-in page: the row keeps it once (one ``raw`` output both refs
    name), not one copy per image."""
    s = sim_session
    rec.set_faults(Faults(html_download=True))
    with pytest.raises(E.DownloadError, match=r"0 of 2 images arrived.*kept in history #\d+ as a \.bin file"):
        s.image("two foxes", model="gpt-image-2", n=2, size="64x64")
    row = single_line_of(s)
    [raw] = row.outputs
    assert raw["role"] == "raw" and [r["raw"] for r in row.response["images"]] == [raw["sha256"]] * 2
