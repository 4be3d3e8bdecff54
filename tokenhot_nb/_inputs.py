"""Turn whatever the user hands us (path, bytes, PIL image, URL, earlier result) into bytes + mime.

Families only take ``(bytes, mime)``; the history wants a stable, JSON-safe reference for each input so
that a recorded call can be replayed or re-run. Both come from here: :func:`to_media` reads the input
once, and :meth:`Media.ref` is what goes into ``params``. A ref dict is itself an accepted input, so
``entry.to_code()`` can pass the recorded params back verbatim and get the same replay key.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import InputError

if TYPE_CHECKING:
    from .history import Store

MediaKind = Literal["image", "audio", "video"]

_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"BM", 0, "image/bmp"),
    (b"ID3", 0, "audio/mpeg"),
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"ADIF", 0, "audio/aac"),
    (b"\x1aE\xdf\xa3", 0, "video/webm"),
)

_EXT = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "audio/wav": ".wav",
    "audio/mpeg": ".mp3",
    "audio/flac": ".flac",
    "audio/ogg": ".ogg",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
    "audio/aiff": ".aiff",
    "audio/webm": ".webm",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "text/plain": ".txt",
    "application/json": ".json",
}


def sniff_mime(data: bytes, default: str = "application/octet-stream") -> str:
    """The media type from the first bytes; file names lie more often than magic numbers."""
    head = data[:16]
    for sig, off, mime in _SIGNATURES:
        if head[off : off + len(sig)] == sig:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:  # ADTS (AAC): sync word, layer 00
            return "audio/aac"
        if head[1] & 0xE0 == 0xE0 and head[1] & 0x06:  # MPEG audio frame sync, layer I–III
            return "audio/mpeg"
    return default


#: Inputs larger than this are refused before any request (the services' documented upload limits: OpenAI
#: image edits and vision take up to 20 MB an image, Whisper 25 MB of audio). Refused, not silently downscaled:
#: the recorded input stays exactly what the user gave.
MAX_INPUT_BYTES: dict[str, int] = {"image": 20 * 1024 * 1024, "audio": 25 * 1024 * 1024,
                                   "video": 200 * 1024 * 1024}
#: An input image with more pixels than this is refused before it is decoded (a "pixel bomb").
MAX_INPUT_PIXELS = 64_000_000
_ACCEPTED = {"image": "PNG, JPEG, WEBP, GIF or BMP", "audio": "WAV, MP3, M4A, FLAC, OGG or WEBM",
             "video": "MP4 or WEBM"}


def check_media(data: bytes, kind: MediaKind, label: str, *, limits: bool = True) -> str:
    """The media type of ``data`` when it really is a ``kind`` within the size limits; else one clear InputError.

    ``label`` names the input in the message (the file name, or what was passed). ``limits=False``: the kind only,
    for a file already in the store (taken when it was stored, or made by the service, which may exceed them).
    """
    limit = MAX_INPUT_BYTES[kind]
    if limits and len(data) > limit:
        raise InputError(
            f"The {kind} input {label} is {len(data) / 1e6:.1f} MB, over the {limit // (1024 * 1024)} MB limit.",
            hint="Make it smaller first" + (" (e.g. PIL: img.thumbnail((2048, 2048)))." if kind == "image" else "."),
        )
    mime = sniff_mime(data, "")
    if kind == "image":
        return _check_image(data, mime, label, limits=limits)
    if mime.startswith(kind + "/") or (kind == "audio" and mime in ("video/mp4", "video/webm")):
        return "audio/webm" if kind == "audio" and mime == "video/webm" else mime
    what = f"it looks like {mime}" if mime else "its bytes are no known format"
    raise InputError(f"The {kind} input {label} is not {'an' if kind == 'audio' else 'a'} {kind} ({what}).",
                     hint=f"Pass a {_ACCEPTED[kind]} file.")


def _check_image(data: bytes, mime: str, label: str, *, limits: bool = True) -> str:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only: size is known before any decoding
            w, h = img.size
            fmt = (img.format or "").upper()
    except Image.DecompressionBombError as exc:  # Pillow's own limit (2× MAX_IMAGE_PIXELS) hit at open
        raise InputError(f"The image input {label} has too many pixels ({exc}): refused before decoding it.",
                         hint="Use a smaller image.") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        what = f"it looks like {mime}" if mime and not mime.startswith("image/") else "it does not decode"
        raise InputError(f"The image input {label} is not an image ({what}).",
                         hint=f"Pass a {_ACCEPTED['image']} file.") from exc
    if limits and w * h > MAX_INPUT_PIXELS:
        raise InputError(f"The image input {label} is {w}×{h} pixels, more than {MAX_INPUT_PIXELS // 1_000_000} "
                         "million: refused before decoding it.", hint="Use a smaller image.")
    return mime or Image.MIME.get(fmt, "image/png")


def ext_for(mime: str) -> str:
    """A file suffix for a media type (``.bin`` when unknown)."""
    return _EXT.get(mime) or mimetypes.guess_extension(mime) or ".bin"


@dataclass
class Media:
    """One input, read: bytes (or only a URL, for remote inputs not fetched yet) plus its identity."""

    data: bytes | None
    mime: str
    name: str = ""
    url: str | None = None  # set for http(s) inputs: the ref records the URL, not the bytes
    sha256: str | None = None  # set once stored

    @property
    def filename(self) -> str:
        return self.name or ("input" + ext_for(self.mime))

    def pair(self) -> tuple[bytes, str]:
        """The ``(bytes, mime)`` pair the family builders take."""
        if self.data is None:
            raise InputError(f"The input {self.url or self.name!r} has not been downloaded yet.")
        return self.data, self.mime

    def wire(self) -> tuple[bytes, str] | str:
        """What a family builder takes: the URL for remote inputs, else ``(bytes, mime)``."""
        return self.url if self.data is None and self.url else self.pair()

    def ref(self) -> dict[str, Any]:
        """What the history records in ``params`` (and what :func:`to_media` reads back)."""
        if self.url:
            return {"url": self.url}
        if self.sha256 is None:
            raise InputError("internal: store the input before asking for its reference")
        return {"artifact": self.sha256, "mime": self.mime}


def is_url(value: str) -> bool:
    return value[:8].lower().startswith(("http://", "https://"))


def _decode_data_url(url: str) -> tuple[bytes, str]:
    try:
        head, payload = url.split(",", 1)
    except ValueError:
        raise InputError("That data: URL has no ',' separating the header from the data.") from None
    mime = head[5:].split(";")[0] or "application/octet-stream"
    if ";base64" in head:
        try:
            return base64.b64decode(payload, validate=False), mime
        except ValueError:
            raise InputError("That data: URL does not hold valid base64.") from None
    from urllib.parse import unquote_to_bytes

    return unquote_to_bytes(payload), mime


def _is_pil(value: Any) -> bool:
    return type(value).__module__.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "mode")


def _pil_bytes(img: Any) -> tuple[bytes, str]:
    buf = io.BytesIO()
    if img.mode in ("RGB", "RGBA", "L", "LA", "P", "1", "I", "I;16"):
        img.save(buf, format="PNG")
    else:  # CMYK, YCbCr…: PNG cannot hold them
        img.convert("RGB").save(buf, format="PNG")
    return buf.getvalue(), "image/png"


def _from_result(value: Any, kind: MediaKind) -> list[Media] | None:
    """Earlier results are inputs too: their files are already in the store."""
    from .results import AudioResult, ImageResult, VideoResult

    fits = {"image": (ImageResult,), "audio": (AudioResult, VideoResult), "video": (VideoResult,)}[kind]
    if isinstance(value, (ImageResult, AudioResult, VideoResult)) and not isinstance(value, fits):
        # an AudioResult as an image was sent as it was: a paid edit of WAV bytes
        noun = {"image": "an image", "audio": "audio", "video": "a video"}[kind]
        raise InputError(f"That is {'an' if type(value).__name__[0] in 'AI' else 'a'} {type(value).__name__}, "
                         f"not {noun}.", hint=f"Pass {noun}: a file, bytes, a URL or an earlier result of that kind.")
    if isinstance(value, ImageResult):
        return [Media(it.path.read_bytes(), it.mime, it.path.name, sha256=it.sha256) for it in value.items]
    if isinstance(value, AudioResult):
        return [Media(value.path.read_bytes(), value.mime, value.path.name, sha256=value.sha256)]
    if isinstance(value, VideoResult):
        return [Media(value.path.read_bytes(), value.mime, value.path.name, sha256=value.sha256)]
    return None


def to_media_list(value: Any, kind: MediaKind, store: Store | None = None) -> list[Media]:
    """One input or a list of inputs → Media, read into memory (URLs stay URLs until fetched)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[Media] = []
        for i, v in enumerate(value):
            if v is None:  # a load that failed: dropping it would send the call without that input
                raise InputError(f"Item {i} of the {kind} inputs is None.",
                                 hint=f"Pass only the {kind}s to send (a path, bytes, a URL"
                                      f"{', a PIL image' if kind == 'image' else ''} or an earlier result).")
            out.extend(to_media_list(v, kind, store))
        return out
    got = _from_result(value, kind)
    if got is not None:
        return got
    return [to_media(value, kind, store)]


def to_media(value: Any, kind: MediaKind, store: Store | None = None) -> Media:
    """Read one input. Raises :class:`InputError` with what *is* accepted when it cannot."""
    got = _from_result(value, kind)
    if got is not None:
        if len(got) != 1:
            raise InputError(
                f"That result holds {len(got)} images; pick one with result[i].",
            )
        return got[0]
    if isinstance(value, dict):
        return _from_ref(value, kind, store)
    if type(value).__name__ == "Artifact" and hasattr(value, "sha256"):  # history.Artifact
        return _from_ref({"artifact": value.sha256, "mime": value.mime}, kind,
                         value.__dict__.get("_store") or store)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if not data:
            raise InputError(f"The {kind} input is empty (0 bytes).")
        return Media(data, check_media(data, kind, f"({len(data)} bytes)"))
    if _is_pil(value) and kind == "image":  # as audio or video it was sent as a PNG, and paid for
        data, mime = _pil_bytes(value)
        return Media(data, mime, "image.png")
    if kind == "image" and hasattr(value, "__array_interface__"):  # a numpy image (H×W, H×W×3, H×W×4)
        data, mime = _pil_bytes(_from_array(value))
        return Media(data, mime, "image.png")
    if isinstance(value, str) and value.startswith("data:"):
        data, _ = _decode_data_url(value)
        return Media(data, check_media(data, kind, "(a data: URL)"))
    if isinstance(value, str) and is_url(value):
        _check_url(value, kind)
        name = value.split("?")[0].rsplit("/", 1)[-1]
        guessed = mimetypes.guess_type(name)[0] or _fallback(kind)
        return Media(None, guessed, name, url=value)
    if isinstance(value, str) and value[:7].lower() == "file://":  # a local file, written as a URL
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        value = url2pathname(urlsplit(value).path)
    if isinstance(value, str) and _SCHEME.match(value):
        raise InputError(f"Cannot read the {kind} input {_shown_url(value)}: only http(s) and data: URLs can be used.",
                         hint="Download it first and pass the file path, or pass an https:// URL.")
    if isinstance(value, str) and not value.strip():  # Path("") is ".": "'.' is a folder" named no mistake
        raise InputError(f"The {kind} input is an empty string.",
                         hint=f"Pass a path to an existing file, bytes, a URL{', a PIL image' if kind == 'image' else ''}"
                              " or an earlier result.")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value).expanduser()
        try:
            path.stat()
        except OSError as exc:  # a long text (ENAMETOOLONG), a NUL, no permission: say it, not the OSError
            raise InputError(
                f"No {kind} file at {_short_path(path)}" + ("" if isinstance(exc, FileNotFoundError)
                                                             else f" ({exc.strerror or type(exc).__name__})") + ".",
                hint=f"Pass a path to an existing file, bytes, a URL{', a PIL image' if kind == 'image' else ''} "
                "or an earlier result.") from None
        except ValueError:  # "embedded null byte"
            raise InputError(f"No {kind} file at {_short_path(path)}: a path cannot hold a NUL character.",
                             hint="Pass the path of an existing file.") from None
        if path.is_dir():
            example = {"image": "photo.png", "audio": "speech.mp3", "video": "clip.mp4"}[kind]
            raise InputError(f"{str(path)!r} is a folder, not {'an' if kind in ('image', 'audio') else 'a'} {kind} "
                             "file.", hint=f"Name one file in it, e.g. {str(path / example)!r}.")
        if not path.is_file():
            raise InputError(
                f"No {kind} file at {str(path)!r}.",
                hint=f"Pass a path to an existing file, bytes, a URL{', a PIL image' if kind == 'image' else ''} "
                "or an earlier result.",
            )
        if path.stat().st_size > MAX_INPUT_BYTES[kind]:  # refused before reading it into memory
            raise InputError(
                f"The {kind} input {path.name!r} is {path.stat().st_size / 1e6:.1f} MB, over the "
                f"{MAX_INPUT_BYTES[kind] // (1024 * 1024)} MB limit.", hint="Make it smaller first.")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"Cannot read the {kind} file {_short_path(path)} ({exc.strerror or exc}).",
                             hint="Check that you may read it, or copy it somewhere you can.") from None
        return Media(data, check_media(data, kind, repr(path.name)), path.name)
    name = type(value).__name__
    raise InputError(
        f"Cannot use {'an' if name[:1].lower() in 'aeiou' else 'a'} {name} as {kind} input.",
        hint="Pass a file path, bytes, a URL, "
        + ("a PIL image, " if kind == "image" else "")
        + f"or an earlier result (e.g. {_EARLIER[kind]}).",
    )


def _check_url(url: str, kind: MediaKind) -> None:
    """An http(s) input URL is passed to the model as it is: one with no host, or a space or control character
    in it (a pasted line), is refused here rather than by the model, after the call was made."""
    from urllib.parse import urlsplit

    bad = next((c for c in url if c.isspace() or ord(c) < 32 or ord(c) == 127), None)
    try:
        host = urlsplit(url).hostname
    except ValueError:  # an unclosed "[" of an IPv6 host
        host = None
    if bad is not None or not host:
        why = f"it holds {'a space' if bad == ' ' else repr(bad)}" if bad is not None else "it names no host"
        raise InputError(f"The {kind} URL {_shown_url(url)} cannot be fetched: {why}.",
                         hint=f"Pass the whole address, e.g. 'https://example.com/{_EXAMPLE_FILE[kind]}' (a space is "
                              "written %20), or the file's path.")


_EXAMPLE_FILE = {"image": "cat.png", "audio": "talk.mp3", "video": "clip.mp4"}


#: A URL of another scheme (ftp://, s3://, file://): read as a path it would be mangled ("ftp:/h/x.png").
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_EARLIER = {"image": "an ImageResult or result[i]", "audio": "an AudioResult", "video": "a VideoResult"}


def _from_array(arr: Any) -> Any:
    """A numpy array as a PIL image (what ``PIL.Image.fromarray`` takes), or one clear InputError."""
    from PIL import Image

    shape = getattr(arr, "shape", ())
    try:
        if getattr(arr, "dtype", None) is not None and str(arr.dtype) != "uint8":
            raise TypeError(f"dtype {arr.dtype}")
        return Image.fromarray(arr)
    except (TypeError, ValueError) as exc:
        raise InputError(f"Cannot use an array of shape {tuple(shape)} ({exc}) as an image.",
                         hint="Pass uint8 pixels shaped H×W, H×W×3 (RGB) or H×W×4 (RGBA), e.g. "
                              "(arr * 255).astype('uint8') for floats in 0…1.") from None


def _shown_url(url: str) -> str:
    """The URL for a message, redacted before it is cut: cut first, a key in its query (Gemini's ``?key=``) that
    straddles the cut would lose its end, go unrecognised, and show its first part."""
    from ._config import redact

    return repr(redact(url)[:80])


def _short_path(value: Any) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return repr(text if len(text) <= 120 else text[:100] + "…")


def _fallback(kind: MediaKind) -> str:
    return {"image": "image/png", "audio": "audio/wav", "video": "video/mp4"}[kind]


def _from_ref(ref: dict[str, Any], kind: MediaKind, store: Store | None) -> Media:
    """Recorded params reference inputs by artifact hash or URL; read them back."""
    if "url" in ref and isinstance(ref["url"], str):
        return to_media(ref["url"], kind, store)
    sha = ref.get("artifact") or ref.get("sha256")
    if not isinstance(sha, str):
        raise InputError(f"Cannot use the dict {sorted(ref)} as {kind} input: it needs 'artifact' or 'url'.")
    if store is None:
        raise InputError("An artifact reference needs a session store to read from.")
    try:
        path = store.path_of(sha)
    except (FileNotFoundError, ValueError):
        raise InputError(
            f"The artifact {sha[:12]}… is not in the store at {store.root}.",
            hint="Open the session on the store the call was recorded in (Session(store=…)).",
        ) from None
    data = path.read_bytes()
    # a stored WAV is no image to edit; its size was taken when it was stored (a 4K result may exceed the limits)
    checked = check_media(data, kind, f"(history artifact {sha[:12]}…)", limits=False)
    mime = str(ref.get("mime") or checked)  # as recorded: the replay key of a rerun stays the same
    return Media(data, mime, path.name, sha256=sha)
