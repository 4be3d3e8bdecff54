"""Media makers: PNG pictures (Pillow), H.264 MP4 clips (PyAV) and speech-like WAV audio.

Everything is deterministic for its inputs and cheap: pictures are a few flat shapes plus the prompt
text, videos are tiny and encoded with libx264 ``ultrafast``, audio is built from cached per-letter
tones. Speech carries its own text (a RIFF ``LIST/INFO`` chunk and the PCM's least significant bits)
so a transcription of simulated speech returns the words that were spoken.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import math
import os
import random
import re
import struct
import tempfile
import wave
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps

from .._memory import release_freed

# ----------------------------------------------------------------------------- sizes

_ASPECTS = {"1:1": (1, 1), "16:9": (16, 9), "9:16": (9, 16), "4:3": (4, 3), "3:4": (3, 4),
            "3:2": (3, 2), "2:3": (2, 3), "21:9": (21, 9), "5:4": (5, 4), "4:5": (4, 5)}
K_SIDES = {"1K": 1024, "2K": 2048, "3K": 3072, "4K": 4096}
MAX_SIDE = 4096


def read_size(size: object) -> tuple[int, int] | None:
    """``WxH`` (``x``, ``*`` or ``×``) or a ``1K``…``4K`` preset as pixels, unclamped; None when it is neither."""
    if not isinstance(size, str) or not size.strip():
        return None
    s = size.strip().upper()
    if s in K_SIDES:
        return K_SIDES[s], K_SIDES[s]
    m = re.fullmatch(r"(\d+)\s*[X*×]\s*(\d+)", s)
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_size(size: object, default: tuple[int, int] = (1024, 1024)) -> tuple[int, int]:
    """The size to draw: :func:`read_size` clamped to 16..4096 a side (``default`` when unreadable).

    The clamp only keeps the renderer bounded; a family whose service refuses sizes says so before drawing
    (Seedream: ``_images.seedream_size``).
    """
    read = read_size(size)
    if read is None:
        return default
    w, h = read
    return max(16, min(MAX_SIDE, w)), max(16, min(MAX_SIDE, h))


def aspect_size(aspect: str | None, image_size: str | None) -> tuple[int, int]:
    """Gemini ``imageConfig``: long side from ``imageSize`` (1K default), shape from ``aspectRatio``."""
    side = K_SIDES.get((image_size or "1K").upper(), 1024)
    aw, ah = _ASPECTS.get(aspect or "1:1", (1, 1))
    if aw >= ah:
        return side, max(16, round(side * ah / aw))
    return max(16, round(side * aw / ah)), side


# ----------------------------------------------------------------------------- images


def palette(seed_text: str) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """Background, accent and ink colours derived from the prompt and seed."""
    h = hashlib.sha256(seed_text.encode()).digest()
    hue = h[0] / 255.0

    def rgb(hh: float, s: float, v: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hsv_to_rgb(hh % 1.0, s, v)
        return round(r * 255), round(g * 255), round(b * 255)

    bg = rgb(hue, 0.45 + h[1] / 1000, 0.85)
    accent = rgb(hue + 0.5, 0.7, 0.75)
    ink = (20, 20, 28)
    return bg, accent, ink


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except Exception:  # Pillow without FreeType
        return ImageFont.load_default()


def _wrap(text: str, width: int, most: int = 6) -> list[str]:
    """At most ``most`` lines of at most ``width`` characters: a word longer than a line is cut into pieces, since
    one drawn line as wide as a 100,000-character word is an image Pillow refuses to make (a crash, not a picture)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        pieces = [word[i:i + width] for i in range(0, len(word), width)]
        for piece in pieces:
            if line and len(line) + len(piece) + 1 > width:
                lines.append(line)
                line = piece
            else:
                line = f"{line} {piece}".strip()
            if len(lines) >= most:
                return lines
    if line:
        lines.append(line)
    return lines[:most]


def _caption(draw: ImageDraw.ImageDraw, w: int, h: int, text: str, ink: tuple[int, int, int]) -> None:
    fs = max(10, min(w, h) // 18)
    chars = max(8, int(w / (fs * 0.55)))
    y = h // 2 - fs * 2
    for line in _wrap(text, chars):
        draw.text((w // 20, y), line, fill=ink, font=_font(fs))
        y += int(fs * 1.25)


def draw_image(prompt: str, width: int, height: int, seed: int, index: int = 0) -> Image.Image:
    """A flat, quick picture: prompt-coloured background, a few shapes, the prompt written on it."""
    key = f"{prompt}|{seed}|{index}"
    bg, accent, ink = palette(key)
    img = Image.new("RGB", (width, height), bg)
    d = ImageDraw.Draw(img)
    rng = random.Random(key)
    for _ in range(3):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        r = rng.randint(min(width, height) // 10, min(width, height) // 4)
        d.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=accent)
    band = max(4, height // 40)
    d.rectangle((0, height - band, width, height), fill=accent)
    _caption(d, width, height, prompt or "(no prompt)", ink)
    d.text((width // 20, height // 20), f"tokenhot sim #{index + 1} {width}x{height}", fill=ink,
           font=_font(max(8, min(width, height) // 40)))
    return img


def derive_image(source: Image.Image, prompt: str, width: int, height: int, seed: int,
                 mask: Image.Image | None = None, index: int = 0) -> Image.Image:
    """An "edit": the source resized and tinted (only where the mask is transparent), prompt on top."""
    base = ImageOps.exif_transpose(source).convert("RGB").resize((width, height))
    _bg, accent, ink = palette(f"{prompt}|{seed}|{index}")
    tinted = Image.blend(base, Image.new("RGB", (width, height), accent), 0.35)
    if mask is not None:
        m = mask.convert("RGBA").resize((width, height)).getchannel("A")
        region = m.point(lambda a: 255 if a < 128 else 0)
        out = base.copy()
        out.paste(tinted, (0, 0), region)
    else:
        out = tinted
    d = ImageDraw.Draw(out)
    fs = max(10, min(width, height) // 20)
    d.rectangle((0, 0, width, int(fs * 1.8)), fill=(255, 255, 255))
    d.text((fs // 2, fs // 3), f"edit: {prompt}"[:120], fill=ink, font=_font(fs))
    return out


def png_bytes(img: Image.Image) -> bytes:
    """``img`` as PNG, and its pixels freed: each simulated image is drawn for one answer, and a 2048² one is a
    16 MiB buffer. Freed and handed back to the system at once (:func:`release_freed`), 500 offline images leave a
    process ~2 MiB above where 50 left it, ~73 MiB in all; freed later, by whichever thread dropped the image last,
    the heap kept one or two such buffers (~106 MiB, +18 MiB)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    img.close()
    release_freed()
    return buf.getvalue()


def open_image(data: bytes) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img
    except Exception:
        return None


# ----------------------------------------------------------------------------- video


def video_frame_size(resolution: str, ratio: str) -> tuple[int, int]:
    """A small frame with the requested shape (long side 320, or 480 for 1080p)."""
    long_side = 480 if "1080" in resolution else 320
    aw, ah = _ASPECTS.get(ratio, (16, 9))
    if aw >= ah:
        w, h = float(long_side), long_side * ah / aw
    else:
        w, h = long_side * aw / ah, float(long_side)
    return int(w) // 2 * 2, int(h) // 2 * 2


def encode_mp4(prompt: str, seconds: float, width: int, height: int, seed: int, fps: int = 10,
               first_frame: Image.Image | None = None) -> bytes:
    """An H.264 (yuv420p, moov first) clip: a ball moving over the prompt card; plays in browsers."""
    seconds = max(1.0, min(float(seconds), 60.0))  # the requested length (a cap only against runaway input)
    frames = round(seconds * fps)
    if first_frame is not None:
        card = ImageOps.fit(first_frame.convert("RGB"), (width, height))
    else:
        card = draw_image(prompt, width, height, seed)
    _bg, accent, _ink = palette(f"{prompt}|{seed}|video")
    # faststart rewrites the file in a second pass, which needs a real file rather than BytesIO.
    with tempfile.TemporaryDirectory(prefix="tokenhot-sim-") as tmp:
        path = os.path.join(tmp, "clip.mp4")
        _encode_to(path, card, frames, fps, width, height, accent)
        with open(path, "rb") as fh:
            return fh.read()


def _encode_to(path: str, card: Image.Image, frames: int, fps: int, width: int, height: int,
               accent: tuple[int, int, int]) -> None:
    import av

    with av.open(path, mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "30"}
        r = max(4, min(width, height) // 8)
        for i in range(frames):
            img = card.copy()
            d = ImageDraw.Draw(img)
            t = i / max(1, frames - 1)
            x = int(r + t * (width - 2 * r))
            y = int(height / 2 + math.sin(t * 2 * math.pi) * (height / 2 - r))
            d.ellipse((x - r, y - r, x + r, y + r), fill=accent, outline=(255, 255, 255))
            d.rectangle((0, height - 4, int(width * t), height), fill=(255, 255, 255))
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# ----------------------------------------------------------------------------- audio

SPEECH_RATE = 24000
CHAR_SECONDS = 0.06
_MAGIC = b"THSIM1"
_VOWELS = "aeiouy"


@lru_cache(maxsize=512)
def _char_pcm(ch: str, pitch: float) -> bytes:
    """60 ms of "speech" for one character: vowels hum with two formants, consonants hiss, spaces rest."""
    n = int(SPEECH_RATE * CHAR_SECONDS)
    if ch.isspace() or ch in ",.;:!?":
        return b"\x00\x00" * (n if ch.isspace() else n * 2)
    code = ord(ch.lower())
    rng = random.Random(code)
    out = []
    if ch.lower() in _VOWELS or code > 0x2E80:
        f1 = 300 + (code * 37) % 600
        f2 = 900 + (code * 91) % 1500
        for i in range(n):
            env = math.sin(math.pi * i / n)
            t = i / SPEECH_RATE
            v = 0.5 * math.sin(2 * math.pi * pitch * t) + 0.3 * math.sin(2 * math.pi * f1 * t) \
                + 0.2 * math.sin(2 * math.pi * f2 * t)
            out.append(int(9000 * env * v))
    else:
        f = 2000 + (code * 53) % 3000
        for i in range(n):
            env = math.sin(math.pi * i / n) ** 2
            t = i / SPEECH_RATE
            v = 0.6 * (rng.random() * 2 - 1) + 0.4 * math.sin(2 * math.pi * f * t)
            out.append(int(4000 * env * v))
    return struct.pack(f"<{len(out)}h", *out)


def _voice_pitch(voice: str) -> float:
    return 110.0 + (int(hashlib.md5(voice.encode()).hexdigest()[:4], 16) % 120)


def _embed_lsb(pcm: bytes, text: str) -> bytes:
    """Hide ``text`` in the lowest bit of the samples (inaudible), so raw PCM keeps its words."""
    payload = _MAGIC + struct.pack("<I", len(text.encode())) + text.encode()
    bits = [(byte >> k) & 1 for byte in payload for k in range(8)]
    n = len(pcm) // 2
    if len(bits) > n:
        return pcm
    k = len(bits)  # only the samples that carry a bit: a list of every sample of long speech took gigabytes
    samples = list(struct.unpack_from(f"<{k}h", pcm))
    for i, bit in enumerate(bits):
        samples[i] = (samples[i] & ~1) | bit
    return struct.pack(f"<{k}h", *samples) + pcm[2 * k:]


def extract_lsb(pcm: bytes) -> str | None:
    """The text hidden by :func:`_embed_lsb`, if present."""
    n = len(pcm) // 2

    def read(start: int, count: int) -> bytes | None:
        if (start + count) * 8 > n:
            return None
        samples = struct.unpack_from(f"<{count * 8}h", pcm, start * 16)
        out = bytearray()
        for b in range(count):
            v = 0
            for k in range(8):
                v |= (samples[b * 8 + k] & 1) << k
            out.append(v)
        return bytes(out)

    head = read(0, len(_MAGIC) + 4)
    if not head or not head.startswith(_MAGIC):
        return None
    length = struct.unpack("<I", head[len(_MAGIC):])[0]
    body = read(len(_MAGIC) + 4, length)
    if body is None:
        return None
    return body.decode("utf-8", "replace")


#: The longest text ``/v1/audio/speech`` takes (OpenAI's ``input`` limit; longer is a 400, not charged).
MAX_SPEECH_CHARS = 4096
#: The most input tokens Gemini's TTS models take (longer is a 400 INVALID_ARGUMENT).
MAX_TTS_TOKENS = 8192
#: The most audio tokens a Gemini TTS answer holds (25 a second, about 11 minutes); ``maxOutputTokens`` lowers it.
#: Past it the audio stops there, with ``finishReason: MAX_TOKENS`` (reference §2.4).
MAX_TTS_OUTPUT_TOKENS = 16_384
TTS_TOKENS_PER_SECOND = 25


def speech_pcm(text: str, voice: str = "alloy") -> bytes:
    """Mono s16le 24 kHz PCM, about 60 ms per character, carrying ``text`` in its low bits."""
    pitch = _voice_pitch(voice)
    pcm = b"".join(_char_pcm(ch, pitch) for ch in text) or b"\x00\x00" * (SPEECH_RATE // 10)
    pcm = b"\x00\x00" * (SPEECH_RATE // 20) + pcm + b"\x00\x00" * (SPEECH_RATE // 20)
    return _embed_lsb(pcm, text)


def wav_bytes(pcm: bytes, rate: int = SPEECH_RATE, text: str | None = None) -> bytes:
    """A WAV file; with ``text``, a ``LIST/INFO`` chunk (ICMT) names what is spoken."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    data = buf.getvalue()
    if text is None:
        return data
    comment = ("tokenhot-sim:" + text).encode() + b"\x00"
    if len(comment) % 2:
        comment += b"\x00"
    info = b"INFO" + b"ICMT" + struct.pack("<I", len(comment)) + comment
    chunk = b"LIST" + struct.pack("<I", len(info)) + info
    data = data + chunk
    return data[:4] + struct.pack("<I", len(data) - 8) + data[8:]


def read_audio(data: bytes) -> tuple[float | None, str | None]:
    """Duration (s) and embedded text of an uploaded file; (None, None) when not a WAV we can read."""
    if not data.startswith(b"RIFF"):
        return None, None
    text = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"LIST" and body[:4] == b"INFO":
            j = 4
            while j + 8 <= len(body):
                sid, ssz = body[j:j + 4], struct.unpack("<I", body[j + 4:j + 8])[0]
                val = body[j + 8:j + 8 + ssz].rstrip(b"\x00").decode("utf-8", "replace")
                if sid == b"ICMT" and val.startswith("tokenhot-sim:"):
                    text = val[len("tokenhot-sim:"):]
                j += 8 + ssz + (ssz % 2)
        pos += 8 + size + (size % 2)
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate, frames, width, channels = w.getframerate(), w.getnframes(), w.getsampwidth(), w.getnchannels()
            duration = frames / float(rate)
            if text is None and width == 2 and channels == 1:
                text = extract_lsb(w.readframes(min(frames, 200_000)))
    except (wave.Error, EOFError, struct.error):
        return None, text
    return duration, text
