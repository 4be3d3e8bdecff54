"""The model catalogue as data: every Tokenhot model, its protocol family, options and defaults.

Sources and confidence are in the project's API reference (shared/reference/tokenhot-api.md); where the reference is unsure, the
option lists here stay on the permissive side and ``notes`` says so. Adding a model that fits an existing
family is one entry in ``MODELS`` (the vendor comes from the family); families (``families/*.py``) dispatch on the family name, never on ids.
A model only the service's table lists takes its options from the listed model it varies, or from the words of
its id (``LIVE_VARIANT_OF`` / ``LIVE_ID_WORDS`` at the end).

Capability keys (all optional):
``edit``, ``edit_only``, ``edit_keeps_input_size`` (an edit sends no size unless asked), ``pixel_range``
(``[min, max]`` pixels of a ``WxH`` size), ``mask``, ``max_edit_images``, ``max_images_total`` (input + output
images of one call), ``sizes`` (menu values), ``size_free`` (any ``WxH`` accepted too), ``max_n``, ``seed``,
``max_seed`` (the largest seed, when below 2^32-1), ``negative_prompt``, ``quality`` (allowed values),
``response_formats``,
``styles`` / ``backgrounds`` / ``output_formats`` / ``audio_settings`` (allowed values; an empty list: the model
takes no such option),
``ratios``, ``image_sizes`` (Gemini ``1K/2K/4K``), ``durations``, ``resolutions``,
``resolution_max_duration``, ``first_frame``, ``last_frame``, ``reference_images`` (max count),
``video_input``, ``requires_video``, ``requires_image``, ``mode`` (HappyHorse), ``max_videos``, ``audio_input``,
``max_audios``, ``public_urls_only`` (inputs must be public http(s) URLs), ``media_urls_only`` (input videos
and audios must be public http(s) URLs; images may be bytes), ``first_frame_ratio`` (the ratio a
job with a first frame must use), ``reference_durations`` (durations allowed with reference images),
``generate_audio``, ``voices``, ``formats``, ``dimensions`` (embeddings: a ``dimensions`` field is taken),
``max_dimensions``, ``encoding_formats``, ``top_n`` / ``return_documents`` (rerank: those fields are taken),
``languages``, ``translate``, ``stream``, ``responses``, ``reasoning``, ``vision``, ``temperature``,
``max_tokens_field``, ``reasoning_efforts``, ``structured_output``, ``tools``.

A family's ``name_options`` map a menu suffix (the text in brackets of a display name, e.g. "GPT 5(Responses)")
to the options that entry selects; ``catalog.model(name).preset`` holds them and the session applies them
unless the call sets them itself.
"""

from __future__ import annotations

from typing import Any

# --- shared option lists -------------------------------------------------------------------------

#: The 30 prebuilt Gemini TTS voices (Google AI speech-generation docs).
GEMINI_VOICES: list[str] = [
    "Zephyr", "Puck", "Charon", "Kore", "Fenrir", "Leda", "Orus", "Aoede", "Callirrhoe", "Autonoe",
    "Enceladus", "Iapetus", "Umbriel", "Algieba", "Despina", "Erinome", "Algenib", "Rasalgethi",
    "Laomedeia", "Achernar", "Alnilam", "Schedar", "Gacrux", "Pulcherrima", "Achird",
    "Zubenelgenubi", "Vindemiatrix", "Sadachbia", "Sadaltager", "Sulafat",
]  # fmt: skip

OPENAI_TTS_VOICES: list[str] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
]  # fmt: skip

#: ISO-639-1 codes Whisper documents.
WHISPER_LANGUAGES: list[str] = [
    "af", "ar", "hy", "az", "be", "bs", "bg", "ca", "zh", "hr", "cs", "da", "nl", "en", "et", "fi", "fr",
    "gl", "de", "el", "he", "hi", "hu", "is", "id", "it", "ja", "kn", "kk", "ko", "lv", "lt", "mk", "ms",
    "mr", "mi", "ne", "no", "fa", "pl", "pt", "ro", "ru", "sr", "sk", "sl", "es", "sw", "sv", "tl", "ta",
    "th", "tr", "uk", "ur", "vi", "cy",
]  # fmt: skip

#: gpt-5 takes minimal…high; from gpt-5.1 on "none" is the lowest and gpt-5.2 adds "xhigh".
GPT5_EFFORTS = ["minimal", "low", "medium", "high"]
GPT5_EFFORTS_LATER = ["none", "minimal", "low", "medium", "high", "xhigh"]
GEMINI_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
SEEDANCE_RATIOS = ["16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"]
SEEDANCE_RESOLUTIONS = ["480p", "720p", "1080p", "4k"]
WAN_VIDEO_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "adaptive"]
GROK_VIDEO_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3"]
HAPPYHORSE_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4"]
GPT_IMAGE_SIZES = ["1024x1024", "1536x1024", "1024x1536", "auto"]
#: Seedream's named sizes (reference §10.4, which corrects §3.2's per-version 1K/3K lists).
SEEDREAM_PRESETS = ["2K", "4K"]
#: Seedream pixel sizes offered in menus; any WxH inside the family's ``pixel_range`` is accepted too.
SEEDREAM_PIXEL_SIZES = ["2048x2048", "2304x1728", "1728x2304", "2560x1440", "1440x2560", "2496x1664", "1664x2496"]
QWEN_IMAGE_SIZES = ["1328*1328", "1664*928", "928*1664", "1472*1104", "1104*1472"]
WAN_SIZES = ["1280*1280", "1024*1024", "1280*720", "720*1280", "1280*960", "960*1280"]

# --- families --------------------------------------------------------------------------------------

FAMILIES: dict[str, dict[str, Any]] = {
    # chat -----------------------------------------------------------------------------------------
    "openai-chat": {
        "kind": "chat",
        "endpoints": ["chat.completions"],
        "vendor": "OpenAI-compatible",
        "capabilities": {"stream": True, "vision": True, "temperature": True},
        "defaults": {},
    },
    "openai-responses": {
        "kind": "chat",
        "endpoints": ["chat.completions", "responses"],
        "vendor": "OpenAI",
        "name_options": {"Responses": {"endpoint": "responses"}},
        "capabilities": {
            "stream": True,
            "vision": True,
            "responses": True,
            "reasoning": True,
            "reasoning_efforts": GPT5_EFFORTS,
            # GPT-5 reasoning models reject `max_tokens` on chat/completions.
            "max_tokens_field": "max_completion_tokens",
            "temperature": False,
        },
        "defaults": {},
    },
    "claude": {
        "kind": "chat",
        "endpoints": ["chat.completions", "messages"],
        "vendor": "Anthropic",
        "capabilities": {"stream": True, "vision": True, "reasoning": True, "temperature": True},
        # Anthropic requires max_tokens on /v1/messages; this is the default the builder sends.
        "defaults": {"max_tokens": 8192},
    },
    "gemini": {
        "kind": "chat",
        "endpoints": ["gemini.generate", "gemini.stream", "chat.completions"],
        "vendor": "Google",
        "name_options": {"流式": {"endpoint": "gemini.stream"}},
        "capabilities": {"stream": True, "vision": True, "reasoning": True, "temperature": True},
        "defaults": {},
    },
    "grok": {
        "kind": "chat",
        "endpoints": ["chat.completions"],
        "vendor": "xAI",
        "capabilities": {"stream": True, "vision": True, "reasoning": True, "temperature": True},
        "defaults": {},
    },
    # image ----------------------------------------------------------------------------------------
    "openai-image": {
        "kind": "image",
        "endpoints": ["images.generations", "images.edits"],
        "vendor": "OpenAI",
        "capabilities": {"edit": True, "mask": True, "max_n": 10, "sizes": GPT_IMAGE_SIZES,
                         "max_edit_images": 16, "response_formats": [], "edit_keeps_input_size": True},
        "defaults": {"size": "1024x1024"},
    },
    "seedream": {
        "kind": "image",
        "endpoints": ["images.generations"],
        "vendor": "ByteDance",
        "capabilities": {"edit": True, "mask": False, "max_n": 15, "seed": True, "size_free": True,
                         "pixel_range": [920_000, 4_620_000], "max_edit_images": 14, "max_images_total": 15,
                         "response_formats": ["url", "b64_json"]},
        "defaults": {"size": "2K", "watermark": False},
    },
    "qwen-image": {
        "kind": "image",
        "endpoints": ["images.generations"],
        "vendor": "Alibaba",
        "capabilities": {"edit": False, "max_n": 1, "seed": True, "negative_prompt": True,
                         "sizes": QWEN_IMAGE_SIZES, "prompt_extend": True},
        "defaults": {"size": "1328*1328", "watermark": False, "prompt_extend": True},
    },
    "wan-image": {
        "kind": "image",
        "endpoints": ["images.generations"],
        "vendor": "Alibaba",
        "capabilities": {"edit": False, "max_n": 4, "seed": True, "negative_prompt": True,
                         "sizes": WAN_SIZES, "size_free": True},
        "defaults": {"size": "1280*1280", "watermark": False},
    },
    "gemini-image": {
        "kind": "image",
        "endpoints": ["gemini.generate"],
        "vendor": "Google",
        "capabilities": {"edit": True, "mask": False, "max_n": 1, "seed": True, "sizes": GEMINI_RATIOS,
                         "ratios": GEMINI_RATIOS, "image_sizes": [], "max_edit_images": 3},
        "defaults": {},
    },
    # video ----------------------------------------------------------------------------------------
    "seedance": {
        "kind": "video",
        "endpoints": ["video.generations", "videos"],
        "vendor": "ByteDance",
        "capabilities": {"ratios": SEEDANCE_RATIOS, "resolutions": SEEDANCE_RESOLUTIONS, "seed": True,
                         "durations": [-1, *range(4, 16)], "first_frame": True, "last_frame": True,
                         "reference_images": 0, "video_input": False, "generate_audio": True,
                         "media_urls_only": True},  # §5.1: URLs or data URLs for images, videos/audio by URL
        "defaults": {"duration": 5, "resolution": "720p", "watermark": False, "generate_audio": True},
    },
    "hailuo": {
        "kind": "video",
        "endpoints": ["video.generations", "videos"],
        "vendor": "MiniMax",
        "capabilities": {"durations": [6, 10], "resolutions": ["768P", "1080P"], "ratios": [],
                         "resolution_max_duration": {"1080P": 6}, "first_frame": True, "last_frame": False,
                         "reference_images": 0, "seed": False, "prompt_optimizer": True},
        "defaults": {"duration": 6, "resolution": "768P", "prompt_optimizer": True},
    },
    "happyhorse": {
        "kind": "video",
        "endpoints": ["video.generations", "videos"],
        "vendor": "Alibaba",
        "capabilities": {"durations": list(range(3, 16)), "resolutions": ["720P", "1080P"],
                         "ratios": HAPPYHORSE_RATIOS, "seed": True, "max_seed": 2_147_483_647,
                         "first_frame": False, "last_frame": False, "audio_settings": [],
                         "reference_images": 0, "video_input": False, "mode": "t2v"},
        "defaults": {"duration": 5, "resolution": "720P", "watermark": False},
    },
    "wan-video": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "Alibaba",
        "capabilities": {"durations": list(range(2, 31)), "resolutions": ["480P", "720P", "1080P"],
                         "ratios": WAN_VIDEO_RATIOS, "first_frame_ratio": "adaptive", "seed": True,
                         "first_frame": True, "last_frame": True, "reference_images": 9},
        "defaults": {"duration": 5, "resolution": "720P", "watermark": False, "prompt_extend": True},
    },
    "kling": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "Kuaishou",
        "capabilities": {"durations": list(range(3, 16)), "resolutions": ["720P", "1080P", "4K"],
                         "ratios": ["16:9", "9:16", "1:1"], "first_frame": True, "last_frame": True,
                         "reference_images": 0, "public_urls_only": True, "seed": False},
        "defaults": {"duration": 5, "resolution": "720P"},
    },
    "veo": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "Google",
        "capabilities": {"durations": [4, 6, 8], "resolutions": ["720p", "1080p", "4k"],
                         "ratios": ["16:9", "9:16", "Auto"], "first_frame": True, "last_frame": True,
                         "reference_images": 3, "reference_durations": [8], "public_urls_only": True,
                         "seed": False},
        "defaults": {"duration": 8, "resolution": "720p"},
    },
    "grok-video": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "xAI",
        "capabilities": {"durations": list(range(1, 16)), "resolutions": ["480p", "720p"],
                         "ratios": GROK_VIDEO_RATIOS, "first_frame": True, "last_frame": False,
                         "reference_images": 0, "requires_image": True, "public_urls_only": True, "seed": False},
        "defaults": {"duration": 6, "resolution": "720p"},
    },
    "gemini-omni-video": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "Google",
        "capabilities": {"durations": [4, 6, 8, 10], "resolutions": ["720p", "1080p", "4k"],
                         "ratios": ["16:9", "9:16"], "first_frame": False, "last_frame": False,
                         "reference_images": 7, "public_urls_only": True, "seed": False},
        "defaults": {"duration": 8, "resolution": "720p"},
    },
    # A video model only the service's price table lists, whose id matches no family above: new-api's generic
    # task body (§4.2: prompt, duration, size, image(s); vendor options in `metadata`). Options stay permissive.
    "video-generic": {
        "kind": "video",
        "endpoints": ["video.generations"],
        "vendor": "",
        "capabilities": {"resolutions": ["480p", "720p", "1080p", "4k"], "ratios": SEEDANCE_RATIOS, "seed": True,
                         "first_frame": True, "last_frame": True, "reference_images": 9},
        "defaults": {"duration": 5},
    },
    # audio ----------------------------------------------------------------------------------------
    "gemini-tts": {
        "kind": "audio",
        "endpoints": ["gemini.generate", "audio.speech"],
        "vendor": "Google",
        "capabilities": {"voices": GEMINI_VOICES, "formats": ["wav"], "multi_speaker": True},
        "defaults": {"voice": "Kore"},
    },
    "openai-tts": {
        "kind": "audio",
        "endpoints": ["audio.speech"],
        "vendor": "OpenAI-compatible",
        "capabilities": {"voices": OPENAI_TTS_VOICES, "formats": ["wav", "mp3", "opus", "aac", "flac", "pcm"]},
        "defaults": {"voice": "alloy", "format": "wav"},
    },
    "whisper": {
        "kind": "audio",
        "endpoints": ["audio.transcriptions", "audio.translations"],
        "vendor": "OpenAI",
        # the two Whisper menu pages: transcription into Chinese, and translation (always to English)
        "name_options": {"音频转中文": {"language": "zh"}, "音频翻译": {"task": "translate"}},
        "capabilities": {
            "transcribe": True,
            "translate": True,
            "formats": ["json", "text", "srt", "verbose_json", "vtt"],
            "languages": WHISPER_LANGUAGES,
            "input_formats": ["flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"],
        },
        "defaults": {"format": "json"},
    },
    # embeddings -----------------------------------------------------------------------------------
    # OpenAI's /v1/embeddings format, which new-api relays for every upstream (Jina included, §10.7).
    "openai-embeddings": {
        "kind": "embed",
        "endpoints": ["embeddings"],
        "vendor": "OpenAI-compatible",
        "capabilities": {"dimensions": True, "encoding_formats": ["float", "base64"]},
        "defaults": {},
    },
    # rerank ---------------------------------------------------------------------------------------
    # The Jina/Cohere rerank format on /v1/rerank, which new-api relays (its endpoint type ``jina-rerank``, §10.7):
    # a query and documents in, a relevance score per document out, billed per input token like embeddings.
    "jina-rerank": {
        "kind": "rerank",
        "endpoints": ["rerank"],
        "vendor": "Jina-compatible",
        "capabilities": {"top_n": True, "return_documents": True},
        "defaults": {},
    },
}

# --- models ----------------------------------------------------------------------------------------


def _seedream(mid: str, version: str, **extra: Any) -> dict[str, Any]:
    short = version.replace(".", "-")
    return {
        "id": mid,
        "family": "seedream",
        "display_names": [mid, f"{mid}(图片编辑)", f"Seedream {version}"],
        "aliases": [f"seedream-{version}", f"seedream-{short}"],
        "capabilities": {"sizes": SEEDREAM_PRESETS + SEEDREAM_PIXEL_SIZES},
        "notes": "Sizes: 2K, 4K or any WxH of 0.92-4.62 megapixels (the 1K and 3K some relays list are outside "
        "that; 1024x1024 asks for 1K's pixels). Edit = the same generation call with `image` data URLs. n>1 uses "
        "sequential_image_generation (the model may return fewer images).",
        **extra,
    }


def _seedance(mid: str, aliases: list[str], **caps: Any) -> dict[str, Any]:
    return {
        "id": mid,
        "family": "seedance",
        "display_names": [mid],
        "aliases": aliases,
        "capabilities": caps,
        "notes": "Ark's native body at the top level: content[] (text first, then image/video/audio items "
        f"with roles) + ratio/duration/resolution/watermark/generate_audio/seed. Poll: '{mid}(获取视频任务信息)'.",
    }


_SEEDANCE_2 = {
    "reference_images": 9,
    "video_input": True,
    "max_videos": 3,
    "audio_input": True,
    "max_audios": 3,
}
_SEEDANCE_FAST = {**_SEEDANCE_2, "resolutions": ["480p", "720p"]}  # fast and mini: 480p / 720p only


def _happyhorse(version: str, mode: str, **caps: Any) -> dict[str, Any]:
    mid = f"happyhorse-{version}-{mode}"
    return {
        "id": mid,
        "family": "happyhorse",
        "display_names": [mid],
        "aliases": [f"happyhorse-{mode}"] if version == "1.0" else [],
        "capabilities": {"mode": mode, **caps},
    }


MODELS: list[dict[str, Any]] = [
    # ------------------------------------------------------------------------------------ image
    _seedream("doubao-seedream-4-0-250828", "4.0"),
    _seedream("doubao-seedream-4-5-251128", "4.5", defaults={"default_for_kind": True}),
    _seedream("doubao-seedream-5-0-260128", "5.0"),
    {
        "id": "gpt-image-2",
        "family": "openai-image",
        "display_names": ["GPT Image-2", "GPT Image-2(图片编辑)"],
        "aliases": ["gpt-image"],
        "capabilities": {"quality": ["low", "medium", "high", "auto"], "size_free": True, "styles": [],
                         "backgrounds": ["opaque", "auto"], "output_formats": ["png", "jpeg", "webp"]},
        "notes": "Tokenhot returns `url` (OpenAI itself returns b64_json); both are read. Edits: multipart "
        "/v1/images/edits with image[] parts and an optional mask.",
    },
    {
        "id": "gpt-image-1.5",
        "family": "openai-image",
        "display_names": ["GPT Image-1.5", "GPT Image-1.5(图片编辑)"],
        "capabilities": {"quality": ["low", "medium", "high", "auto"], "styles": [],
                         "backgrounds": ["transparent", "opaque", "auto"],
                         "output_formats": ["png", "jpeg", "webp"]},
    },
    {
        "id": "dall-e-2",
        "family": "openai-image",
        "display_names": ["dall-e-2", "DALL·E 2"],
        "aliases": ["dalle-2"],
        "capabilities": {"sizes": ["256x256", "512x512", "1024x1024"], "max_edit_images": 1,
                         "response_formats": ["url", "b64_json"], "max_prompt_chars": 1000,
                         "styles": [], "backgrounds": [], "output_formats": []},
        "notes": "Edits take one square PNG (< 4 MB) and an optional mask.",
    },
    {
        "id": "dall-e-3",
        "family": "openai-image",
        "display_names": ["dall-e-3", "DALL·E 3"],
        "aliases": ["dalle-3"],
        "capabilities": {"edit": False, "mask": False, "max_n": 1, "sizes": ["1024x1024", "1792x1024", "1024x1792"],
                         "quality": ["standard", "hd"], "styles": ["vivid", "natural"],
                         "response_formats": ["url", "b64_json"], "max_prompt_chars": 4000,
                         "backgrounds": [], "output_formats": []},
    },
    {
        "id": "gemini-2.5-flash-image",
        "family": "gemini-image",
        "display_names": ["gemini-2.5-flash-image", "gemini-2.5-flash-image(图片编辑)"],
        "aliases": ["nano-banana"],
    },
    {
        "id": "gemini-3-pro-image-preview",
        "family": "gemini-image",
        "display_names": ["gemini-3-pro-image-preview", "gemini-3-pro-image-preview(图片编辑)"],
        "aliases": ["gemini-3-pro-image"],
        "capabilities": {"image_sizes": ["1K", "2K", "4K"], "max_edit_images": 14},
    },
    {
        "id": "nano-banana-pro",
        "family": "gemini-image",
        "display_names": ["nano-banana-pro", "Nano Banana Pro"],
        "capabilities": {"image_sizes": ["1K", "2K", "4K"], "max_edit_images": 14},
        "notes": "Gemini-native image protocol (the price table's id); answers with the image URL in the text part.",
    },
    {
        "id": "gemini-3.1-flash-image-preview",
        "family": "gemini-image",
        "display_names": ["gemini-3.1-flash-image-preview", "gemini-3.1-flash-image-preview(图片编辑)"],
        "aliases": ["nano-banana-2", "gemini-3.1-flash-image"],
        "capabilities": {"image_sizes": ["1K", "2K", "4K"], "max_edit_images": 14},
    },
    {
        "id": "qwen-image-max",
        "family": "qwen-image",
        "display_names": ["qwen-image-max"],
    },
    {
        "id": "qwen-image-plus-2026-01-09",
        "family": "qwen-image",
        "display_names": ["qwen-image-plus-2026-01-09"],
        "aliases": ["qwen-image-plus"],
    },
    {
        "id": "qwen-image-edit-max-2026-01-16",
        "family": "qwen-image",
        "display_names": ["qwen-image-edit-max-2026-01-16"],
        "aliases": ["qwen-image-edit-max", "qwen-image-edit"],
        "capabilities": {"edit": True, "edit_only": True, "max_n": 6, "max_edit_images": 3, "size_free": True,
                         "sizes": []},
        "defaults": {"size": None},
        "notes": "Edit-only: DashScope `input.messages` with {image} items + `parameters`.",
    },
    {
        "id": "wan2.6-image",
        "family": "wan-image",
        "display_names": ["wan2.6-image", "wan2.6-image(图片编辑)"],
        "aliases": ["wan-image", "wan2.6"],
        "capabilities": {"edit": True, "max_edit_images": 3, "interleave_for_generate": True,
                         "max_images": 5},
        "defaults": {"size": "1024*1024"},
        "notes": "Text-to-image runs in interleave mode (enable_interleave=true, max_images); edit mode sends "
        "{image} items with enable_interleave=false and n. stream is always false.",
    },
    {
        "id": "wan2.6-t2i",
        "family": "wan-image",
        "display_names": ["wan2.6-t2i"],
        "aliases": ["wan-t2i"],
    },
    # ------------------------------------------------------------------------------------ video
    _seedance("doubao-seedance-1-5-pro-251215", ["seedance-1.5-pro", "seedance-1.5"],
              durations=[-1, *range(2, 13)], draft=True),
    _seedance("doubao-seedance-2.0", ["seedance-2.0", "doubao-seedance-2-0", "doubao-seedance-2-0-260128"],
              **_SEEDANCE_2),
    {
        **_seedance("doubao-seedance-2.0-fast", ["seedance-2.0-fast", "seedance-fast", "doubao-seedance-2-0-fast"],
                    **_SEEDANCE_FAST),
        "defaults": {"default_for_kind": True},
    },
    _seedance("doubao-seedance-2.0-V2V", ["seedance-2.0-v2v", "doubao-seedance-2-0-v2v"], **_SEEDANCE_2,
              requires_video=True),
    _seedance("doubao-seedance-2.0-fast-V2V", ["seedance-2.0-fast-v2v", "doubao-seedance-2-0-fast-v2v"],
              **_SEEDANCE_FAST, requires_video=True),
    _seedance("doubao-seedance-2-0-mini", ["seedance-2.0-mini", "doubao-seedance-2.0-mini"], **_SEEDANCE_FAST),
    _seedance("doubao-seedance-2-5", ["seedance-2.5", "doubao-seedance-2.5"],
              **{**_SEEDANCE_2, "reference_images": 30}, durations=[-1, *range(4, 31)], first_frame_ratio="adaptive"),
    {
        "id": "MiniMax-Hailuo-02",
        "family": "hailuo",
        "display_names": ["MiniMax-Hailuo-02"],
        "aliases": ["hailuo-02"],
        "capabilities": {"resolutions": ["512P", "768P", "1080P"], "last_frame": True},
        "notes": "1080P only with 6 s. Poll page: 'Hailuo获取视频信息'.",
    },
    {
        "id": "MiniMax-Hailuo-2.3",
        "family": "hailuo",
        "display_names": ["MiniMax-Hailuo-2.3"],
        "aliases": ["hailuo-2.3", "hailuo"],
        "notes": "1080P only with 6 s; camera commands like [Pan left] go in the prompt.",
    },
    {
        "id": "MiniMax-Hailuo-2.3-Fast",
        "family": "hailuo",
        "display_names": ["MiniMax-Hailuo-2.3-Fast"],
        "aliases": ["hailuo-2.3-fast", "hailuo-fast"],
        "notes": "May be image-to-video only (one relay lists it only with a first frame).",
    },
    _happyhorse("1.0", "t2v"),
    _happyhorse("1.0", "i2v", first_frame=True, requires_image=True, ratios=[]),
    _happyhorse("1.0", "r2v", reference_images=9, requires_image=True),
    {
        "id": "happyhorse-1.0-video-edit",
        "family": "happyhorse",
        "display_names": ["happyhorse-1.0-video-edit"],
        "aliases": ["happyhorse-video-edit", "happyhorse-edit"],
        "capabilities": {"mode": "video-edit", "reference_images": 5, "video_input": True, "requires_video": True,
                         "durations": [], "ratios": [], "audio_settings": ["auto", "origin"]},
        "defaults": {"duration": None},
        "notes": "One input video (MP4/MOV, 3–60 s; output ≤ 15 s) plus 0–5 reference images; no duration/ratio.",
    },
    _happyhorse("1.1", "t2v"),
    _happyhorse("1.1", "i2v", first_frame=True, requires_image=True, ratios=[]),
    {"id": "kling-v3", "family": "kling", "display_names": ["kling-v3", "Kling v3"], "aliases": ["kling"],
     "notes": "Public image URLs only; the prompt names the first frame <<<image_1>>>."},
    {"id": "veo3.1", "family": "veo", "display_names": ["veo3.1", "Veo 3.1"], "aliases": ["veo-3.1", "veo"],
     "notes": "Reference mode takes 1–3 images and makes 8 s only; public image URLs only."},
    {"id": "wan3.0-video", "family": "wan-video", "display_names": ["wan3.0-video", "Wan 3.0"],
     "aliases": ["wan-video", "wan3.0"], "notes": "With a first frame the ratio is 'adaptive'."},
    {"id": "grok-imagine-video-1-5-preview", "family": "grok-video",
     "display_names": ["grok-imagine-video-1-5-preview", "Grok Imagine video"],
     "aliases": ["grok-imagine-video", "grok-video"], "notes": "Image to video only: one public image URL."},
    {"id": "gemini-omni-video", "family": "gemini-omni-video",
     "display_names": ["gemini-omni-video", "Gemini Omni video"], "aliases": ["omni-video"],
     "notes": "Up to 7 public reference image URLs; the duration is sent as a string."},
    # ------------------------------------------------------------------------------------ audio
    {
        "id": "gemini-2.5-flash-preview-tts",
        "family": "gemini-tts",
        "display_names": ["gemini-2.5-flash-preview-tts"],
        "aliases": ["gemini-tts", "gemini-flash-tts"],
        "defaults": {"default_for_kind": True},
        "notes": "Returns 24 kHz 16-bit mono PCM, wrapped into WAV. Style goes in the prompt text.",
    },
    {
        "id": "gemini-2.5-pro-preview-tts",
        "family": "gemini-tts",
        "display_names": ["gemini-2.5-pro-preview-tts"],
        "aliases": ["gemini-pro-tts"],
    },
    {
        "id": "whisper-1",
        "family": "whisper",
        "display_names": ["whisper-1", "whisper-1(音频转中文)", "whisper-1(音频翻译)"],
        "aliases": ["whisper"],
        "notes": "'音频转中文' = transcription (language=zh); '音频翻译' = translation, always to English.",
    },
    # ------------------------------------------------------------------------------------ embeddings
    {
        "id": "jina-embeddings-v4",
        "family": "openai-embeddings",
        "vendor": "Jina",
        "display_names": ["jina-embeddings-v4", "Jina Embeddings v4"],
        "aliases": ["jina-embeddings", "jina-v4"],
        "capabilities": {"max_dimensions": 2048},
        "defaults": {"default_for_kind": True},
        "notes": "2048-dimensional vectors; dimensions=N (1-2048) asks for shorter ones (Matryoshka truncation).",
    },
    # ------------------------------------------------------------------------------------ rerank
    {
        "id": "jina-reranker-m0",
        "family": "jina-rerank",
        "vendor": "Jina",
        "display_names": ["jina-reranker-m0", "Jina Reranker m0"],
        "aliases": ["jina-reranker", "jina-rerank"],
        "defaults": {"default_for_kind": True},
        "notes": "Multilingual reranker: scores each document against the query (s.rerank(query, documents)).",
    },
    # ------------------------------------------------------------------------------------ chat
    {
        "id": "claude-opus-4-6",
        "family": "claude",
        "display_names": ["claude-opus-4-6", "Claude Opus 4.6"],
        "aliases": ["claude-opus", "claude-opus-4.6", "opus"],
    },
    {
        "id": "claude-opus-4-6-cc",
        "family": "claude",
        "endpoints": ["messages", "chat.completions"],
        "display_names": ["claude-opus-4-6-cc"],
        "aliases": ["claude-opus-cc"],
        "notes": "Claude Code channel; some relays accept it only on /v1/messages, so that is the default.",
    },
    {
        "id": "claude-sonnet-4-5-20250929",
        "family": "claude",
        "display_names": ["claude-sonnet-4-5-20250929", "Claude Sonnet 4.5"],
        "aliases": ["claude-sonnet", "claude-sonnet-4.5", "claude-sonnet-4-5", "sonnet"],
    },
    {
        "id": "gpt-5",
        "family": "openai-responses",
        "display_names": ["GPT 5", "GPT 5(Responses)"],
    },
    {
        "id": "gpt-5.2",
        "family": "openai-responses",
        "capabilities": {"reasoning_efforts": GPT5_EFFORTS_LATER},
        "display_names": ["GPT 5.2", "GPT 5.2(Responses)"],
        "defaults": {"default_for_kind": True},
    },
    {
        "id": "gpt-5.4",
        "family": "openai-responses",
        "capabilities": {"reasoning_efforts": GPT5_EFFORTS_LATER},
        "display_names": ["GPT 5.4", "GPT 5.4(Responses)"],
    },
    {
        "id": "gpt-5.4-mini",
        "family": "openai-responses",
        "capabilities": {"reasoning_efforts": GPT5_EFFORTS_LATER},
        "display_names": ["GPT 5.4 mini"],
        "notes": "The quick-start example model (not in the docs menu).",
    },
    {
        "id": "gemini-2.5-flash",
        "family": "gemini",
        "display_names": ["gemini-2.5-flash"],
    },
    {
        "id": "gemini-2.5-pro",
        "family": "gemini",
        "display_names": ["gemini-2.5-pro"],
    },
    {
        "id": "gemini-3-flash-preview",
        "family": "gemini",
        "display_names": ["gemini-3-flash-preview"],
        "aliases": ["gemini-3-flash"],
    },
    {
        "id": "gemini-3.1-pro",
        "family": "gemini",
        "display_names": ["gemini-3.1-pro"],
    },
    {
        "id": "gemini-3.1-pro-preview",
        "family": "gemini",
        "display_names": ["gemini-3.1-pro-preview", "gemini-3.1-pro-preview(流式)"],
        "notes": "Documented on Tokenhot as :streamGenerateContent?alt=sse.",
    },
    {
        "id": "grok-4.1",
        "family": "grok",
        "display_names": ["grok-4.1", "Grok 4.1"],
        "aliases": ["grok"],
    },
]

# --- the live table: how a model only the service's price table lists finds its family ----------------
# Read by tokenhot_nb._catalog_classify. Family names that do not exist (yet) are skipped at run time, so a
# hint may name a family before its builder lands.

#: Words of ``input_modalities`` / ``output_modalities`` (Chinese on Tokenhot) → what they mean.
LIVE_MODALITIES: dict[str, str] = {
    "文本": "text", "text": "text",
    "图像": "image", "图片": "image", "image": "image",
    "视频": "video", "video": "video",
    "音频": "audio", "语音": "audio", "audio": "audio",
}  # fmt: skip

#: ``supported_endpoint_types`` → the kind it implies on its own (None: no Session method takes it).
LIVE_ENDPOINT_KINDS: dict[str, str | None] = {
    "openai-video": "video",
    "image-generation": "image",
    "embeddings": "embed",
    "embedding": "embed",
    "jina-rerank": "rerank",
    "rerank": "rerank",
}

#: ``supported_endpoint_types`` → family per kind, in the order they are tried (the relay's OpenAI form first:
#: it converts for every upstream).
LIVE_ENDPOINT_FAMILIES: dict[str, dict[str, str]] = {
    "openai": {"chat": "openai-chat", "image": "openai-image", "audio": "openai-tts"},
    "openai-response": {"chat": "openai-responses"},
    "anthropic": {"chat": "claude"},
    "gemini": {"chat": "gemini", "image": "gemini-image", "audio": "gemini-tts"},
    "image-generation": {"image": "openai-image"},
    "openai-video": {"video": "video-generic"},
    "embeddings": {"embed": "openai-embeddings"},
    "embedding": {"embed": "openai-embeddings"},
    "jina-rerank": {"rerank": "jina-rerank"},
    "rerank": {"rerank": "jina-rerank"},
}

#: Id prefixes (folded: lower case, '_' → '-') → candidate families. The longest matching prefix wins, and
#: its first family that exists and has the row's kind is taken. A new model of a known vendor is matched here.
LIVE_ID_HINTS: dict[str, list[str]] = {
    "doubao-seedance": ["seedance"], "seedance": ["seedance"],
    "doubao-seedream": ["seedream"], "seedream": ["seedream"],
    "minimax-hailuo": ["hailuo"], "hailuo": ["hailuo"],
    "happyhorse": ["happyhorse"],
    "kling": ["kling"],
    "veo": ["veo"],
    "wan": ["wan-video", "wan-image"],
    "grok-imagine": ["grok-video"], "grok": ["grok"],
    "gemini-omni-video": ["gemini-omni-video"],
    "nano-banana": ["gemini-image"],
    "gemini": ["gemini", "gemini-image", "gemini-tts"],
    "gpt-image": ["openai-image"], "dall-e": ["openai-image"],
    "qwen-image": ["qwen-image"],
    "claude": ["claude"],
    "gpt-5": ["openai-responses"], "o3": ["openai-responses"], "o4": ["openai-responses"],
    "gpt": ["openai-chat"],
    "whisper": ["whisper"],
    "jina-embeddings": ["openai-embeddings"], "text-embedding": ["openai-embeddings"],
    "jina-reranker": ["jina-rerank"], "bge-reranker": ["jina-rerank"],
}  # fmt: skip

#: Words in an id that give its kind when the table says nothing else.
LIVE_ID_KIND_WORDS: dict[str, str] = {
    "video": "video", "t2v": "video", "i2v": "video", "r2v": "video",
    "image": "image", "seedream": "image",
    "tts": "audio", "speech": "audio", "whisper": "audio", "transcribe": "audio",
    "embedding": "embed", "rerank": "rerank",
}  # fmt: skip

# --- the live table: what a model only the service's table lists can do -------------------------------------
# A live-only id that varies a model of its family (``doubao-seedance-2-0-filter-off``, ``deepseek-…-free``, a
# dated snapshot, ``-preview``, ``-fast``) takes that model's options: the model is the one an explicit row below
# names, else the longest id/alias of the family (``.`` ≡ ``-``) the id starts with, followed by a ``-``. Then each
# word of the id beyond that model's own (split at ``-``/``.``/``_``) may change it through LIVE_ID_WORDS.

#: Folded id prefix (lower case, ``.``/``_`` → ``-``) → the built-in id it varies, for ids the prefix rule misses.
LIVE_VARIANT_OF: dict[str, str] = {}

#: An id word → per scope (a family name, which wins, or a kind) either the built-in id whose options the model
#: takes (a string), or an overlay of ``capabilities`` / ``defaults``. A new model of a known protocol is a row here.
#: An overlay only adds (``catalog._add_implied``): its counts are floors and its flags are set, never cleared, so a
#: word never lowers what the model it varies allowed; a list (``fast``'s resolutions) is what the model takes, an
#: empty one that nothing is known of it (every value passes, as the service decides).
LIVE_ID_WORDS: dict[str, dict[str, str | dict[str, dict[str, Any]]]] = {
    "edit": {"image": {"capabilities": {"edit": True}},
             "qwen-image": "qwen-image-edit-max-2026-01-16",  # DashScope's edit models take only edits
             "happyhorse": "happyhorse-1.0-video-edit"},
    "i2v": {"video": {"capabilities": {"first_frame": True, "requires_image": True}},
            "happyhorse": "happyhorse-1.0-i2v"},
    "r2v": {"video": {"capabilities": {"reference_images": 9, "requires_image": True}},
            "happyhorse": "happyhorse-1.0-r2v"},
    "t2v": {"happyhorse": "happyhorse-1.0-t2v"},
    "v2v": {"video": {"capabilities": {"video_input": True, "requires_video": True}}},
    # Seedance's fast and mini models make 480p and 720p only (§10.2)
    "fast": {"seedance": {"capabilities": {"resolutions": ["480p", "720p"]}}},
    "mini": {"seedance": {"capabilities": {"resolutions": ["480p", "720p"]}}},
    # Xiaomi's MiMo TTS speaks on OpenAI's route (§10.1) with voices of its own the reference does not list: OpenAI's
    # eleven are not its list, so any voice goes as given
    "mimo": {"openai-tts": {"capabilities": {"voices": []}}},
}  # fmt: skip
