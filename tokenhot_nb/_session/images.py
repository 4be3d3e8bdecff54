"""Image generation and editing: params and body, send, store the images, build the ImageResult."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .._inputs import sniff_mime, to_media, to_media_list
from ..catalog import ModelInfo
from ..errors import APIError, DownloadError, InputError
from ..results import ImageItem, ImageResult, from_entry
from .inputs import fetch, store_media
from .models import seed_for
from .recording import (
    Recording,
    astore_bytes,
    drop_none,
    endpoint_name,
    json_object,
    received_text,
    replayed,
    send_recorded,
    store_bytes,
    store_download,
)

if TYPE_CHECKING:
    from ..client import Response
    from ..results._base import Result
    from .core import Session


def image_params(session: Session, info: ModelInfo, kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(params for the history, builder kwargs) with the seed resolved and options split out."""
    kw = dict(kw)
    headers = kw.pop("headers", None)
    seed = seed_for(session.seed, info, kw.pop("seed", None))
    named = {k: kw.pop(k, None) for k in ("n", "size", "quality", "negative", "response_format")}
    raw = kw.pop("raw", None)
    params = drop_none({**named, "seed": seed, **kw, "raw": raw})
    build = {**named, "seed": seed, "extra": kw or None, "raw": raw, "_headers": headers}
    return params, build


async def image_one(session: Session, prompt: str, info: ModelInfo, kw: dict[str, Any]) -> Result:
    """One generation call (a batch runs many of these)."""
    from ..families import images

    extra_params, build = image_params(session, info, kw)
    params = {"prompt": prompt, "model": info.ref, **extra_params}
    headers = build.pop("_headers")
    call = images.build_generate(info, prompt, **build)
    call.headers.update(headers or {})
    if session.mode == "replay":
        return from_entry(replayed(session, "image", info, endpoint_name(call), params), session)
    return await send_recorded(session, "image", info, params, call,
                               lambda rec, resp: finish_images(session, rec, resp, info, prompt), text=prompt)


async def edit_one(session: Session, images_in: Any, prompt: str, mask_in: Any, info: ModelInfo,
                   kw: dict[str, Any]) -> Result:
    from ..families import images

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
    if session.mode == "replay":
        endpoint = "images.edits" if needs_bytes else info.endpoints[0]
        return from_entry(replayed(session, "edit", info, endpoint, params), session)
    if needs_bytes:
        media = [await fetch(session, m) for m in media]
        if mask is not None:
            mask = await fetch(session, mask)
    pairs: list[Any] = [m.wire() for m in media]
    mask_arg = None if mask is None else mask.wire()
    call = images.build_edit(info, pairs, prompt, mask=mask_arg, **build)
    call.headers.update(headers or {})
    return await send_recorded(session, "edit", info, params, call,
                               lambda rec, resp: finish_images(session, rec, resp, info, prompt), text=prompt)


async def finish_images(session: Session, rec: Recording, resp: Response, info: ModelInfo, prompt: str) -> Result:
    """Parse the answer, store every image (downloads at once), finish the row → :class:`ImageResult`."""
    from ..families import images

    reply = images.parse(info, json_object(resp, info.id))
    if not reply.images:
        raise APIError(f"{info.id} answered without any image" + (f": {reply.text[:200]}" if reply.text else "."),
                       status=resp.status, request_id=resp.request_id,
                       hint="The prompt may have been refused; rephrase it and try again.")
    cap = session.settings.download_cap

    async def one(ref: Any) -> dict[str, Any]:
        if ref.data is not None:
            if len(ref.data) > cap:
                raise DownloadError(f"An inline image of {len(ref.data)} bytes is larger than the download "
                                    f"limit of {cap} bytes.", hint="Raise Session(download_cap=…) (bytes).")
            return await astore_bytes(session, ref.data, ref.mime or sniff_mime(ref.data, "image/png"), "image",
                                      revised_prompt=ref.revised_prompt)
        return await store_download(session, ref.url, ref.mime or "image/png", "image",
                                    revised_prompt=ref.revised_prompt)

    got = await asyncio.gather(*(one(r) for r in reply.images), return_exceptions=True)
    outputs = [o for o in got if isinstance(o, dict)]
    failed = [(i, e) for i, e in enumerate(got, 1) if isinstance(e, BaseException)]
    text = received_text(reply.text) if reply.text else ""
    if text:
        outputs.append(store_bytes(session, text.encode("utf-8"), "text/plain", "text"))
    usage = reply.usage
    if not usage.images:
        usage.images = len(reply.images)
    revised = next((received_text(r.revised_prompt) for r in reply.images if r.revised_prompt), None)
    response = drop_none({"request_id": resp.request_id, "status": resp.status, "revised_prompt": revised})
    search_text = "\n\n".join(t for t in (prompt, revised, text) if t)
    if failed:
        raise partial_images(session, rec, failed, len(reply.images), outputs, response, usage, search_text,
                             prompt, info)
    entry = rec.ok(response=response, usage=usage, outputs=outputs, text=search_text)
    return image_result(session, outputs, prompt, text, info, entry)


def image_result(session: Session, outputs: list[dict[str, Any]], prompt: str, text: str, info: ModelInfo,
                 entry: Any) -> ImageResult:
    store = session.store
    items = [ImageItem(store.path_of(o["sha256"]), o["mime"], o["sha256"],
                       drop_none({"revised_prompt": o.get("revised_prompt")}))
             for o in outputs if o["role"] == "image"]
    return ImageResult(items, prompt=prompt, text=text, model=info.id, entry=entry, session=session)


def partial_images(session: Session, rec: Recording, failed: list[tuple[int, BaseException]], total: int,
                   outputs: list[dict[str, Any]], response: dict[str, Any], usage: Any, search_text: str,
                   prompt: str, info: ModelInfo) -> BaseException:
    """Some images of a paid answer could not be fetched: keep the others (row + result), say which failed.

    The row ends ``error`` with the images that arrived as its outputs; the raised error carries them as
    ``err.partial`` (an :class:`ImageResult`) so nothing already paid for is lost.
    """
    arrived = total - len(failed)
    which = ", ".join(f"image {i}: {getattr(e, 'message', None) or e}" for i, e in failed)
    first = failed[0][1]
    if arrived == 0 and len(failed) == 1:
        return first  # a single image that failed: its own error says it all (the caller records it)
    err = DownloadError(
        f"{arrived} of {total} images arrived; {len(failed)} could not be downloaded ({which}).",
        hint="The images that arrived are kept in the history and in err.partial; "
        "run the call again only for the missing ones.",
    )
    rec.fail(err, outputs=outputs, response=response, usage=usage.as_dict(), text=search_text)
    entry = rec.final()
    err.partial = image_result(session, outputs, prompt, "", info, entry)  # type: ignore[attr-defined]
    return err
