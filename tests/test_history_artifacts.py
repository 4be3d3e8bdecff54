"""Artifact files: small ones written in one go, images thumbnailed once when they are stored."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from tokenhot_nb.history import History, HistoryEntry, Store
from tokenhot_nb.history._artifacts import SMALL_WRITE, THUMB_PX


def _png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def test_an_image_gets_its_thumbnail_when_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes(_png((800, 400), (200, 10, 10)), "image/png")
    thumb = tmp_path / "artifacts" / "thumbs" / f"{art.sha256}-{THUMB_PX}.jpg"
    store.wait_thumbnails()
    assert thumb.is_file()  # made at store time (on the background worker), before anything is shown
    with Image.open(thumb) as im:
        assert max(im.size) == THUMB_PX and im.format == "JPEG"
    # showing it never decodes the original again: replace it with garbage and render
    art.path.write_bytes(b"not an image any more")
    eid = store.insert(HistoryEntry(kind="image", model="m", status="ok", text="red",
                                    outputs=[{**art.as_dict(), "role": "image"}]))
    assert eid
    html = History(Store(tmp_path))._repr_html_()
    assert "data:image/jpeg;base64," in html


def test_a_downloaded_image_moved_in_is_thumbnailed_too(tmp_path: Path) -> None:
    src = tmp_path / "download.png"
    src.write_bytes(_png((300, 300), (1, 2, 3)))
    store = Store(tmp_path / "st")
    art = store.add_file(src, "image/png")
    store.close()  # waits for the thumbnails it started
    assert (tmp_path / "st" / "artifacts" / "thumbs" / f"{art.sha256}-{THUMB_PX}.jpg").is_file()


def test_a_broken_image_is_stored_without_a_thumbnail(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes(b"\x89PNG broken", "image/png")
    assert art.read_bytes() == b"\x89PNG broken"
    assert store.thumbnail(art.sha256) is None


def test_small_and_large_artifacts_are_whole_and_leave_no_temp_files(tmp_path: Path) -> None:
    store = Store(tmp_path)
    small = b"answer " * 10
    large = bytes(range(256)) * (SMALL_WRITE // 256 + 10)
    for data in (small, large):
        art = store.add_bytes(data, "text/plain")
        assert art.read_bytes() == data and art.size == len(data)
        again = store.add_bytes(data, "text/plain")  # stored once
        assert again.sha256 == art.sha256
    assert store.temp_files() == []
    assert len(list(store.artifact_files())) == 2


def test_a_deferred_artifact_row_lands_with_the_next_commit(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes(b"an answer", "text/plain", name="answer.txt", register_now=False)
    rows = lambda: store.connection().execute("SELECT sha256, name FROM artifacts").fetchall()  # noqa: E731
    assert rows() == [] and art.read_bytes() == b"an answer"  # the file is complete before its row exists
    try:
        store._tx(lambda c: 1 / 0)  # a transaction that fails keeps the row waiting
    except ZeroDivisionError:
        pass
    assert rows() == []
    eid = store.insert(HistoryEntry(kind="chat", model="m", text="q"))
    assert rows() == [(art.sha256, "answer.txt")] and eid
    assert store.artifact(art.sha256).name == "answer.txt"


def test_a_deferred_row_is_written_when_the_store_closes(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.count()
    art = store.add_bytes(b"late", "text/plain", register_now=False)
    store.close()
    assert Store(tmp_path).artifact(art.sha256).mime == "text/plain"


def test_a_chat_answer_and_its_row_are_one_commit(tmp_path: Path) -> None:
    from _session_support import make_session

    s = make_session(tmp_path / "st")
    r = s.chat("hello", stream=False, thread=False)
    sha = r.entry.outputs[0]["sha256"]
    assert s.store.connection().execute("SELECT mime FROM artifacts WHERE sha256=?", (sha,)).fetchone() == \
        ("text/plain",)
    assert s.store._pending == []
    s.close()


def test_an_offline_image_call_leaves_its_thumbnail_before_any_view(tmp_path: Path) -> None:
    from _session_support import make_session

    s = make_session(tmp_path / "st")
    r = s.image("a red fox", model="gpt-image-2")
    sha = r.entry.outputs[0]["sha256"]
    s.close()
    assert (tmp_path / "st" / "artifacts" / "thumbs" / f"{sha}-{THUMB_PX}.jpg").is_file()
