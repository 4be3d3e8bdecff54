"""History views: list protocol, filter/search, tail, usage, export/load, HTML."""

from __future__ import annotations

import base64
import io
import json
import time
import wave
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tokenhot_nb.errors import InputError
from tokenhot_nb.history import History, HistoryEntry, Store, UsageSummary

T0 = 1_700_000_000.0


def png(color: tuple[int, ...], size: tuple[int, int] = (300, 200), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, "PNG")
    return buf.getvalue()


def wav(seconds: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return buf.getvalue()


def record(store: Store, **kw: object) -> HistoryEntry:
    status = kw.pop("status", "ok")
    fields = {k: kw.pop(k) for k in ("usage", "outputs", "error", "response") if k in kw}
    e = HistoryEntry(**kw)  # type: ignore[arg-type]
    store.insert(e)
    store.update(e.id or 0, status=status, **fields)
    return store.get(e.id or 0)


@pytest.fixture
def filled(tmp_path: Path) -> History:
    """30 entries: kinds cycle image/chat/video, models a/b/c, every 5th an error, one per minute."""
    store = Store(tmp_path / "store")
    kinds = ["image", "chat", "video"]
    for i in range(30):
        kind = kinds[i % 3]
        text = f"prompt number {i} about {'cats' if i % 2 else 'dogs'}"
        if i == 7:
            text = "一只猫在月球上 CamelCase Words"
        record(
            store, kind=kind, model="abc"[i % 3 and (i % 4) % 3], started=T0 + 60 * i,
            params={"prompt": text, "n": i}, text=text, thread="th-1" if kind == "chat" and i < 15 else None,
            status="error" if i % 5 == 0 else "ok",
            usage={"input_tokens": 10 * i, "output_tokens": i, "images": 1 if kind == "image" else 0,
                   "video_seconds": 5.0 if kind == "video" else 0.0},
        )
    return History(store)


def test_list_protocol(filled: History) -> None:
    h = filled
    assert len(h) == 30 and bool(h)
    ids = h.ids
    assert ids == sorted(ids) and len(ids) == 30
    assert h[0].id == ids[0] and h[-1].id == ids[-1] and h[-2].id == ids[-2] and h[29].id == ids[29]
    assert h.last is not None and h.last.id == ids[-1]
    assert [e.id for e in h[-3:]] == ids[-3:]
    assert [e.id for e in h[5:10]] == ids[5:10]
    assert [e.id for e in h[::7]] == ids[::7]
    assert [e.id for e in h[-12:-2]] == ids[-12:-2]
    assert h[40:] == [] and h[10:5] == []
    assert [e.id for e in h] == ids  # iteration: newest last
    with pytest.raises(IndexError):
        h[30]
    with pytest.raises(IndexError):
        h[-31]
    assert h.get(ids[3]).params["n"] == 3
    empty = History(Store(h.store.root.parent / "empty"))
    assert len(empty) == 0 and not empty and empty.last is None and empty[:] == []


def test_filter_and_search(filled: History) -> None:
    h = filled
    assert len(h.filter(kind="image")) == 10
    assert {e.kind for e in h.filter(kind=["image", "video"])} == {"image", "video"}
    assert len(h.filter(kind=["image", "video"])) == 20
    assert all(e.status == "error" for e in h.filter(status="error")) and len(h.filter(status="error")) == 6
    assert len(h.filter(kind="chat", status="ok")) == len([i for i in range(30) if i % 3 == 1 and i % 5])
    assert len(h.filter(thread="th-1")) == 5
    assert len(h.filter(since=T0 + 60 * 10)) == 20
    assert len(h.filter(until=T0 + 60 * 9)) == 10
    assert len(h.filter(since=T0 + 60 * 10, until=T0 + 60 * 19)) == 10
    assert len(h.filter(since="1h")) == 0  # all recorded long ago
    assert len(h.filter(model="a").filter(kind="image")) == len(
        [e for e in h if e.model == "a" and e.kind == "image"])
    # chained views narrow further
    v = h.filter(kind="image").filter(status="ok")
    assert {(e.kind, e.status) for e in v} == {("image", "ok")}

    assert len(h.search("cats")) == 14  # odd numbers but 7
    assert len(h.search("CATS")) == 14
    # every word must occur (anywhere): "1" is in 1, 10..19 and 21
    assert sorted(e.params["n"] for e in h.search("number 1")) == [i for i in range(30) if "1" in str(i)]
    assert [e.params["n"] for e in h.search("月球")] == [7]
    assert [e.params["n"] for e in h.search("camelcase")] == [7]
    assert len(h.search("no such words anywhere")) == 0
    for nasty in ['"', "*", "AND OR NOT", "a'b", "(x", "100%", "_", "\\", "cats*", "NOT cats"]:
        # FTS syntax never leaks to the user: every word is plain text that must occur, as documented above
        want = sorted(e.id for e in h if all(w.lower() in e.text.lower() for w in nasty.split()))
        assert sorted(h.search(nasty).ids) == want, nasty
    assert len(h.search("100%")) == 0
    # a store whose first use is a search still uses the full-text index
    fresh = Store(h.store.root)
    assert "MATCH" in fresh.text_conditions("camelcase")[0][0]
    assert [e.params["n"] for e in History(fresh).search("camelcase")] == [7]
    assert len(h.filter(kind="image", text="dogs")) == len(
        [i for i in range(30) if i % 3 == 0 and i % 2 == 0 and i != 7])


def test_tail_is_a_fixed_view(filled: History) -> None:
    h = filled
    t = h.tail(5)
    assert t.ids == h.ids[-5:]
    record(h.store, kind="chat", model="z", text="newer")
    assert t.ids == h.ids[-6:-1]  # not pushed out by later calls
    assert h.tail(0).ids == [] and len(h.tail(100)) == 31


def test_usage_summary(filled: History) -> None:
    u = filled.usage()
    assert isinstance(u, UsageSummary)
    by_model = {r["model"]: r for r in u.rows}
    assert sum(r["calls"] for r in u.rows) == 30 == u.total["calls"]
    assert u.total["errors"] == 6 and u.total["ok"] == 24
    assert u.total["input_tokens"] == sum(10 * i for i in range(30))
    assert u.total["output_tokens"] == sum(range(30))
    assert u.total["images"] == 10 and u.total["video_seconds"] == 50.0
    assert all(r["cost"] is None for r in u.rows) and u.total["cost"] is None
    prices = {"a": {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0, "per_image": 0.5, "per_video_second": 0.1}}
    p = filled.usage(prices)
    a = next(r for r in p.rows if r["model"] == "a")
    expect = a["input_tokens"] / 1e6 * 1000 + a["output_tokens"] / 1e6 * 2000 + a["images"] * 0.5 + a["video_seconds"] * 0.1
    assert a["cost"] == pytest.approx(expect) and a["cost"] > 0
    assert p.total["cost"] == pytest.approx(expect)
    assert sorted(p.unpriced) == sorted(set(by_model) - {"a"})
    html = p._repr_html_()
    assert "<table" in html and f"{expect:.4f}" in html and "no price for" in html
    assert "total" in repr(p) and "input_tokens" in repr(u)
    assert filled.filter(kind="video").usage().total["video_seconds"] == 50.0


def test_images_counted_from_outputs_when_usage_has_none(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = store.add_bytes(png((1, 2, 3)), "image/png")
    b = store.add_bytes(png((4, 5, 6)), "image/png")
    record(store, kind="image", model="m", outputs=[{**a.as_dict(), "role": "image"}, {**b.as_dict(), "role": "image"}])
    assert History(store).usage().total["images"] == 2


@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_export_load_round_trip(tmp_path: Path, suffix: str) -> None:
    store = Store(tmp_path / "a")
    img = store.add_bytes(png((200, 10, 10)), "image/png", name="red.png")
    inp = store.add_bytes(png((0, 0, 200)), "image/png", name="in.png")
    entries = [
        record(store, kind="edit", model="gpt-image-1", endpoint="/v1/images/edits", started=T0, session_id="s1",
               mode="live", params={"prompt": "make it red", "images": [inp.ref()], "size": "1024x1024"},
               request={"method": "POST", "path": "/v1/images/edits", "data": {"model": "gpt-image-1"},
                        "files": [{"field": "image", "filename": "in.png", "content_type": "image/png", "size": 9}]},
               response={"request_id": "r-1", "revised_prompt": "red!"}, usage={"images": 1},
               outputs=[{**img.as_dict(), "role": "image"}], text="make it red", thread=None),
        record(store, kind="chat", model="gpt-4o", endpoint="chat", started=T0 + 1.5, params={"message": "hi ✓"},
               text="hi ✓\nhello", thread="t9", status="error", error={"error": "StreamError", "message": "cut"}),
        record(store, kind="video", model="veo", started=T0 + 3, params={"prompt": "waves", "duration": 5},
               status="pending", response={"task_id": "task-1"}),
    ]
    path = tmp_path / "out" / f"hist{suffix}"
    History(store).export(path, include_artifacts=True)
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        assert isinstance(json.loads(text), list)
    else:
        assert len([json.loads(line) for line in text.splitlines()]) == 3
    assert (tmp_path / "out" / f"hist{suffix}.artifacts" / img.path.name).read_bytes() == img.path.read_bytes()

    other = Store(tmp_path / "b")
    other.insert(HistoryEntry(kind="chat", text="already here"))  # ids must be remapped
    loaded = History.load(path, store=other)
    assert len(loaded) == 3 and len(History(other)) == 4
    for before, after in zip(entries, loaded, strict=True):
        assert after.id != before.id
        a, b = before.to_dict(), after.to_dict()
        a.pop("id")
        b.pop("id")
        assert a == b
    assert other.path_of(img.sha256).read_bytes() == img.path.read_bytes()
    assert other.path_of(inp.sha256).read_bytes() == inp.path.read_bytes()
    assert loaded[0].artifacts[0].path.read_bytes() == img.path.read_bytes()

    # without a store: a fresh temporary one; without the artifacts folder: refs stay, files absent
    (tmp_path / "plain").mkdir()
    plain = tmp_path / "plain" / f"h{suffix}"
    plain.write_bytes(path.read_bytes())
    again = History.load(plain)
    assert [e.to_dict()["params"] for e in again] == [e.params for e in entries]
    assert not again.store.has(img.sha256)


def test_export_of_a_filtered_view(filled: History, tmp_path: Path) -> None:
    out = filled.filter(kind="image").export(tmp_path / "img.jsonl")
    assert len(out.read_text().splitlines()) == 10


def test_html_is_escaped_and_has_thumbnails(tmp_path: Path) -> None:
    store = Store(tmp_path)
    big = store.add_bytes(png((255, 0, 0), (640, 480)), "image/png")
    alpha = store.add_bytes(png((0, 255, 0, 128), (200, 200), "RGBA"), "image/png")
    poster = store.add_bytes(png((0, 0, 255), (320, 180)), "image/png")
    video = store.add_bytes(b"\0\0\0\x18ftypmp42" + b"0" * 100, "video/mp4")
    audio = store.add_bytes(wav(1.5), "audio/wav")
    evil = "<script>alert('x')</script> & \"quotes\""
    record(store, kind="image", model="m<b>", params={"prompt": evil}, text=evil,
           outputs=[{**big.as_dict(), "role": "image"}, {**alpha.as_dict(), "role": "image"}])
    record(store, kind="video", model="veo", text="video", outputs=[{**video.as_dict(), "role": "video"},
                                                                     {**poster.as_dict(), "role": "poster"}])
    record(store, kind="speak", model="tts", text="say", outputs=[{**audio.as_dict(), "role": "audio"}])
    record(store, kind="chat", model="x", text="boom", status="error",
           error={"error": "APIError", "message": "<img src=x onerror=alert(1)>"})
    h = History(store)
    html = h._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "m&lt;b&gt;" in html
    assert html.count("data:image/jpeg;base64,") == 2  # red image + video poster
    assert html.count("data:image/png;base64,") == 1  # transparent image keeps alpha
    assert "♪ 1.5 s" in html
    store.wait_thumbnails()  # the worker that makes thumbnails at store time may still be writing one
    thumbs = sorted((tmp_path / "artifacts" / "thumbs").iterdir())
    assert len(thumbs) == 3
    for t in thumbs:
        with Image.open(t) as im:
            assert max(im.size) <= 96
    with Image.open(io.BytesIO(base64.b64decode(html.split("data:image/jpeg;base64,")[1].split("'")[0]))) as im:
        assert im.size == (96, 54)  # newest first: the 320x180 video poster
    # thumbnails are not artifacts
    assert all("thumbs" not in str(p) for p in store.artifact_files())
    # cached on disk: a fresh store object reads them without regenerating
    mtimes = [t.stat().st_mtime_ns for t in thumbs]
    assert History(Store(tmp_path))._repr_html_().count("data:image/") == 3
    assert [t.stat().st_mtime_ns for t in sorted((tmp_path / "artifacts" / "thumbs").iterdir())] == mtimes

    entry_html = h[0]._repr_html_()
    assert "<script>" not in entry_html and "&lt;script&gt;" in entry_html and "data:image/" in entry_html
    assert "s.image(" in entry_html
    assert "<History" in repr(h) and "4 entries" in repr(h)
    assert "HistoryEntry(id=1, image" in repr(h[0])


def test_html_renders_only_the_last_rows(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(120):
        record(store, kind="chat", model="m", text=f"row-{i}-end")
    html = History(store)._repr_html_()
    assert "showing the last 50" in html and "120 entries" in html
    assert "row-119-end" in html and "row-70-end" in html and "row-69-end" not in html
    assert html.index("row-119-end") < html.index("row-70-end")  # newest first


def test_a_terminal_shows_the_history_as_a_table(filled: History) -> None:
    """In a terminal (IPython's text view, ``%th_history``) a History showed only its one-line repr."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.lib.pretty import pretty

    h = filled
    shown = pretty(h)
    assert DisplayFormatter().format(h)[0]["text/plain"] == shown  # what IPython's terminal prints
    lines = shown.splitlines()
    assert lines[0].startswith("History: 30 entries in ") and lines[0].endswith("the last 20, newest first")
    assert lines[1].split() == ["#", "time", "kind", "model", "status", "took", "cost", "prompt", "/", "answer"]
    rows = lines[2:-1]
    assert [int(r.split()[0]) for r in rows] == h.ids[::-1][:20]  # newest first, only the last 20 read
    assert "prompt number 29 about cats" in rows[0] and "error" in rows[4].split()
    assert "history.tail(N)" in lines[-1]
    assert "\n" not in repr(h) and repr(h).startswith("<History: 30 entries")  # repr() stays one line
    few = pretty(h.filter(kind="video").tail(2))
    assert few.splitlines()[0].startswith("History (kind='video', tail(2)): 2 entries") and len(few.splitlines()) == 5
    assert "一只猫在月球上" in pretty(h.search("一只猫在月球上")).splitlines()[2]


def test_the_terminal_table_lines_up_wide_characters(tmp_path: Path) -> None:
    """A CJK character takes two terminal cells: the columns after a model named in one still line up."""
    from IPython.lib.pretty import pretty
    from wcwidth import wcswidth

    store = Store(tmp_path)
    record(store, kind="chat", model="豆包模型", text="one")
    record(store, kind="chat", model="plain-model", text="two")
    lines = pretty(History(store)).splitlines()[1:4]
    starts = [wcswidth(line[:line.index(word)]) for line, word in zip(lines, ("status", "ok", "ok"), strict=True)]
    assert "豆包模型" in lines[2] and len(set(starts)) == 1


def test_the_terminal_table_cannot_drive_a_terminal_nor_show_a_key(tmp_path: Path) -> None:
    """An imported history (or a relay) may put escapes and keys in any field: the text view prints neither."""
    from IPython.lib.pretty import pretty

    key = "sk-terminal-view-SECRET-55443322"
    store = Store(tmp_path)
    record(store, kind="chat", model="m\x1b]52;c;ZXZpbA==\x07x", text=f"hi \x1b[2J{key}\nline two\x1b[31m red",
           status="error", error={"error": "APIError", "message": "boom \x1b]8;;https://evil.example\x07click"})
    shown = pretty(History(store))
    assert "\x1b" not in shown and "\x07" not in shown and key not in shown
    row = shown.splitlines()[2]
    assert "mx" in row and "hi" in row and "line two red ⚠ boom click" in row
    assert "$" not in row  # no recorded cost: an empty cell, not $0
    assert "total" in repr(History(store).usage()) and "\x1b" not in repr(History(store).usage())


def test_artifact_lookup_for_code(filled: History, tmp_path: Path) -> None:
    a = filled.store.add_bytes(b"abc", "text/plain")
    assert filled.artifact(a.sha256) == a.path
    with pytest.raises(FileNotFoundError):
        filled.artifact("f" * 64)


@pytest.mark.parametrize("call,words", [
    (lambda h: h.usage(prices=5), r"usage\(prices=…\) takes a dict"),
    (lambda h: h.usage(prices={"a": 5}), "the prices of 'a' must be a dict"),
    (lambda h: h.usage(prices={"a": {"input_per_mtoks": 2.0}}), "'input_per_mtoks', which is not one. Did you mean 'input_per_mtok'\\?"),
    (lambda h: h.usage(prices={"a": {"per_image": "0.04"}}), "per_image must be an amount in USD"),
    (lambda h: h.usage(prices={"a": {"per_image": float("nan")}}), "per_image must be an amount in USD"),
    (lambda h: History.load(5), r"History.load\(\) takes the path of an export, not int"),
    (lambda h: History.load("h.json", store=5), r"History.load\(store=…\) takes a store folder .* not int"),
    (lambda h: History(5), r"History\(\) takes a store folder \(a path\) or a Store, not int"),
    (lambda h: h.artifact("zz"), r"artifact\(\) takes an artifact's sha256"),
    (lambda h: h.artifact(5), r"artifact\(\) takes an artifact's sha256"),
])
def test_usage_prices_load_and_artifact_arguments_are_one_line(filled: History, call: Any, words: str) -> None:
    """prices=5 was an AttributeError, a typo'd price key a silent $0, load(5) and artifact('zz') a bare
    TypeError / ValueError from inside."""
    with pytest.raises(InputError, match=words) as info:
        call(filled)
    assert "\n" not in str(info.value)


def test_time_filters_accept_friendly_values(filled: History) -> None:
    import datetime as dt

    assert len(filled.filter(since=dt.datetime.fromtimestamp(T0 + 60 * 25))) == 5
    assert len(filled.filter(since=dt.timedelta(days=1))) == 0
    iso = dt.datetime.fromtimestamp(T0 + 60 * 25).isoformat()
    assert len(filled.filter(until=iso)) == 26
    assert len(History(filled.store).filter(since=time.time() - 10)) == 0
    with pytest.raises(TypeError):
        filled.filter(since=object())


@pytest.mark.parametrize("tokenizers, flavour", [
    (("unicode61 remove_diacritics 2",), "unicode61"),  # SQLite older than 3.34: no trigram
    (("no-such-tokenizer",), "none"),                     # no FTS5 at all: LIKE
])
def test_search_fallbacks(tmp_path: Path, tokenizers: tuple[str, ...], flavour: str) -> None:
    class OldStore(Store):
        fts_tokenizers = tokenizers

    store = OldStore(tmp_path)
    for i, text in enumerate(["Lighthouse at dusk", "a red cat", "lighthouses everywhere", "50% off"]):
        record(store, kind="chat", model="m", text=text, params={"i": i})
    assert store.fts == flavour
    h = History(store)
    assert sorted(e.params["i"] for e in h.search("lighthouse")) == [0, 2]
    assert [e.params["i"] for e in h.search("red CAT")] == [1]
    assert [e.params["i"] for e in h.search("50%")] == [3]
    assert len(h.search("dog")) == 0
    # a later Store object on the same folder keeps the flavour the store was created with
    assert Store(tmp_path).fts == flavour


def test_reversed_and_stepped_slices(filled: History) -> None:
    """``h[::-1]`` used to be empty (``ids[29:-1:-1]``: the stop index -1 means "the last one" there)."""
    ids = filled.ids
    assert [e.id for e in filled[::-1]] == ids[::-1]
    assert [e.id for e in filled[-1:-4:-1]] == ids[-1:-4:-1]
    assert [e.id for e in filled[20:5:-5]] == ids[20:5:-5]
    assert [e.id for e in filled[1::10]] == ids[1::10]


@pytest.mark.parametrize("index", ["1", 1.5, None, "abc"])
def test_an_index_that_is_not_a_whole_number_is_one_clear_line(filled: History, index: object) -> None:
    """``int()`` took 1.5 as 1 and "1" as 1; None and "abc" ended in a raw TypeError/ValueError."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match="History positions are whole numbers or slices") as info:
        filled[index]  # type: ignore[index]
    assert isinstance(info.value, TypeError)  # still what list-like code expects
    with pytest.raises(InputError, match=r"history.get\(\) takes an entry's # id"):
        filled.get(index)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", [10**9, 10**30, -10**30])
def test_an_id_or_position_with_no_entry_is_one_clear_line(filled: History, number: int) -> None:
    """``get`` leaked a KeyError from the store (an OverflowError past SQLite's integers), ``h[i]`` a bare
    IndexError; both stay what dict-like and list-like code expects."""
    with pytest.raises(InputError, match=f"There is no history entry #{number} in ") as info:
        filled.get(number)
    assert isinstance(info.value, KeyError) and "history" in info.value.hint
    with pytest.raises(InputError, match=f"There is no entry at position {number}: this history has ") as at:
        filled[number]
    assert isinstance(at.value, IndexError)


@pytest.mark.parametrize("kw,words", [
    ({"kind": "imgae"}, "kind 'imgae'. Did you mean 'image'\\?"),
    ({"kind": ["image", "vidoe"]}, "kind 'vidoe'. Did you mean 'video'\\?"),
    ({"status": "failed"}, "A status is one of: running, ok, error"),
    ({"since": "yesterday"}, "Cannot read a time from 'yesterday'.*'2h'"),
    ({"until": "2x"}, "Cannot read a time from '2x'"),
])
def test_filters_no_row_can_match_are_refused(filled: History, kw: dict[str, object], words: str) -> None:
    """A typo'd kind or status used to show an empty history, as if nothing had been recorded."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=words):
        filled.filter(**kw)  # type: ignore[arg-type]


def test_search_text_that_sqlite_cannot_take(filled: History) -> None:
    """A NUL used to end the query early and come back as "the history store could not be read"; a lone
    surrogate as a UnicodeEncodeError."""
    from tokenhot_nb.errors import InputError

    assert filled.search("cats\x00").ids == filled.search("cats").ids
    with pytest.raises(InputError, match="lone surrogate"):
        filled.search("ca\ud800ts")
    with pytest.raises(InputError, match="Search text must be a str, not int"):
        filled.search(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [-1, "a", 2.5])
def test_tail_takes_a_count(filled: History, n: object) -> None:
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"tail\(\) takes how many entries"):
        filled.tail(n)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [None, 3])
def test_export_takes_a_path(filled: History, path: object) -> None:
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"export\(\) takes a file path"):
        filled.export(path)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["", "  ", "h\x00.json"])
def test_an_empty_path_or_one_holding_a_nul_is_no_export_path(filled: History, path: str) -> None:
    """``export('')`` said "Could not write … to '': Device or resource busy"; a NUL in the path was a bare
    ``ValueError: embedded null byte`` from ``export`` and from ``History.load``."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"export\(\) takes a file path, not "):
        filled.export(path)
    with pytest.raises(InputError, match=r"History\.load\(\) takes the path of an export, not "):
        History.load(path)


def test_tail_of_more_than_sqlite_counts(filled: History) -> None:
    """``%th_history 99999999999999999999999`` ended in an OverflowError shown as a possible bug."""
    assert len(filled.tail(10**30)) == 30


@pytest.mark.parametrize("name", ["history.csv", "notes.txt"])
def test_export_names_its_formats(filled: History, tmp_path: Path, name: str) -> None:
    """``export('x.csv')`` wrote JSON into a .csv file without a word."""
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"export\(\) writes JSON \(.json\) or JSON Lines \(.jsonl\)"):
        filled.export(tmp_path / name)
    assert not (tmp_path / name).exists()
    assert filled.export(tmp_path / "H.JSONL").exists()


@pytest.mark.parametrize("kw", [{"model": 3}, {"kind": 3}, {"session_id": 7}])
def test_a_filter_value_of_the_wrong_type(filled: History, kw: dict[str, object]) -> None:
    from tokenhot_nb.errors import InputError

    with pytest.raises(InputError, match=r"takes a str or a list of them, not int"):
        filled.filter(**kw)  # type: ignore[arg-type]



def test_numpy_whole_numbers_pick_entries(tmp_path: Path) -> None:
    """An id or a count from a numpy array (a DataFrame's column) is a whole number like any other."""
    import numpy as np

    h = History(Store(tmp_path / "st"))  # (a path alone must hold a store already)
    for i in range(3):
        h.store.insert(HistoryEntry(kind="chat", model="m", params={"message": f"q{i}"}, text=f"q{i}"))
    assert h.get(np.int64(2)).text == "q1"
    assert [e.text for e in h.tail(np.int32(2))] == ["q1", "q2"]


def test_an_export_path_with_no_suffix_is_written_as_json(tmp_path: Path) -> None:
    """``export('backup')`` wrote JSON before other suffixes were refused; it still does."""
    h = History(Store(tmp_path / "st"))  # (a path alone must hold a store already)
    h.store.insert(HistoryEntry(kind="chat", model="m", params={"message": "q"}, text="q"))
    out = h.export(tmp_path / "backup")
    assert [e["text"] for e in json.loads(out.read_text())] == ["q"]
    with pytest.raises(InputError, match="JSON"):
        h.export(tmp_path / "backup.csv")


def test_filter_by_model_takes_an_alias(tmp_path: Path) -> None:
    """``filter(model='claude-opus')`` found nothing, though the alias works everywhere else."""
    from tokenhot_nb import Session

    with Session(mode="offline", store=tmp_path / "store") as s:
        s.chat("hello", model="claude-opus", stream=False)
        s.chat("hello", model="gpt-5.2", stream=False)
        opus = s.model("claude-opus").id
        assert [e.model for e in s.history.filter(model="claude-opus")] == [opus]
        assert [e.model for e in s.history.filter(model=["opus", "gpt-5.2"])] == [opus, "gpt-5.2"]
        assert len(s.history.filter(model=opus)) == 1
        assert len(s.history.filter(model="no-such-model")) == 0  # an unknown name filters literally
    with pytest.raises(Exception):  # noqa: B017 - an unknown model is refused; its row keeps the name as given
        Session(mode="offline", store=tmp_path / "store").image("a cat", model="my-own-model")
    assert len(History(tmp_path / "store").filter(model="my-own-model")) == 1  # no session: built-in catalogue


def test_a_views_repr_never_shows_a_key_it_was_searched_for(tmp_path: Path) -> None:
    from tokenhot_nb import Session

    key = "tkh-MYSECRETKEY-1234567890"
    with Session(mode="offline", store=tmp_path, api_key=key) as s:
        assert key not in repr(s.history.search(key)) and key not in repr(s.history.filter(model=key))


def test_the_table_masks_a_key_in_an_older_rows_text_before_cutting_it(tmp_path: Path) -> None:
    """The table reads the text column as stored (a store written by another version or tool may hold a key
    there) and shows its first 160 characters: cut first, the key's start was left and no longer recognisable."""
    from tokenhot_nb._config import Secret

    key = "tkn-older-row-Kq7-0123456789abcdef"
    store = Store(tmp_path, secrets=[Secret(key)])
    eid = store.insert(HistoryEntry(kind="chat", model="m", params={"message": "hi"}, text="q", status="ok"))
    conn = store.connection()
    for cut_at in range(140, 161, 4):  # the key across the cut, at several places
        conn.execute("UPDATE entries SET text=? WHERE id=?", ("x" * cut_at + key + " end", eid))
        conn.commit()
        html = History(store)._repr_html_()
        assert not [key[i:i + 8] for i in range(len(key) - 7) if key[i:i + 8] in html], (cut_at, html)


_READ_ALONE = """
import sys
from tokenhot_nb.history import History, HistoryEntry, Store

store = Store(sys.argv[1])
store.update(store.insert(HistoryEntry(kind="chat", model="m", text="q")), status="ok", text="q\\n\\na")
store.close()
h = History(sys.argv[1])
print(len(h), h[-1].text == "q\\n\\na", "<table" in h._repr_html_(), len(h.search("q")))
print(" ".join(sorted(m for m in ("httpx", "tokenhot_nb._session", "tokenhot_nb.client") if m in sys.modules)))
"""


def test_a_history_read_on_its_own_imports_no_session_and_no_http_client(tmp_path: Path) -> None:
    """``History(path)`` in a fresh process (a script reading a notebook's history) stays light: the replay
    position of a session it does not have, and the sweep of download leftovers it has none of, once imported
    the session, the client and httpx (~0.2 s)."""
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", _READ_ALONE, str(tmp_path / "st")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    shown, heavy = proc.stdout.split("\n")[:2]
    assert shown == "1 True True 1" and heavy == "", proc.stdout


def test_one_model_under_its_dot_and_dash_spellings_is_one_model(tmp_path: Path) -> None:
    """An older store may hold ``doubao-seedance-1.5`` and ``doubao-seedance-1-5`` for one model (§10.1: the table
    and the docs spell ids differently): the model filter finds both, usage sums them in one row, and a price
    table spelt the other way prices it."""
    store = Store(tmp_path / "store")
    for i, model in enumerate(["doubao-seedance-1.5", "doubao-seedance-1-5", "doubao-seedance-1.5", "gpt-5.4"]):
        record(store, kind="video" if i < 3 else "chat", model=model, started=T0 + i, params={"prompt": str(i)},
               text=str(i), usage={"video_seconds": 5.0, "cost": {"usd": 0.5}} if i < 3 else {"input_tokens": 3})
    h = History(store)
    for name in ("doubao-seedance-1.5", "doubao-seedance-1-5", "Doubao-Seedance-1_5"):
        assert len(h.filter(model=name)) == 3, name
    assert len(h.filter(model=["gpt-5.4", "doubao-seedance-1-5"])) == 4
    rows = {r["model"]: r for r in h.usage().rows}
    assert set(rows) == {"doubao-seedance-1.5", "gpt-5.4"}  # under its most used spelling
    seedance = rows["doubao-seedance-1.5"]
    assert (seedance["calls"], seedance["video_seconds"], seedance["cost"]) == (3, 15.0, pytest.approx(1.5))
    priced = h.usage({"doubao-seedance-1-5": {"per_video_second": 0.1}})
    assert next(r for r in priced.rows if r["model"] == "doubao-seedance-1.5")["cost"] == pytest.approx(1.5)


def test_a_path_that_holds_no_store_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    """``History('typo')`` made an empty store there (its folders too) and showed "0 entries", as if the calls had
    never been made; it now says the folder holds no history, names the store nearby, and makes nothing."""
    from tokenhot_nb.errors import StoreError

    Store(tmp_path / ".tokenhot").insert(HistoryEntry(kind="chat", model="m", text="kept"))
    for given, words in [
        (tmp_path / "tokenhot", f"'{tmp_path / 'tokenhot'}' does not exist. Did you mean History\\('{tmp_path / '.tokenhot'}'\\)"),
        (tmp_path / ".tokenhat", "does not exist. Did you mean History\\(.*\\.tokenhot'\\)"),
        (tmp_path, "holds no history store \\(no history.sqlite in it\\). Did you mean History\\(.*\\.tokenhot'\\)"),
        (tmp_path / "a" / "b", "does not exist. Check the path: .*a Session makes its store at its first call"),
        (tmp_path / ".tokenhot" / "history.sqlite", "is a store's database file.*History\\('.*\\.tokenhot'\\)"),
    ]:
        with pytest.raises(StoreError, match=words) as info:
            History(given)
        assert "\n" not in str(info.value)
    (tmp_path / "h.jsonl").write_text("")
    with pytest.raises(StoreError, match=r"Load it with History.load\("):
        History(str(tmp_path / "h.jsonl"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tokenhot", "h.jsonl"], "a folder was made"
    assert [e.text for e in History(tmp_path / ".tokenhot", read_only=True)] == ["kept"]
    assert len(History(Store(tmp_path / "new"))) == 0  # a Store of its own is made at its first use, as before


@pytest.mark.parametrize("text", ["", " ", "\t\n", "\x00", " \x00 "])
def test_a_search_for_no_word_is_refused_not_everything(filled: History, text: str) -> None:
    """``search(' ')`` matched every row, as if every entry held what was looked for."""
    for call in (lambda: filled.search(text), lambda: filled.filter(text=text)):
        with pytest.raises(InputError, match="holds no word to look for") as info:
            call()
        assert "\n" not in str(info.value) and "history.search('cat')" in (info.value.hint or "")
    assert len(filled.filter(text=None)) == 30


@pytest.mark.parametrize("value,words", [
    (float("nan"), "nan is no time"), (float("inf"), "inf is no time"), (-3600, "-3600 is no time.*'1h'"),
    (True, "Cannot read a time from True"),
    (__import__("datetime").timedelta(hours=-2), "is negative \\(a time still to come\\)"),
])
def test_a_time_no_row_can_be_compared_with_is_refused(filled: History, value: object, words: str) -> None:
    """``since=nan`` showed no entry and ``since=True`` every one (the second after 1970), without a word; a
    negative number or timedelta is an age meant the other way round."""
    for kw in ("since", "until"):
        with pytest.raises(InputError, match=words) as info:
            filled.filter(**{kw: value})  # type: ignore[arg-type]
        assert "\n" not in str(info.value)


def test_times_from_numpy_and_the_ends_of_the_calendar_are_read(filled: History) -> None:
    """``datetime.min`` (from the start) was a bare ``ValueError: year 0 is out of range``; numpy's whole numbers
    were refused as "no time"."""
    import datetime as dt

    import numpy as np

    assert len(filled.filter(since=dt.datetime.min)) == 30 and len(filled.filter(until=dt.date.min)) == 0
    assert len(filled.filter(until=dt.datetime.max)) == 30
    assert len(filled.filter(since=np.int64(T0 + 60 * 25))) == 5 and len(filled.filter(since=np.float32(0))) == 30


@pytest.mark.parametrize("kw,words", [
    ({"kind": []}, r"filter\(kind=…\) was given an empty list"),
    ({"status": ()}, r"filter\(status=…\) was given an empty list"),
    ({"model": ""}, r"filter\(model=…\) was given ''"),
    ({"model": ["a", 5]}, r"filter\(model=…\) was given int \(5\)"),
    ({"session_id": []}, r"filter\(session_id=…\) was given an empty list"),
    ({"thread": 5}, r"filter\(thread=…\) takes a conversation's name \(a str\), not 5"),
    ({"thread": " "}, r"filter\(thread=…\) takes a conversation's name"),
])
def test_a_filter_no_entry_can_match_is_refused_not_empty(filled: History, kw: dict[str, object], words: str) -> None:
    """``filter(kind=[])``, ``filter(model='')`` and ``filter(thread=5)`` showed an empty history without a word
    (5 was looked for as '5'), as if nothing had been recorded."""
    with pytest.raises(InputError, match=words) as info:
        filled.filter(**kw)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert len(filled.filter(thread="th-1")) > 0 and len(filled.filter(model=["a", "b"])) > 0


@pytest.mark.parametrize("index,words", [(slice("a", None), "History slices take whole numbers, not str"),
                                         (slice(None, None, 0), "step cannot be 0"),
                                         (slice(None, 2.5), "not float")])
def test_a_slice_of_the_wrong_kind_is_one_line(filled: History, index: slice, words: str) -> None:
    """``h['a':]`` and ``h[::0]`` were a TypeError / ValueError from inside the view."""
    with pytest.raises(InputError, match=words):
        filled[index]


def test_export_and_load_read_a_home_folder_path(filled: History, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """``export('~/h.jsonl')`` wrote into a folder named '~' in the working folder (``load`` then found nothing)."""
    from tokenhot_nb.errors import WrongTypeError

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home").mkdir()
    out = filled.export("~/h.jsonl")
    assert out == tmp_path / "home" / "h.jsonl" and out.is_file() and not (tmp_path / "~").exists()
    assert len(History.load("~/h.jsonl")) == 30
    with pytest.raises(WrongTypeError, match=r"include_artifacts=…\) is True or False, not 'no'"):
        filled.export(tmp_path / "x.jsonl", include_artifacts="no")  # type: ignore[arg-type]
    assert not (tmp_path / "x.jsonl").exists()


def test_a_history_error_shows_the_callers_line_and_one_frame_of_the_library(filled: History, tmp_path: Path) -> None:
    """History is a front door like Session: its refusals came with the frames of ``filter``, ``to_timestamp`` or
    the store's checks under the caller's line; the frames cut stay in ``err.details()``."""
    import os
    import traceback

    import tokenhot_nb
    from tokenhot_nb.errors import StoreError, full_traceback

    package = os.path.dirname(os.path.abspath(tokenhot_nb.__file__))

    def ours(err: BaseException, tb: Any = None) -> list[str]:  # (the error's own frames; a cause prints its own)
        frames = traceback.extract_tb(tb if tb is not None else err.__traceback__)
        return [f.filename for f in frames if f.filename.startswith(package)]

    for call, kind in [(lambda: filled.filter(since=float("nan")), InputError),
                       (lambda: filled.search(" "), InputError),
                       (lambda: History(tmp_path / "nowhere"), StoreError),
                       (lambda: History.load(tmp_path / "none.json"), StoreError)]:
        with pytest.raises(kind) as info:
            call()
        assert len(ours(info.value)) == 1, ours(info.value)
        assert len(ours(info.value, full_traceback(info.value))) > 1  # (kept for %th_config --last-error)


@pytest.mark.parametrize("blank", ["", "  "])
def test_a_blank_store_path_is_refused_not_read_as_the_working_folder(
        filled: History, monkeypatch: pytest.MonkeyPatch, blank: str) -> None:
    """``History('')`` opened the working folder as a store (``Path('')`` is ``.``): in a store's folder it showed
    that store without a word, elsewhere it said the working folder held none. One line now."""
    monkeypatch.chdir(filled.store.root)
    with pytest.raises(InputError, match=r"^History\(\) was given an empty path") as info:
        History(blank)
    assert "\n" not in str(info.value) and "History('.tokenhot')" in str(info.value)


@pytest.mark.parametrize("call", ["export", "load"])
def test_a_path_with_a_lone_surrogate_is_one_line(tmp_path: Path, call: str) -> None:
    """No file name holds a lone surrogate: export() and History.load() of such a path were a UnicodeEncodeError
    from deep in the export (the history panel said it in one line; the Python API did not)."""
    bad = str(tmp_path / "h\ud800.jsonl")
    with pytest.raises(InputError, match=r"holds an invalid character \('\\ud800', a lone surrogate, at position") \
            as info:
        if call == "export":
            History(Store(tmp_path / "st")).export(bad)
        else:
            History.load(bad)
    assert info.value.hint == "Type the path again without it."
    assert not any(p.name.startswith("h") for p in tmp_path.iterdir())
