"""Image generation and editing: params and body, send, store the images, build the ImageResult; fetch the
images of a paid answer that could not be downloaded at first (``session.resume(entry_id)``)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._config import redact
from .._inputs import sniff_mime, to_media, to_media_list
from ..catalog import ModelInfo
from ..client._body import media_type
from ..client._download import OVER_CAP, _arrived, raster_format, raster_mime
from ..errors import APIError, DownloadError, InputError, ReplayMissError, StoreError
from ..results import ImageItem, ImageResult, from_entry
from .budget import dry_run, estimates
from .checks import body_extra, check_text, whole
from .inputs import fetch, store_media
from .models import seed_for
from .recording import (
    UNSAVED,
    Recording,
    astore_bytes,
    drop_none,
    endpoint_name,
    json_object,
    keep_refused,
    mark_recorded,
    received_text,
    replayed,
    send_recorded,
    store_bytes,
    store_download,
)

if TYPE_CHECKING:
    from ..client import Response
    from ..history import HistoryEntry
    from ..results._base import Result
    from .core import Session


IMAGE_EXAMPLE = "s.image('a red fox in the snow')"
EDIT_HINT = "To change an image, use s.edit(image, 'what to change')."


def image_params(session: Session, info: ModelInfo, kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params for the history, builder kwargs) with the seed resolved and options split out."""
    from ..families import images

    kw = dict(kw)
    headers = kw.pop("headers", None)
    seed = seed_for(session.seed, info, kw.pop("seed", None))
    named = {k: kw.pop(k, None) for k in ("n", "size", "quality", "negative", "response_format")}
    named["n"] = whole(named["n"])
    if isinstance(named["n"], bool):  # True would pass as 1
        raise InputError(f"n is how many images (a whole number), not {named['n']}.", hint="e.g. n=2.")
    if named["negative"] is not None:
        check_text(named["negative"], "negative prompt", "negative='blurry, text'", empty_ok=True)
    raw = kw.pop("raw", None)
    kw = images.check_options(info, kw)  # style/background/output_format the model lists (extra={…} is not checked)
    params = drop_none({**named, "seed": seed, **kw, "raw": raw})
    build = {**named, "seed": seed, "extra": body_extra(kw), "raw": raw, "_headers": headers}
    return params, build


async def image_one(session: Session, prompt: Any, info: ModelInfo, kw: dict[str, Any]) -> Result:
    """One generation call (a batch runs many of these)."""
    from ..families import images

    check_text(prompt, "prompt", IMAGE_EXAMPLE, media_hint=EDIT_HINT, empty_ok=kw.get("raw") is not None)
    extra_params, build = image_params(session, info, kw)
    params = {"prompt": prompt, "model": info.ref, **extra_params}
    headers = build.pop("_headers")
    call = images.build_generate(info, prompt, **build)
    call.headers.update(headers or {})
    if session.mode == "replay":
        return from_entry(_replayed(session, "image", info, endpoint_name(call), params, call), session)
    return await _send(session, "image", info, params, call, prompt)


async def edit_one(session: Session, images_in: Any, prompt: str, mask_in: Any, info: ModelInfo,
                   kw: dict[str, Any]) -> Result:
    from ..families import images

    check_text(prompt, "edit prompt", "s.edit(img, 'make the sky purple')", empty_ok=kw.get("raw") is not None,
               media_hint="The image comes first, then the prompt: s.edit(img, 'what to change').")
    store = session.store
    media = [store_media(session, m) for m in to_media_list(images_in, "image", store)]
    if not media:
        raise InputError("No image to edit.", hint="Pass a path, bytes, a PIL image, a URL or an earlier result.")
    mask = store_media(session, to_media(mask_in, "image", store)) if mask_in is not None else None
    extra_params, build = image_params(session, info, kw)
    params = drop_none({"images": [m.ref() for m in media], "prompt": prompt,
                        "mask": mask.ref() if mask else None, "model": info.ref, **extra_params})
    headers = build.pop("_headers")
    needs_bytes = info.family == "openai-image"  # multipart: URL inputs must be fetched
    if session.mode == "replay":  # no call to send, but its options are checked as a live call's are (the
        endpoint = "images.edits" if needs_bytes else info.endpoints[0]  # inputs stand in: they may be URLs)
        stand_in = (b"\0", "image/png")
        images.build_edit(info, [stand_in] * len(media), prompt, mask=None if mask is None else stand_in, **build)
        return from_entry(_replayed(session, "edit", info, endpoint, params), session)
    if needs_bytes and estimates(session) is not None:  # an estimate downloads no URL: stand-ins make the same form
        stand_in = (b"\0", "image/png")
        dry_run(session, "edit", info, params, images.build_edit(
            info, [stand_in] * len(media), prompt, mask=None if mask is None else stand_in, **build))
    if needs_bytes:
        media = [await fetch(session, m, "image") for m in media]
        if mask is not None:
            mask = await fetch(session, mask, "image")
    pairs: list[Any] = [m.wire() for m in media]
    mask_arg = None if mask is None else mask.wire()
    call = images.build_edit(info, pairs, prompt, mask=mask_arg, **build)
    call.headers.update(headers or {})
    return await _send(session, "edit", info, params, call, prompt)


async def _send(session: Session, kind: str, info: ModelInfo, params: dict[str, Any], call: Any,
                prompt: str) -> Result:
    """Record and send the call. An answer whose images did not all arrive is recorded by :func:`finish_images`
    (``pending``, its links kept); its error is raised here, after the recording step, which would otherwise
    record it a second time as a plain error."""
    missing: list[BaseException] = []
    result = await send_recorded(session, kind, info, params, call,
                                 lambda rec, resp: finish_images(session, rec, resp, info, prompt, missing),
                                 text=prompt)
    if missing:
        raise missing[0]
    return result


def _replayed(session: Session, kind: str, info: ModelInfo, endpoint: str, params: dict[str, Any],
              call: Any = None) -> HistoryEntry:
    """The recorded twin; a miss whose nearest recording is this very call with images still missing says so."""
    try:
        return replayed(session, kind, info, endpoint, params, call)
    except ReplayMissError as exc:
        near = exc.nearest
        if near is None or exc.differences or not (near.response or {}).get("images"):
            raise
        refs = [r for r in near.response["images"] if isinstance(r, dict)]
        if any(_fetchable(r) for r in refs):
            err = ReplayMissError(f"Replay mode: history #{near.id} recorded this {kind} call, but some of its "
                                  "images were never downloaded, so it cannot be replayed yet.", nearest=near)
            err.hint = f"Fetch them in a live or offline session with session.resume({near.id}), then replay."
        else:  # (expired or refused links, inline bytes that were no image: a resume has nothing to fetch)
            err = ReplayMissError(f"Replay mode: history #{near.id} recorded this {kind} call, but some of its "
                                  "images never arrived and cannot be fetched again, so it cannot be replayed.",
                                  nearest=near)
            err.hint = (f"Make the call again in a live or offline session (session.history.get({near.id}).rerun(), "
                        "a new, paid call), then replay.")
        raise err from None


async def finish_images(session: Session, rec: Recording, resp: Response, info: ModelInfo, prompt: str,
                        missing: list[BaseException]) -> Result:
    """Parse the answer, store every image (downloads at once), finish the row → :class:`ImageResult`.

    When some images could not be stored, the error for them is put in ``missing`` (the caller raises it once the
    recording step is over) and the result of those that arrived is returned: see :func:`_keep_missing`.
    """
    from ..families import images

    reply = images.parse(info, json_object(resp, info.id))
    if not reply.images:
        if reply.unreadable:
            raise APIError(f"{info.id} answered with {_count(len(reply.unreadable))} that held no image to read "
                           f"({_unreadable(reply.unreadable)}).", status=resp.status, request_id=resp.request_id,
                           hint="This is a relay problem, not the prompt's; try again, or try another model.")
        raise APIError(f"{info.id} answered without any image" + (f": {redact(reply.text)[:200]}" if reply.text else "."),
                       status=resp.status, request_id=resp.request_id,
                       hint="The prompt may have been refused; rephrase it and try again.")
    cap = session.settings.download_cap

    async def one(ref: Any) -> dict[str, Any]:
        if ref.data is not None:
            if len(ref.data) > cap:
                raise DownloadError(f"An inline image of {len(ref.data)} bytes is larger than the download "
                                    f"limit of {cap} bytes.",
                                    hint="If you expect an image this large, raise the limit: "
                                         "session.settings.download_cap = <bytes>.")
            what = not_an_image(ref.data, ref.mime)
            if what:
                raw = await astore_bytes(session, ref.data, RAW_MIME, "raw")
                raise _not_image_error(info.id, what, rec.id, raw, resp.request_id)
            return await astore_bytes(session, ref.data, inline_mime(ref.data), "image",
                                      revised_prompt=ref.revised_prompt)
        return await _download(session, rec.id, ref.url, ref.mime or "image/png", ref.revised_prompt)

    text = received_text(reply.text) if reply.text else ""
    usage = reply.usage
    if not usage.images:
        usage.images = len(reply.images)
    revised = next((received_text(r.revised_prompt) for r in reply.images if r.revised_prompt), None)
    response = drop_none({"request_id": resp.request_id, "status": resp.status, "revised_prompt": revised})
    search_text = "\n\n".join(t for t in (prompt, revised, text) if t)
    _keep_links_first(session, rec, reply.images, response, usage, search_text)
    try:
        got = await asyncio.gather(*(one(r) for r in reply.images), return_exceptions=True)
    except BaseException as exc:  # interrupted while downloading: the answer is paid for, its links are kept
        _keep_interrupted(session, rec, reply.images, exc, response, usage, search_text)
        raise
    outputs = [o for o in got if isinstance(o, dict)] + _raws(got)
    if text:
        outputs.append(store_bytes(session, text.encode("utf-8"), "text/plain", "text"))
    if any(isinstance(g, BaseException) for g in got) or reply.unreadable:
        refs = _in_answer_order([_ref(r, g) for r, g in zip(reply.images, got, strict=True)], reply.unreadable)
        got = [*got, *(_Unreadable(why) for _, why in reply.unreadable)]
        err = _keep_missing(session, rec, refs, got, outputs, response, usage, search_text)
        partial = image_result(session, outputs, prompt, "", info.id, rec.final())
        err.partial = partial  # type: ignore[attr-defined]  # (a TokenhotError, or whatever a download raised)
        missing.append(err)
        return partial
    entry = rec.ok(response=response, usage=usage, outputs=outputs, text=search_text)
    return image_result(session, outputs, prompt, text, info.id, entry)


async def _download(session: Session, entry_id: int | None, url: str, mime: str, revised_prompt: Any) -> dict[str, Any]:
    """Store one image of the answer from its link. A link that serves no image (an expired link's page, JSON)
    leaves what it sent in the row as a ``raw`` output (:func:`.recording.keep_refused`; the error's
    ``raw_output``, which :func:`_ref` and the row's outputs take); it is not asked again (``"refused"``)."""
    try:
        return await store_download(session, url, mime, "image", revised_prompt=revised_prompt)
    except DownloadError as exc:
        raw = await keep_refused(session, exc, entry_id)
        if raw is not None:
            exc.raw_output = raw  # type: ignore[attr-defined]
        if _REFUSED in exc.message and entry_id is not None:
            exc.hint = ("Generated images must be PNG, JPEG, WEBP, GIF, BMP, TIFF or AVIF. The call is paid for, but "
                        "its link serves none, so it is not asked again; only a new, paid call makes it: "
                        f"session.history.get({entry_id}).rerun().")
        raise


class _Unreadable(Exception):
    """An item of the answer's image list that held no image: paid for, and nothing to fetch again."""


def _count(n: int) -> str:
    return "an image item" if n == 1 else f"{n} image items"


def _unreadable(items: list[tuple[int, str]]) -> str:
    return "; ".join(f"item {i + 1}: {why}" for i, why in items[:5]) + ("; …" if len(items) > 5 else "")


def _in_answer_order(refs: list[dict[str, Any]], unreadable: list[tuple[int, str]]) -> list[dict[str, Any]]:
    """The refs of the images read, with one for each unreadable item put back at its place in the answer."""
    out = list(refs)
    for at, why in sorted(unreadable):
        out.insert(min(at, len(out)), {"unreadable": True, "error": f"the answer's item held no image ({why})"})
    return out


def image_result(session: Session, outputs: list[dict[str, Any]], prompt: str, text: str, model: str,
                 entry: Any) -> ImageResult:
    store = session.store
    items = [ImageItem(store.path_of(o["sha256"]), o["mime"], o["sha256"],
                     drop_none({"revised_prompt": o.get("revised_prompt")}))
             for o in outputs if o["role"] == "image"]
    return ImageResult(items, prompt=prompt, text=text, model=model, entry=entry, session=session)


# ================================================================ inline bytes that are not an image
# Inline bytes (``b64_json``, a ``data:`` URL, Gemini ``inlineData``) pass the check a downloaded image passes
# (:func:`..client._download.check_media`): a raster format Pillow reads. Others (HTML, SVG, text, junk) are paid
# for, so they are kept, under a neutral type (role ``raw``, a ``.bin`` file: never HTML or SVG a browser would
# run), and their image counts as missing (``{"inline": true, "error", "raw": <sha256>}``), not fetchable again.

#: The type paid bytes that are not an image are kept under.
RAW_MIME = "application/octet-stream"


def not_an_image(data: bytes, mime: str | None) -> str | None:
    """What inline bytes are when they are not an image the notebook can show (the download check's words)."""
    if raster_format(data[:16]) is not None:
        return None
    return _arrived(data[:64], media_type(mime))


def inline_mime(data: bytes) -> str:
    """The type inline image bytes are stored under: their own (they passed :func:`not_an_image`), never the label
    the answer gave them (Gemini's ``mimeType``, a ``data:`` URL's), which made a PNG a ``.html`` file."""
    return raster_mime(data[:16]) or sniff_mime(data, "image/png")


def _not_image_error(model: str, what: str, entry_id: int | None, raw: dict[str, Any], request_id: Any) -> APIError:
    """A broken answer (``APIError``) with no ``status``: its 200 would read as an error status."""
    err = APIError(f"{model} answered with {what}, not an image.", request_id=request_id,
                   hint=f"The call is paid for: what it sent is kept in history #{entry_id} as a .bin file "
                        "(output role 'raw'). Try again, or try another model.")
    err.not_image = what  # type: ignore[attr-defined]
    err.raw_output = raw  # type: ignore[attr-defined]
    return err


def _raw_of(got: Any) -> dict[str, Any] | None:
    """The kept bytes of an inline image that was not one (its output dict), else None."""
    raw = getattr(got, "raw_output", None) if isinstance(got, BaseException) else None
    return raw if isinstance(raw, dict) else None


def _raws(got: list[Any]) -> list[dict[str, Any]]:
    """The kept bytes of the failures in ``got``, each once (two links that served the same page: one output)."""
    kept = {o["sha256"]: o for o in (_raw_of(g) for g in got) if o}
    return list(kept.values())


def _store_inline(session: Session, rec: Recording, image: Any, response: dict[str, Any]) -> Any:
    """An inline image stored without waiting (an interrupted call): its output dict, or the error for bytes that
    are not an image (those kept as ``raw``)."""
    what = not_an_image(image.data, image.mime)
    if what:
        raw = store_bytes(session, image.data, RAW_MIME, "raw")
        return _not_image_error(rec.info.id, what, rec.id, raw, response.get("request_id"))
    return store_bytes(session, image.data, inline_mime(image.data), "image", revised_prompt=image.revised_prompt)


def _not_images_error(entry_id: int | None, refs: list[dict[str, Any]], got: list[Any],
                      request_id: Any) -> APIError:
    """One line for an answer of several images some of which were not images (the others are kept)."""
    bad = [f"image {i}: " + (f"{g.not_image}, not an image" if getattr(g, "not_image", None) else str(r.get("error")))
           for i, (r, g) in enumerate(zip(refs, got, strict=True), 1) if not r.get("sha256")]
    return APIError(f"{len(refs) - len(bad)} of {len(refs)} images arrived ({'; '.join(bad)}).",
                    request_id=request_id,
                    hint=f"The call is paid for: the images are in history #{entry_id} (and this error's .partial), "
                         "what was not an image is kept there as a .bin file (output role 'raw'). Try again, or "
                         "try another model.")


# ================================================================ images that did not arrive
# A paid answer whose images could not all be stored keeps, in its row's ``response["images"]``, one ref per
# image in the answer's order: ``{"url"}`` or ``{"inline": true}``, plus ``"sha256"`` once stored, or ``"error"``
# (with ``"expired": <status>`` once its link answered 403/410 to a resume, ``"refused": true`` when its host
# answered with something that is not an image). The row is ``pending`` while a link is
# left to fetch (``session.resume(entry_id)`` fetches it: no new call, no new charge), else ``error``.

#: What a kept link answers once it has expired: asking again will not help (a 404 may be a CDN not caught up).
_EXPIRED = frozenset({403, 410})
_HTTP_STATUS = re.compile(r"\(HTTP (\d{3})\)")
#: How the client words a download whose host answered with something that is not the image (a login page, SVG,
#: unknown bytes): asking again would get the same.
_REFUSED = ": the server sent "


def _reason(exc: BaseException) -> str:
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return "the download was interrupted"
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return redact(" ".join(str(text).split()))[:300]


def _ref(image: Any, got: Any) -> dict[str, Any]:
    """What the row keeps of one image of the answer (see above); ``got``: its output dict or its failure."""
    ref: dict[str, Any] = {"url": redact(image.url)} if image.url else {"inline": True}
    if isinstance(got, dict) and UNSAVED not in got:
        ref["sha256"] = got["sha256"]
        return ref
    if image.url:
        ref["mime"] = image.mime or "image/png"
        if image.revised_prompt:
            ref["revised_prompt"] = received_text(image.revised_prompt)
    if isinstance(got, dict):
        ref["error"] = str(got[UNSAVED])
    else:
        _note_failure(ref, got, resuming=False)
        raw = _raw_of(got)
        if raw is not None and UNSAVED not in raw:
            ref["raw"] = raw["sha256"]
    return ref


def _note_failure(ref: dict[str, Any], exc: BaseException, *, resuming: bool) -> None:
    """Why an image is missing, and whether its link is worth asking again. A 403/410 right after the call may be
    a CDN catching up, so only a resume takes it as expired."""
    ref["error"] = _reason(exc)
    if isinstance(exc, DownloadError) and _REFUSED in exc.message:
        ref["refused"] = True
    status = _HTTP_STATUS.search(ref["error"]) if resuming else None
    if status and int(status.group(1)) in _EXPIRED:
        ref["expired"] = int(status.group(1))


def _fetchable(ref: dict[str, Any]) -> bool:
    url = ref.get("url")
    return (not ref.get("sha256") and isinstance(url, str) and not ref.get("expired") and not ref.get("refused")
            and urlsplit(url).scheme.lower() in ("http", "https", ""))


def _paid_cost(session: Session, rec: Recording, used: dict[str, Any], count: int) -> dict[str, Any]:
    """What the call cost: every image of the answer is paid for, whether or not it arrived."""
    from .. import cost
    from .budget import simulated

    return cost.of_call(rec.entry.kind, rec.info.price, used, count=count, simulated=simulated(session)).as_dict()


def _kept(session: Session, rec: Recording, refs: list[dict[str, Any]], outputs: list[dict[str, Any]],
          response: dict[str, Any], usage: Any, search_text: str) -> dict[str, Any]:
    """The row's fields for an answer whose images did not all arrive: its refs, what arrived, what it cost."""
    used = usage.as_dict()
    used["cost"] = _paid_cost(session, rec, used, len(refs))
    return {"response": {**response, "images": refs}, "usage": used, "text": search_text,
            "outputs": [o for o in outputs if UNSAVED not in o]}


def _keep_interrupted(session: Session, rec: Recording, images: list[Any], exc: BaseException,
                      response: dict[str, Any], usage: Any, search_text: str) -> None:
    """Interrupted while downloading: keep the inline images and every link in the row (the recording step then
    ends it ``interrupted``; ``session.resume(entry_id)`` fetches the rest)."""
    got: list[Any] = []
    for image in images:
        try:
            got.append(_store_inline(session, rec, image, response) if image.data is not None else exc)
        except Exception as failed:
            got.append(failed)
    refs = [_ref(r, g) for r, g in zip(images, got, strict=True)]
    outputs = [g for g in got if isinstance(g, dict)] + _raws(got)
    try:
        rec.update(**_kept(session, rec, refs, outputs, response, usage, search_text))
    except Exception:  # recording must never hide the real error
        pass


def _keep_links_first(session: Session, rec: Recording, images: list[Any], response: dict[str, Any], usage: Any,
                      search_text: str) -> None:
    """Before downloading, put the answer's links and its cost in the still ``running`` row: a kernel killed during
    the download runs no ``except`` (:func:`_keep_interrupted` never happens), and the row the next session marks
    ``interrupted`` must still say the call was paid for and let ``session.resume(entry_id)`` fetch the images."""
    if not any(image.data is None and image.url for image in images):
        return  # inline images only: stored at once, there is nothing a download could lose
    refs: list[dict[str, Any]] = []
    for image in images:
        ref: dict[str, Any] = {"url": redact(image.url), "mime": image.mime or "image/png"} if image.url \
            else {"inline": True}
        if image.url and image.revised_prompt:
            ref["revised_prompt"] = received_text(image.revised_prompt)
        refs.append(ref)
    try:  # (its cost takes the place of the budget's reservation: every kernel on the store counts it)
        rec.update(**_kept(session, rec, refs, [], response, usage, search_text))
    except Exception:  # a store that cannot take it fails the row's last update too, and says so there
        pass


def _keep_missing(session: Session, rec: Recording, refs: list[dict[str, Any]], got: list[Any],
                  outputs: list[dict[str, Any]], response: dict[str, Any], usage: Any,
                  search_text: str) -> BaseException:
    """Some images of a paid answer could not be stored: keep the others and every link, say how to fetch them."""
    fields = _kept(session, rec, refs, outputs, response, usage, search_text)
    again = any(_fetchable(r) for r in refs)
    failures = [g for g in got if isinstance(g, BaseException)]
    if not again and len(refs) == 1 and failures:  # one image that cannot be fetched again: its error says it all
        rec.fail(failures[0], status="error", **fields)
        return failures[0]
    if not again and failures and all(getattr(f, "not_image", None) for f in failures):  # the others are kept
        bad = _not_images_error(rec.id, refs, got, response.get("request_id"))
        rec.fail(bad, status="error", **fields)
        return bad
    stored = [f for f in failures if isinstance(f, StoreError)]
    if again and failures and len(stored) == len(failures):  # the store, not the link, failed
        full = stored[0]
        full.hint = (f"{full.hint} Then fetch the paid image{'s' if len(refs) > 1 else ''} from the kept "
                     f"link{'s' if len(refs) > 1 else ''} with session.resume({rec.id}) (no new call, no new charge).")
        rec.fail(full, status="pending", **fields)
        return full
    err = missing_error(rec.id, refs)
    rec.fail(err, status="pending" if again else "error", **fields)
    return err


def missing_error(entry_id: int, refs: list[dict[str, Any]]) -> DownloadError:
    """One line: which images of history #entry_id are missing, why, and the exact call that fetches them."""
    total = len(refs)
    missing = [(i, r) for i, r in enumerate(refs, 1) if not r.get("sha256")]
    again = [i for i, r in missing if _fetchable(r)]
    if total == 1:
        ref = missing[0][1]
        why = f"its link has expired (HTTP {ref['expired']})" if ref.get("expired") else str(ref.get("error"))
        what = f"The image of history #{entry_id} could not be downloaded: {why}"
    else:
        which = "; ".join(f"image {i}: " + (f"link expired (HTTP {r['expired']})" if r.get("expired")
                                                 else str(r.get("error"))) for i, r in missing)
        what = f"{total - len(missing)} of {total} images arrived; {len(missing)} did not ({which})"
    them = "it" if len(again if again else missing) == 1 else "them"
    if again:
        links = "its link is" if len(again) == 1 else "their links are"
        # a file past the download limit is past it again on a resume: the limit must be raised first
        raise_cap = "raise the limit (session.settings.download_cap = <bytes>), then " if any(
            OVER_CAP in str(refs[i - 1].get("error")) for i in again) else ""
        hint = (f"The call is paid for and {links} kept: {raise_cap}fetch {them} with session.resume({entry_id}) "
                "(no new call, no new charge).")
    else:
        hint = (f"Nothing is left to fetch: only a new, paid call makes {them} again: "
                f"session.history.get({entry_id}).rerun().")
    err = DownloadError(what.rstrip(".") + ".", hint=hint)
    err.resumable = entry_id if again else None
    return err


async def resume_entry(session: Session, which: Any) -> Result:
    """``session.resume(entry_id)``: fetch the images a paid image/edit call could not download, from the links
    its row kept, into the same row (no new call, no new charge) → :class:`ImageResult`. A finished row comes
    back from the store with no request; a video call's row gives its task (:func:`.video.resume`)."""
    entry = _entry_of(session, which)
    if entry.kind == "video":
        from .video import resume

        task_id = (entry.response or {}).get("task_id")
        if not task_id:
            raise InputError(f"History entry #{entry.id} is a video call that never reached the server: there is "
                             "no task to resume.", hint=f"Make it again with session.history.get({entry.id}).rerun().")
        return resume(session, str(task_id), entry.model or None)
    if entry.kind not in ("image", "edit"):
        raise InputError(f"History entry #{entry.id} is a {entry.kind} call: only image, edit and video calls can "
                         "be resumed.", hint=f"Make it again with session.history.get({entry.id}).rerun().")
    if entry.status == "ok":
        return from_entry(entry, session)
    if entry.status == "running":
        raise InputError(f"History entry #{entry.id} is still running.", hint="Wait for it to finish.")
    response = entry.response or {}
    refs = [dict(r) for r in response.get("images") or [] if isinstance(r, dict)]
    by_sha = {o["sha256"]: o for o in entry.outputs or [] if o.get("role") == "image" and o.get("sha256")}
    for r in refs:  # a ref counts as stored only if the row really holds its image
        if r.get("sha256") not in by_sha:
            r.pop("sha256", None)
            r.setdefault("error", "not stored")
    todo = [r for r in refs if _fetchable(r)]
    if not todo:
        if refs and any(not r.get("sha256") for r in refs):
            raise missing_error(entry.id or 0, refs)
        raise InputError(f"History entry #{entry.id} ({entry.kind}, {entry.status}) kept no image links to fetch: "
                         "the call ended before any image was paid for.",
                         hint=f"Make it again with session.history.get({entry.id}).rerun().")
    if session.mode == "replay":
        raise ReplayMissError(f"Replay mode never downloads: history #{entry.id} still misses {len(todo)} "
                              f"image(s). Fetch them with session.resume({entry.id}) in a live or offline session.")
    refused: dict[str, dict[str, Any]] = {}  # what links that served no image sent (kept as raw outputs), by sha

    async def fetch_one(ref: dict[str, Any]) -> None:
        try:
            out = await _download(session, entry.id, ref["url"], str(ref.get("mime") or "image/png"),
                                  ref.get("revised_prompt"))
        except Exception as exc:
            _note_failure(ref, exc, resuming=True)
            raw = _raw_of(exc)
            if raw is not None:
                ref["raw"] = raw["sha256"]
                refused[raw["sha256"]] = raw
            return
        by_sha[out["sha256"]] = out
        for k in ("error", "mime", "revised_prompt"):
            ref.pop(k, None)
        ref["sha256"] = out["sha256"]

    await asyncio.gather(*(fetch_one(r) for r in todo))
    images = [by_sha[r["sha256"]] for r in refs if r.get("sha256")]
    others = [o for o in entry.outputs or [] if o.get("role") != "image"]
    outputs = images + others + [o for sha, o in refused.items() if all(k.get("sha256") != sha for k in others)]
    store = session.store
    if all(r.get("sha256") for r in refs):
        kept = {k: v for k, v in response.items() if k != "images"}
        store.update(entry.id or 0, status="ok", response=kept, outputs=outputs, error=None,
                     duration=entry.duration)
        return from_entry(store.get(entry.id or 0).bind(store, session), session)
    err = missing_error(entry.id or 0, refs)
    store.update(entry.id or 0, status="pending" if any(_fetchable(r) for r in refs) else "error",
                 response={**response, "images": refs}, outputs=outputs, error=err)
    mark_recorded(err)
    updated = store.get(entry.id or 0).bind(store, session)
    err.partial = image_result(session, outputs, str((entry.params or {}).get("prompt") or ""), "",
                               entry.model, updated)
    raise err


def _entry_of(session: Session, which: Any) -> HistoryEntry:
    """The row ``session.resume`` was given (an entry id, or an entry of this session's store)."""
    from ..history import HistoryEntry

    store = session.store
    if isinstance(which, HistoryEntry):
        own = which.store
        if own is not None and Path(own.root).resolve() != Path(store.root).resolve():
            raise InputError(f"History entry #{which.id} belongs to the history at {own.root}, not to this "
                             f"session's ({store.root}).", hint=f"Resume it with Session(store={str(own.root)!r}).")
        which = which.id
    if isinstance(which, bool) or not isinstance(which, int):
        raise InputError(f"session.resume() takes a video task id (a string) or a history entry id (an int), "
                         f"not {type(which).__name__}.", hint="e.g. session.resume(session.history[-1].id).")
    try:
        return store.get(which).bind(store, session)
    except (KeyError, OverflowError):  # (OverflowError: more digits than SQLite's integers)
        raise InputError(f"There is no history entry #{which} in {store.root}.",
                         hint="Its id is the # column of session.history.") from None
