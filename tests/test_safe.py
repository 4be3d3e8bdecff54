"""The one safe renderer: hostile network text comes out inert, ordinary Markdown still renders."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from tokenhot_nb._safe import clean_html, markdown_html, safe_url, text_html

HOSTILE = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="fetch(\'/api/terminals\',{method:\'POST\'})">',
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "<svg onload=alert(1)><circle r=10></svg>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>*{display:none}</style><p style='position:fixed;inset:0'>covered</p>",
    "<form action=https://evil.example><input name=k><button>go</button></form>",
    "<object data=data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==></object>",
    "<embed src=javascript:alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<body onload=alert(1)>",
    "<a href='javascript:alert(1)'>click</a>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[ref][x]\n\n[x]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "![img](javascript:alert(1))",
    "![img](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    '![x](https://ok.example/a.png "t" onerror="alert(1)")',
    '```python" onmouseover="alert(1)\nx = 1\n```',
    "<div><!-- <script>alert(1)</script> --></div>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<img src=x onerror=alert(1)>>",
    "<meta http-equiv=refresh content='0;url=javascript:alert(1)'>",
    "<base href=javascript:alert(1)//>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<video><source onerror=alert(1)></video>",
    "<a href=\"https://ok.example\" onclick=\"alert(1)\">ok</a>",
    "$x$ <img src=x onerror=alert(1)> $$<script>alert(1)</script>$$",
    "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | <script>alert(1)</script> |",
    "\x00<script>alert(1)</script>\x1b[31m",
]

#: Elements that can run code, load a document or change the page around the output.
ACTIVE_TAGS = {"script", "style", "iframe", "frame", "object", "embed", "form", "input", "button", "svg", "math",
               "meta", "base", "link", "template", "video", "audio", "source", "body", "html", "textarea",
               "select", "frameset", "applet", "noscript"}


class _Tags(HTMLParser):
    """An independent reading of the output: every element and attribute a browser would see."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))

    handle_startendtag = handle_starttag


def elements(fragment: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    p = _Tags()
    p.feed(fragment)
    p.close()
    return p.found


def assert_inert(fragment: str, *, our_styles: bool = False) -> None:
    """No active element, handler or unsafe URL; ``style`` only for table alignment (or, with
    ``our_styles``, the renderer's own constant styles around the network text)."""
    for tag, attrs in elements(fragment):
        assert tag not in ACTIVE_TAGS, (tag, fragment)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, fragment)
            assert name not in ("srcdoc", "formaction", "action", "xlink:href", "http-equiv"), (name, fragment)
            if name == "style" and not our_styles:
                assert tag in ("td", "th") and re.fullmatch(r"text-align:\s*(left|right|center)", value or ""), value
            if name in ("href", "src"):
                v = re.sub(r"\s", "", value or "").lower()
                assert v.startswith(("http://", "https://", "mailto:", "data:image/png", "data:image/jpeg",
                                     "data:image/gif", "data:image/webp")) or ":" not in v.split("/")[0], v


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_comes_out_inert(text: str) -> None:
    out = markdown_html(text)
    assert_inert(out)
    assert "<script" not in out.lower()  # shown as text (&lt;script…), never as an element
    assert "\x00" not in out and "\x1b" not in out


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_html_cleaned(text: str) -> None:
    assert_inert(clean_html(text))
    assert_inert(text_html(text)) and elements(text_html(text)) == []


def test_hostile_text_is_shown_not_dropped() -> None:
    """Raw HTML is visible as text (the reader sees what the model sent), not silently removed."""
    out = markdown_html("Try <script>alert(1)</script> here")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_ordinary_markdown_still_renders() -> None:
    md = ("# Title\n\nSome **bold**, *italic*, ~~gone~~ and `x < y`.\n\n"
          "- one\n- two\n\n1. first\n\n> quoted\n\n"
          "```python\nprint('<b>')\n```\n\n"
          "| name | n |\n|:-----|--:|\n| a | 1 |\n\n"
          "[docs](https://example.com/docs) and <https://example.com/auto> and mailto [me](mailto:a@b.c)\n\n"
          "![chart](https://example.com/c.png) ![inline](data:image/png;base64,iVBORw0KGgo=)\n\n"
          "Math $e^{i\\pi}+1=0$ stays for MathJax; prices $5 and $10 stay text.")
    out = markdown_html(md)
    tags = [t for t, _ in elements(out)]
    for tag in ("h1", "strong", "em", "s", "code", "ul", "ol", "li", "blockquote", "pre", "table", "th", "td",
                "a", "img"):
        assert tag in tags, (tag, out)
    assert '<code class="language-python">' in out and "print(&#x27;&lt;b&gt;&#x27;)" in out.replace("'", "&#x27;")
    assert 'href="https://example.com/docs"' in out and 'href="https://example.com/auto"' in out
    assert 'href="mailto:a@b.c"' in out
    assert 'href="https://example.com/c.png"' in out and 'src="data:image/png;base64,iVBORw0KGgo="' in out
    assert 'style="text-align:right"' in out
    assert "$e^{i\\pi}+1=0$" in out and "$5 and $10" in out
    assert_inert(out)


@pytest.mark.parametrize("src", ["https://evil.example/p.png?q=the+conversation", "http://10.0.0.1/x.png",
                                 "//evil.example/x.png", "relative/x.png", "HTTPS://EVIL.EXAMPLE/X.PNG"])
def test_an_image_at_an_address_is_a_link_not_a_fetch(src: str) -> None:
    """A browser fetches an ``<img>`` as soon as the output renders: a prompt-injected answer could carry the
    conversation away in the address. It becomes a link to click; an image the text carries still shows."""
    out = markdown_html(f"Here: ![the *chart* <b>]({src}) and ![dot](data:image/png;base64,iVBORw0KGgo=)")
    srcs = [dict(a).get("src") for t, a in elements(out) if t == "img"]
    assert srcs == ["data:image/png;base64,iVBORw0KGgo="], out
    links = [dict(a).get("href") for t, a in elements(out) if t == "a"]
    assert links == [src], out
    assert "🖼 the chart &lt;b&gt;" in out
    assert_inert(out)


@pytest.mark.parametrize("url,link,image", [
    ("https://a.b/c", True, True), ("http://a.b", True, True), ("relative/x.png", True, True),
    ("mailto:a@b.c", True, False), ("data:image/png;base64,AAAA", False, True),
    ("data:image/svg+xml;base64,AAAA", False, False), ("data:text/html,<script>", False, False),
    ("javascript:alert(1)", False, False), (" JAVASCRIPT:alert(1)", False, False),
    ("java\nscript:alert(1)", False, False), ("&#106;avascript:alert(1)", False, False),
    ("vbscript:x", False, False), ("file:///etc/passwd", False, False), ("\x01javascript:x", False, False),
])
def test_safe_url(url: str, link: bool, image: bool) -> None:
    assert safe_url(url) is link and safe_url(url, image=True) is image


def test_every_renderer_of_network_text_is_safe(tmp_path: Any) -> None:
    """ChatResult, TranscriptResult, ImageResult's revised prompt and error boxes: no handler survives."""
    from tokenhot_nb.families._types import Segment
    from tokenhot_nb.magics._errors import ErrorView
    from tokenhot_nb.magics._stream import StreamView
    from tokenhot_nb.results._base import error_html
    from tokenhot_nb.results.text import ChatResult, TranscriptResult

    evil = "<img src=x onerror=alert(1)><script>alert(2)</script>[x](javascript:alert(3))"
    outputs = [
        ChatResult(evil, reasoning=evil, model=evil, thread=evil, finish_reason=evil)._repr_mimebundle_()[0],
        TranscriptResult(evil, segments=[Segment(0, 1, evil)], model=evil)._repr_mimebundle_()[0],
        {"text/html": error_html(RuntimeError(evil))},
        ErrorView(RuntimeError(evil), extra=evil)._repr_mimebundle_()[0],
    ]
    view = StreamView(model=evil, live=False)
    view.text, view.reasoning = evil, evil
    outputs.append(view.bundle(streaming=True))
    for data in outputs:
        assert "text/markdown" not in data
        assert_inert(data["text/html"], our_styles=True)
        assert "alert" not in "".join(v or "" for _, attrs in elements(data["text/html"]) for _, v in attrs)
        assert "<script" not in data["text/html"]


HOSTILE_ANSWER = ("# Answer\n\n<img src=x onerror=alert('xss')> <script>alert('xss')</script> "
                  "[click](javascript:alert('xss')) <iframe src=javascript:alert(1)></iframe>\n\n"
                  "| ok | table |\n|---|---|\n| 1 | 2 |")


@pytest.mark.parametrize("model", ["gpt-5.2", "claude-opus-4-6", "gemini-2.5-flash"])
@pytest.mark.parametrize("stream", [True, False])
def test_hostile_answer_over_loopback_renders_inert(sim_server: Any, tmp_path: Any, model: str,
                                                    stream: bool) -> None:
    """The simulator's ``answer`` fault sends hostile Markdown over real HTTP; what the session shows is inert
    and the text itself is kept unchanged (it is data: stored and searchable as sent)."""
    from tokenhot_nb import Session
    from tokenhot_nb.sim import Faults

    sim_server.set_faults(Faults(answer=HOSTILE_ANSWER))
    s = Session(api_key="sk-loopback-test-1234", base_url=sim_server.url, mode="live", store=tmp_path / "st")
    try:
        res = s.chat("hello", model=model, stream=stream)
    finally:
        s.close()
    assert res.text == HOSTILE_ANSWER
    html = res._repr_mimebundle_()[0]["text/html"]
    assert_inert(html, our_styles=True)
    assert "<h1>Answer</h1>" in html and "<table>" in html and "&lt;script&gt;" in html
    assert res.entry is not None and res.entry.status == "ok"


@pytest.mark.parametrize("shape", [
    lambda k: k.replace("-", "\\-").replace("_", "\\_"),  # Markdown backslash escapes
    lambda k: "".join(f"&#{ord(c)};" for c in k),  # decimal character references
    lambda k: f"&#x{ord(k[0]):x};" + k[1:],  # one hexadecimal reference is enough to hide the key
    lambda k: k.replace("-", "&#45;").replace("_", "&lowbar;"),
])
@pytest.mark.parametrize("key", ["sk-HOSTILE-loopback-KEY-0123456789", "tkn_PLAINKEY_no_prefix_98765abcdef"])
def test_markdown_never_renders_a_key_that_its_source_only_spelled(key: str, shape: Any) -> None:
    """Redaction reads the answer's source, where ``sk\\-…`` or ``&#115;k-…`` is no key; Markdown then turns it
    into the key itself. What the renderer gives (a chat bubble, a stream view, a result) holds the mask."""
    from tokenhot_nb._config import Secret, redact

    Secret("tkn_PLAINKEY_no_prefix_98765abcdef")  # a key this process was given (any shape)
    source = redact(f"Your key is {shape(key)} indeed")
    out = markdown_html(source)
    assert key not in out and "sk-****" in out and "Your key is" in out and "indeed" in out


@pytest.mark.parametrize("split", [
    lambda k: f"{k[:5]}**{k[5:9]}**{k[9:]}",  # bold in the middle
    lambda k: f"{k[:5]}``{k[5:]}``",  # the rest as code
    lambda k: f"{k[:5]}~~{k[5:9]}~~{k[9:]}",  # struck through
])
@pytest.mark.parametrize("key", ["sk-HOSTILE-loopback-KEY-0123456789", "tkn_PLAINKEY_no_prefix_98765abcdef"])
def test_markdown_never_shows_a_key_that_its_markup_split(key: str, split: Any) -> None:
    """Emphasis, code or strike-through inside a key leave no tag-free run of it in the fragment, yet the reader
    sees the whole key. The fragment shows the text with the mask, and nothing active."""
    import html

    from tokenhot_nb._config import Secret

    Secret("tkn_PLAINKEY_no_prefix_98765abcdef")
    out = markdown_html(f"Your key is {split(key)} indeed.\n\n<script>x</script>")
    shown = html.unescape(re.sub(r"<[^>]*>", "", out))
    assert key not in shown and "sk-****" in shown and "indeed" in shown
    assert_inert(out)
    assert "<script" not in out


def test_the_key_mask_is_text_not_emphasis() -> None:
    """An answer is redacted before it is shown: a relay quoting the key twice left two ``sk-****`` in it, whose
    stars Markdown paired into bold around everything between them, and both masks vanished."""
    out = markdown_html("Your key is sk-****. Keep sk-**** secret, and `sk-****` too. A **bold** word.")
    assert "<strong><strong>" not in out and out.count("sk-****") == 3, out
    assert "<strong>bold</strong>" in out and "<code>sk-****</code>" in out
    assert "\ue000" not in markdown_html("a sk-**** b \ue000 c sk-**** [x](https://h/?k=sk-****)")


@pytest.mark.parametrize("control", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
                                     "\u2068", "\u2069"])
def test_bidi_controls_that_reorder_what_is_read_never_reach_html(control: str) -> None:
    """An answer's code with U+202E shows reversed (``rm -rf \u202e/ pmt`` reads as another command than it is);
    the text outputs drop these (``clean_text``), the HTML ones kept them. Right-to-left text itself stays."""
    source = f"Run this:\n\n```\nrm -rf {control}/ pmt\n```\n\nمرحبا {control}x"
    for out in (markdown_html(source), text_html(source)):
        assert control not in out and "rm -rf / pmt" in out and "مرحبا" in out


def test_markdown_keeps_its_markup_when_no_key_is_split() -> None:
    assert "<strong>bold</strong>" in markdown_html("a **bold** sk-learn word, sk-**** and `code`")


@pytest.mark.parametrize("split", ["\x00", "\x08", "\x1f", "\x7f"])
def test_removing_controls_never_joins_a_key_into_view(split: str) -> None:
    """Both renderers drop control characters; a key the relay split with one passed redaction of the source
    (no key there) and would come out whole."""
    key = "sk-RENDER-split-KEY-0123456789"
    source = f"token {key[:9]}{split}{key[9:]} here"
    for out in (text_html(source), markdown_html(source)):
        assert key not in out and "sk-****" in out and "here" in out
