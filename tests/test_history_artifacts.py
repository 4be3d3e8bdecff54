"""Artifact files: small texts kept in the database, small files written in one go, images thumbnailed once when
they are stored."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from tokenhot_nb.history import History, HistoryEntry, Store
from tokenhot_nb.history._artifacts import INLINE_MAX, SMALL_WRITE, THUMB_PX


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
    small = b"\x00binary " * 10
    large = bytes(range(256)) * (SMALL_WRITE // 256 + 10)
    for data in (small, large):
        art = store.add_bytes(data, "application/octet-stream")
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


def _files(store: Store) -> list[str]:
    return [p.name[:64] for p in store.artifact_files()]


def test_a_small_text_is_kept_in_the_database_and_made_a_file_only_when_its_path_is_asked(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes("an answer, ünïcode".encode(), "text/plain", name="answer.txt")
    assert _files(store) == [] and store.has(art.sha256)  # no file: the bytes are in the artifacts row
    assert store.connection().execute("SELECT data FROM artifacts WHERE sha256=?", (art.sha256,)).fetchone()[0] \
        == "an answer, ünïcode".encode()
    assert store.read_artifact(art.sha256) == "an answer, ünïcode".encode() and _files(store) == []
    assert store.check() == {**store.check(), "artifacts": 1, "missing": [], "corrupt": []}
    path = art.path  # an ordinary file from then on, under its usual name
    assert path == tmp_path / "artifacts" / art.sha256[:2] / f"{art.sha256}.txt"
    assert path.read_text("utf-8") == "an answer, ünïcode" and _files(store) == [art.sha256]
    assert store.add_bytes("an answer, ünïcode".encode(), "text/plain").sha256 == art.sha256
    assert store.connection().execute("SELECT COUNT(*) FROM artifacts").fetchone()[0] == 1
    store.close()


def test_what_is_kept_in_the_database(tmp_path: Path) -> None:
    store = Store(tmp_path)
    inline = [store.add_bytes(b"x" * INLINE_MAX, "text/plain"), store.add_bytes(b'{"a": 1}', "application/json"),
              store.add_bytes(b"WEBVTT\n", "text/vtt")]
    files = [store.add_bytes(b"y" * (INLINE_MAX + 1), "text/plain"), store.add_bytes(_png((4, 4), (0, 0, 0)),
                                                                                         "image/png")]
    store.wait_thumbnails()
    assert sorted(_files(store)) == sorted(a.sha256 for a in files)
    assert all(store.read_artifact(a.sha256) == a.read_bytes() for a in inline + files)
    store.close()


def test_a_damaged_text_in_the_database_is_reported_by_check(tmp_path: Path) -> None:
    store = Store(tmp_path)
    art = store.add_bytes(b"the answer", "text/plain")
    eid = store.insert(HistoryEntry(kind="chat", model="m", status="ok", outputs=[{**art.as_dict(), "role": "text"}]))
    assert eid and store.check()["corrupt"] == [] and store.check()["missing"] == []
    store.connection().execute("UPDATE artifacts SET data=? WHERE sha256=?", (b"changed", art.sha256))
    assert store.check()["corrupt"] == [art.sha256]
    store.connection().execute("DELETE FROM artifacts WHERE sha256=?", (art.sha256,))
    assert store.check()["missing"] == [art.sha256] and not store.has(art.sha256)
    store.close()


def test_a_text_whose_file_was_lost_gets_its_bytes_back_when_stored_again(tmp_path: Path) -> None:
    sha = hashlib.sha256(b"lost").hexdigest()
    store = Store(tmp_path)
    store.connection().execute("INSERT INTO artifacts(sha256, mime, size, name, suffix, created) VALUES "
                               "(?, 'text/plain', 4, '', '.txt', 0)", (sha,))  # a file's row, the file gone
    assert not store.has(sha)
    store.add_bytes(b"lost", "text/plain")
    assert store.read_artifact(sha) == b"lost"
    store.close()


def test_a_read_only_store_shows_a_text_from_the_database_without_writing(tmp_path: Path) -> None:
    store = Store(tmp_path / "st")
    art = store.add_bytes(b"kept inline", "text/plain")
    store.close()
    ro = Store(tmp_path / "st", read_only=True)
    path = ro.path_of(art.sha256)
    assert path.read_bytes() == b"kept inline" and not path.is_relative_to(tmp_path / "st")
    assert _files(ro) == []
    ro.close()


def test_a_chat_answer_makes_no_file_and_is_replayed_exported_and_imported(tmp_path: Path) -> None:
    from _session_support import make_session

    s = make_session(tmp_path / "st")
    r = s.chat("hello lighthouse", stream=False)
    r2 = s.chat("and the keeper?", stream=False)  # a thread turn rebuilds the conversation from the rows
    assert _files(s.store) == []
    assert r.entry.result().text == r.text and _files(s.store) == []  # rebuilt from the database
    s.close()
    replay = make_session(tmp_path / "st", mode="replay")
    assert replay.chat("hello lighthouse", stream=False).text == r.text
    assert replay.chat("and the keeper?", stream=False).text == r2.text
    replay.close()
    bundle = tmp_path / "export" / "history.jsonl"
    History(tmp_path / "st").export(bundle, include_artifacts=True)  # the texts are files in the bundle
    assert sorted(p.read_text("utf-8") for p in bundle.parent.rglob("*.txt")) == sorted([r.text, r2.text])
    other = Store(tmp_path / "other")
    loaded = History.load(bundle, other)
    assert [e.result().text for e in loaded] == [r.text, r2.text]
    other.close()


_FORKED_THUMBS = textwrap.dedent(
    """
    import io, os, sys, threading, time
    from PIL import Image
    from tokenhot_nb.history import Store
    from tokenhot_nb.history._artifacts import _thumb_pool

    def png(color):
        out = io.BytesIO()
        Image.new("RGB", (64, 64), color).save(out, "PNG")
        return out.getvalue()

    store = Store(sys.argv[1])
    gate = threading.Event()
    _thumb_pool().submit(gate.wait)  # the worker is busy: the parent's thumbnail is still queued at the fork
    store.add_bytes(png("red"), "image/png")
    pid = os.fork()
    if pid == 0:
        t = time.monotonic()
        art = store.add_bytes(png("blue"), "image/png")
        store.wait_thumbnails(timeout=3)
        made = any(store.thumbs_dir.glob(art.sha256 + "-*"))
        print(f"{time.monotonic() - t:.1f} {made}", flush=True)
        os._exit(0)
    os.waitpid(pid, 0)
    gate.set()
    store.close()
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_makes_its_thumbnails_and_never_waits_for_its_parents(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _FORKED_THUMBS, str(tmp_path / "store")], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == 0, proc.stderr
    took, made = proc.stdout.split()
    assert made == "True"  # the child's own thumbnail was made (the parent's pool has no worker in the child)
    assert float(took) < 2  # and waiting for thumbnails did not wait out the parent's, which never end here
