"""Argument checks the session makes before any request: a wrong type or an empty message is one clear line,
not a 400 from the service after a paid round trip (or a silently ignored option)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._suggest import did_you_mean, nearest, phrase
from ..errors import InputError, WrongTypeError

#: The widest seed any catalogued service takes (Seedance: -1…2^32-1; most take up to 2^31-1). A larger one is
#: refused by every service, so it is refused here before the call.
MAX_SEED = 2**32 - 1
#: The roles a conversation message may have: OpenAI's, which every chat family is built from, and Gemini's
#: "model" (the builders map it); a message with no role is the user's, as the builders take it.
ROLES = ("system", "developer", "user", "assistant", "tool", "model")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _what(value: Any) -> str:
    """How a wrong value is named in a message: its type, and its start when that helps."""
    name = type(value).__name__
    if value is None or isinstance(value, (int, float)):
        return f"{name} ({value!r:.40})"
    return with_article(name)


def with_article(word: str) -> str:
    """``word`` with its article, for messages: "a chat", "an embed", "an Image"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _is_media(value: Any) -> bool:
    """An image/audio object or its bytes: what people pass as a prompt when they meant an input."""
    import os

    module = type(value).__module__
    return (isinstance(value, (bytes, bytearray, memoryview, os.PathLike)) or module.startswith(("PIL.", "numpy"))
            or type(value).__name__ in ("ImageResult", "ImageItem", "AudioResult", "VideoResult"))


def check_text(value: Any, what: str, example: str, *, media_hint: str = "", empty_ok: bool = False) -> str:
    """``value`` as the text of a prompt: a ``str`` that can be sent (no lone surrogates), not blank unless
    ``empty_ok``. ``str(value)`` of anything else would send (and pay for) "None", "b'…'" or an object's repr."""
    if value is None and empty_ok:
        return ""
    if not isinstance(value, str):
        hint = media_hint if media_hint and _is_media(value) else (
            f"Pass text, e.g. {example}" + ("; str(x) if you meant its text." if value is not None else "."))
        raise InputError(f"The {what} must be text (a str), not {_what(value)}.", hint=hint)
    if not empty_ok and not value.replace("\x00", "").strip():
        raise InputError(f"The {what} is empty.", hint=f"Pass the text to send, e.g. {example}.")
    check_unicode(value, what)
    return value


def check_unicode(text: str, what: str) -> None:
    """A lone surrogate (from a bad decode or a pasted fragment of an emoji) cannot be encoded as UTF-8: say
    where it is, instead of a UnicodeEncodeError from deep inside the recording step."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"The {what} holds an invalid character ({text[exc.start]!r}, a lone surrogate, at position "
            f"{exc.start}): it is not valid Unicode and cannot be sent.",
            hint="Clean it first, e.g. text.encode('utf-8', 'replace').decode('utf-8').") from None


def check_chat(message: Any, temperature: Any, max_tokens: Any, *, answering_tools: bool = False) -> None:
    """``answering_tools``: the turn carries tool results, so an empty message is fine."""
    if isinstance(message, (list, tuple)):
        check_conversation(message)
    elif isinstance(message, Mapping) and "role" in message:
        raise InputError("A single message dict is not a conversation.",
                         hint="Wrap it in a list: s.chat([{'role': 'user', 'content': …}]), or pass its text.")
    elif not answering_tools or message not in (None, ""):
        check_text(message, "chat message", "s.chat('Hello')",
                   media_hint="Attach images with images=…: s.chat('What is in this picture?', images=img).")
    if temperature is not None and (not _number(temperature) or not math.isfinite(temperature)
                                    or not 0 <= temperature <= 2):
        raise InputError(f"temperature must be a number from 0 to 2, not {temperature!r:.40}.",
                         hint="e.g. temperature=0.2 (lower is more focused).")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool)
                                   or max_tokens < 1):
        raise InputError(f"max_tokens must be a whole number of at least 1, not {max_tokens!r:.40}.",
                         hint="e.g. max_tokens=500.")


def check_tools(tools: Any) -> None:
    """``tools=5`` was a TypeError from inside; ``tools='f'`` and one schema not in a list were read item by item
    ("a tool must be a schema, got 'f'"): the argument is a list of schemas, say that."""
    if tools is None or (isinstance(tools, (list, tuple)) and not isinstance(tools, str)):
        return
    one = " (one schema: put it in a list, tools=[{…}])" if isinstance(tools, Mapping) else ""
    raise WrongTypeError(f"tools= takes a list of OpenAI function schemas, not {_what(tools)}{one}.",
                         hint='e.g. tools=[{"type": "function", "function": {"name": …, "parameters": {…}}}].')


def check_cache(cache: Any) -> str | None:
    """``chat(cache=…)`` as the lifetime of Claude's prompt-cache breakpoints ("5m" or "1h"), or None for none."""
    cache = plain(cache)
    if cache is None or cache is False:
        return None
    from ..families.chat import CACHE_TTLS  # (after the usual None: an import statement costs ~1 µs a call)

    if cache is True:
        return CACHE_TTLS[0]
    if isinstance(cache, str) and cache.strip().lower() in CACHE_TTLS:
        return cache.strip().lower()
    raise InputError(f"cache= takes True, '5m' or '1h' (how long Claude keeps the prompt cached), not "
                     f"{type(cache).__name__} {cache!r:.40}.",
                     hint="chat(…, cache=True) caches for 5 minutes; cache='1h' for an hour (its write costs more).")


def check_chat_options(system: Any, thread: Any, tools: Any, tool_choice: Any) -> None:
    """The chat arguments the service would refuse (or this package would trip on) after the call was made."""
    if system is not None:
        check_text(system, "system prompt", "system='Answer in one sentence.'", empty_ok=True)
    if thread is not None and thread is not False and not isinstance(thread, str):
        raise InputError(f"thread= takes a conversation's name (a str), or False for a one-off question, not "
                         f"{_what(thread)}.", hint="e.g. thread='study'; session.threads lists them.")
    if tool_choice not in (None, "auto", "none") and not tools:
        raise InputError(f"tool_choice={tool_choice!r:.40} needs tools to choose from.",
                         hint="Pass tools=[…] (OpenAI function schemas) in the same call, or drop tool_choice.")


def check_conversation(messages: list[Any] | tuple[Any, ...]) -> None:
    """A conversation: a non-empty list of ``{"role", "content"}`` dicts with known roles."""
    if not messages:
        raise InputError("The chat conversation is empty (no messages).",
                         hint="Pass a message, or a list of {'role': …, 'content': …} dicts.")
    if all(isinstance(m, str) for m in messages):  # (a batch, where one is taken: compare())
        raise InputError("This call asks one question, not a list of them (a list of strings is a batch).",
                         hint="Ask them one at a time: [… for question in questions], or pass a conversation "
                              "as a list of {'role': …, 'content': …} dicts.")
    if any(isinstance(m, str) for m in messages):
        odd = next(m for m in messages if not isinstance(m, str))
        raise InputError(f"The list mixes strings with {_what(odd)}: it is neither a batch nor a conversation.",
                         hint="A list of strings asks them as separate questions (a batch); a list of "
                              "{'role': …, 'content': …} dicts is one conversation.")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            raise InputError(
                f"Message {i} of the conversation is {_what(m)}, not a {{'role': …, 'content': …}} dict.",
                hint="A conversation is a list of {'role': …, 'content': …} dicts.")
        role = m.get("role", "user")
        if role not in ROLES:
            raise InputError(
                f"Message {i} of the conversation has role {role!r}, which is not one." + did_you_mean(role, ROLES),
                hint=f"A message's role is one of {', '.join(ROLES)}.")
        if isinstance(m.get("content"), str):
            check_unicode(m["content"], f"content of message {i}")
        for key, value in m.items():  # (sent as they are: a set there was a TypeError from the JSON encoder)
            if key not in ("content", "tool_calls", "tool_results", "thinking_blocks"):
                check_json_value(value, f"message {i}'s {str(key)!r:.40}")
    if not any(_has_content(m) for m in messages):  # as s.chat(""): a paid answer to nothing, or a 400
        raise InputError(f"Every message of the conversation is empty ({len(messages)} without content).",
                         hint="Give a message its text: [{'role': 'user', 'content': 'Hello'}].")


def _has_content(message: Mapping[str, Any]) -> bool:
    """Whether a conversation message carries anything: text that is not blank, parts, tool calls or results."""
    content = message.get("content")
    if isinstance(content, str):
        return bool(content.replace("\x00", "").strip())
    return bool(content) or bool(message.get("tool_calls")) or bool(message.get("tool_results"))


def check_model_name(name: Any) -> None:
    """A model is named by a string (or given as a ModelInfo, or the ``{"id", "family"}`` a history row keeps)."""
    if isinstance(name, str):
        if not name.strip():
            raise InputError("model= is empty.", hint="Name a model (tokenhot_nb.models() lists them), or leave it "
                                                      "out for the default.")
        return
    from ..catalog import ModelInfo

    if not isinstance(name, (str, ModelInfo, Mapping)):
        raise InputError(f"model= takes a model name (a str), not {_what(name)}.",
                         hint="e.g. model='gpt-5.2'; tokenhot_nb.models() lists them"
                              + ("; compare(prompt, models=[…]) asks several at once." if isinstance(
                                  name, (list, tuple)) else "."))


#: Options where a blank string means nothing: option → (what leaving it out gives, an example). ``voice=''`` or
#: ``thread=''`` was taken as not given and the default used without a word (``model=''`` has its own line:
#: :func:`check_model_name`; ``system=''`` is a turn without the thread's system prompt, a meaning of its own).
BLANK_REFUSED: dict[str, tuple[str, str]] = {
    "voice": ("the model's own voice", "voice='alloy'; s.model(name).choices('voices') lists them"),
    "thread": ("the default thread (thread=False: a one-off question)", "thread='study'"),
    "endpoint": ("the model's first endpoint", "endpoint='responses'"),
    "size": ("the model's default size", "size='1024x1024'"),
    "quality": ("the model's default quality", "quality='high'"),
    "negative": ("no negative prompt", "negative='blurry, text'"),
    "resolution": ("the model's default resolution", "resolution='720p'"),
    "ratio": ("the model's default aspect ratio", "ratio='16:9'"),
    "language": ("the language detected from the speech", "language='en' (an ISO-639-1 code)"),
    "format": ("json", "format='srt' (json, text, srt, vtt or verbose_json)"),
    "tool_choice": ("auto", "tool_choice='required', or a tool's name"),
}


def check_blanks(arguments: Mapping[str, Any]) -> None:
    """A blank string given to an option of :data:`BLANK_REFUSED`: one line naming it and how to get the default."""
    for name, value in arguments.items():
        if name in BLANK_REFUSED and isinstance(value, str) and not value.strip():
            default, example = BLANK_REFUSED[name]
            left_out = f"Leave {name}= out" + (" (or pass None)" if name != "format" else "")
            raise InputError(f"{name}= is empty{' (only whitespace)' if value else ''}.",
                             hint=f"{left_out} for {default}; or give one, e.g. {example}.", option=name)


def whole(value: Any) -> Any:
    """``value`` as a plain int when it is a whole number of another type (numpy's ``int64`` from ``np.arange``,
    a pandas cell), else as it came, for the checks to judge: refused as "not a whole number", or unsendable as
    JSON, a numpy int was the user's mistake only in name."""
    import operator

    if isinstance(value, (bool, int)) or value is None:
        return value
    try:
        return operator.index(value)
    except TypeError:
        return value


def plain(value: Any) -> Any:
    """``value`` with every numpy scalar (``np.int64`` from ``np.arange``, a pandas cell, ``np.float32``,
    ``np.str_``) made the Python value it stands for, inside plain lists, tuples and dicts too. Sent as it was, a
    numpy number reached the JSON encoder as a TypeError after the call's row was written, and the row kept its
    repr ("np.int64(3)"), which ``to_code()`` sent as a string and replay never matched. Arrays stay arrays."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:  # (most arguments: nothing to look into)
        return value
    if kind.__module__ == "numpy" and callable(getattr(value, "item", None)) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if kind is list or kind is tuple:
        return kind(plain(v) for v in value)
    if kind is dict:
        return {k: plain(v) for k, v in value.items()}
    return value


def flag(value: Any, name: str) -> bool | None:
    """A yes/no option (``stream``, ``wait``, ``json``…) as a bool; None stays None (not given). Any other value was
    taken by its truth before: ``wait="no"`` waited, ``stream="false"`` streamed."""
    value = plain(value)  # (numpy's bools, a mask's cell or np.True_, are Python's)
    if value is None or isinstance(value, bool):
        return value
    raise WrongTypeError(f"{name} is True or False, not {value!r:.40}.", hint=f"e.g. {name}=False.")


def check_seed(seed: Any) -> None:
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED):
        raise InputError(f"seed must be a whole number from 0 to {MAX_SEED}, not {seed!r:.40}.",
                         hint="e.g. seed=42.")


def check_count(value: Any, name: str) -> int:
    """A whole-number setting of the session itself (not sent), e.g. ``concurrency``; numpy's ints are ints."""
    import operator

    try:
        number = operator.index(value) if not isinstance(value, bool) else 0
    except TypeError:
        number = 0
    if number < 1:
        raise InputError(f"{name} must be a whole number of at least 1, not {value!r:.40}.",
                         hint=f"e.g. {name}=4.")
    return number


def check_transport(transport: Any) -> Any:
    """``Session(transport=…)``: an httpx async transport (the simulator's, a test's) or None. Anything else was
    taken, and failed inside httpx at the first call."""
    if transport is None:
        return None
    import httpx  # (only when one is given: whoever made it has httpx loaded already)

    if not isinstance(transport, httpx.AsyncBaseTransport):
        raise WrongTypeError(f"transport= takes an httpx async transport, not {_what(transport)}.",
                             hint="e.g. Session(transport=tokenhot_nb.sim.SimTransport()); leave it out to use "
                                  "the network (live) or the built-in simulator (offline).")
    return transport


def check_timeout(timeout: Any) -> float | None:
    """A wait's ``timeout``: None (the session's ``video_deadline``) or seconds, a finite number above 0. "5" was a
    TypeError from inside; -1 polled once and said the task "was not done after -1 s"."""
    if timeout is None:
        return None
    import numbers

    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):  # (numpy's numbers are Reals)
        raise InputError(f"timeout is how many seconds to wait (a number), not {_what(timeout)}.",
                         hint="e.g. task.wait(timeout=600), or timeout=None for the session's video_deadline.")
    seconds = float(timeout)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"timeout must be a number of seconds above 0, not {timeout!r:.40}.",
                         hint="e.g. task.wait(timeout=600), or timeout=None for the session's video_deadline.")
    return seconds


def check_callable(fn: Any, name: str, args: tuple[str, ...]) -> None:
    """A callback is called with ``args`` after the call is sent (a video's after it is paid for): one that is not
    a function, or takes other arguments, would fail then, with a TypeError from inside and the work left behind."""
    if fn is None:  # (the usual call: nothing to check)
        return
    import inspect

    example = f"{name}=lambda {', '.join(args)}: print({args[-1]})"
    if not callable(fn):
        raise InputError(f"{name} must be a function (or None), not {_what(fn)}.", hint=f"e.g. {example}.")
    try:
        inspect.signature(fn).bind(*args)
    except TypeError:
        raise InputError(f"{name} is called with {len(args)} argument{'s' if len(args) > 1 else ''} "
                         f"({', '.join(args)}), which {getattr(fn, '__name__', 'it')}() does not take.",
                         hint=f"e.g. {example}.") from None
    except ValueError:  # a builtin without a signature: it will be called as it is
        pass


#: Body fields the services document (OpenAI chat/images/audio, Responses, Gemini, new-api's task body, the video
#: vendors of reference §10.2): sent as they are, never taken for a typo of an argument (``mode`` is one letter
#: from ``model``, ``speed`` from ``seed``, ``image`` from ``images``).
BODY_FIELDS = frozenset({
    "mode", "image", "images", "imageUrls", "input_reference", "seconds", "metadata", "speed", "moderation",
    "text", "style", "background", "output_format", "output_compression", "partial_images", "stop", "user",
    "top_p", "top_k", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "logit_bias",
    "reasoning", "reasoning_effort", "verbosity", "modalities", "audio", "store", "service_tier",
    "parallel_tool_calls", "prediction", "stream_options", "web_search_options", "safety_identifier",
    "prompt_cache_key", "include", "previous_response_id", "truncation", "instructions", "max_output_tokens",
    "max_completion_tokens", "negative_prompt", "watermark", "ratio", "resolution", "generate_audio",
    "camera_fixed", "return_last_frame", "callback_url", "aspect_ratio", "cfg_scale", "prompt_extend", "thinking",
    "thinking_budget", "include_thoughts", "safety_settings", "timestamp_granularities", "encoding_format",
    "dimensions", "enableTranslation", "generationType", "file_infos", "audio_generation", "nsfw_checker",
    "sequential_image_generation", "guidance_scale", "optimize_prompt",
})


def check_option_names(options: Mapping[str, Any], named: Iterable[str], method: str) -> None:
    """An extra option one typo away from a named argument (``sed=7`` for ``seed=7``) would be sent as an unknown
    body field and silently do nothing: refuse it, naming the argument it resembles (a documented body field is
    never taken for one: :data:`BODY_FIELDS`)."""
    names = [n for n in named if not n.startswith("_")]
    check_hatches(options, names)
    for key in options:
        if key in names or key.startswith("_") or key in ("extra", "raw", "headers") or key in BODY_FIELDS:
            continue
        near = nearest(key, names, cutoff=0.75)
        if near:
            raise InputError(
                f"{method}() has no argument {key!r}." + phrase(near, show="{}=".format),
                hint=f"Write {near[0]}=…; to send {key!r} as a body field anyway, pass extra={{{key!r}: …}}.",
                option=key, value=options[key], suggestion=near[0])


def check_hatches(options: Mapping[str, Any], names: Iterable[str]) -> None:
    """``headers=``, ``raw=``, ``extra=`` and every extra body field, checked before anything is sent: a
    ``headers=5`` or ``raw='x'``, a header value with a line break, a set, bytes or ``nan`` in a body field each
    failed inside httpx or the JSON encoder (a TypeError through the library), or went out as a broken header."""
    for key, value in options.items():
        if key in names or key.startswith("_"):
            continue
        value = plain(value)
        if key == "headers":
            check_headers(value)
        elif key == "raw":
            if value is not None and not isinstance(value, dict):
                raise WrongTypeError(f"raw= takes the whole request body as a dict, not {_what(value)}.",
                                     hint="e.g. raw={'model': 'gpt-5.2', 'messages': […]}; to add fields to the "
                                          "body the call builds, use extra={…}.")
            check_json_value(value, "raw=")
        elif key == "extra":
            for name, field in _extra_fields(value).items():
                if not isinstance(name, str):
                    raise InputError(f"extra= has the key {name!r:.40} ({type(name).__name__}): a body field's "
                                     "name is text.", hint="e.g. extra={'watermark': True}.")
                check_json_value(field, f"extra field {name!r:.40}")
        else:
            check_json_value(value, f"option {key!r:.40}")


_JSON_HINT = ("A body field takes JSON values: text, numbers, True/False, None, lists and dicts (list(x) for a set, "
              "x.tolist() for an array); files go in the method's own arguments (images=…, audio=…).")


def check_json_value(value: Any, what: str, depth: int = 0) -> None:
    """``value`` can be sent in a JSON body (what the client's encoder takes: no NaN, keys that JSON can name)."""
    if value is None or isinstance(value, (str, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{what} is {value!r}, which a JSON body cannot carry.",
                             hint="Send a finite number, or leave it out.")
        return
    if depth > 50:  # (deeper than any body: the encoder's own limit says so)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if k is not None and not isinstance(k, (str, int, float)):
                raise InputError(f"{what} has the key {k!r:.40} ({type(k).__name__}), which JSON cannot name.",
                                 hint="Use text keys.")
            check_json_value(v, what, depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            check_json_value(v, what, depth + 1)
        return
    raise InputError(f"{what} holds {_what(plain(value))}, which a JSON body cannot carry.", hint=_JSON_HINT)


#: An HTTP header name (RFC 9110's token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def check_headers(headers: Any) -> None:
    """``headers=``: a dict (or pairs) of header names and one-line ASCII values. Values are never quoted back:
    one may hold a key."""
    example = "e.g. headers={'X-Sim-Faults': 'latency=2'}"
    if headers is None:
        return
    if isinstance(headers, Mapping):
        pairs = list(headers.items())
    elif isinstance(headers, (list, tuple)) and all(isinstance(p, tuple) and len(p) == 2 for p in headers):
        pairs = list(headers)
    else:
        raise WrongTypeError(f"headers= takes a dict of HTTP header names and values, not {_what(headers)}.",
                             hint=example + ".")
    for name, value in pairs:
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InputError(f"headers= has {name!r:.40}, which is no HTTP header name (letters, digits and "
                             "-_.!#$%&'*+^`|~; no spaces or colons).", hint=example + ".")
        if not isinstance(value, (str, bytes)):
            raise WrongTypeError(f"headers=: the value of {name!r} must be text (a str), not "
                                 f"{type(value).__name__}.", hint=f"e.g. headers={{{name!r}: str(value)}}.")
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if any(c in text for c in "\r\n\x00"):
            raise InputError(f"headers=: the value of {name!r} holds a line break or NUL, which would end the header "
                             "early (and start another).", hint="Send the value on one line.")
        if not text.isascii() and isinstance(value, str):
            raise InputError(f"headers=: the value of {name!r} holds non-ASCII text, which an HTTP header cannot "
                             "carry.", hint="Encode it first, e.g. urllib.parse.quote(value).")


def parameters(fn: Callable[..., Any]) -> list[str]:
    """The named keyword arguments of a session method (what an option typo is compared with)."""
    import inspect

    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"]


def body_extra(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The extra body fields of a call: its unknown ``**options`` plus the fields of ``extra={…}``, the escape
    hatch every "not supported" message points to (sent as given, past the model's option checks). Without
    this, ``extra={"k": v}`` would itself be sent as a body field named "extra"."""
    rest = {k: v for k, v in options.items() if k != "extra"}
    fields = {**rest, **_extra_fields(options.get("extra"))}
    return fields or None


def _extra_fields(extra: Any) -> Mapping[str, Any]:
    if extra is not None and not isinstance(extra, Mapping):
        raise InputError(f"extra= takes a dict of body fields, not {_what(extra)}.",
                         hint="e.g. extra={'watermark': True}.")
    return extra or {}
