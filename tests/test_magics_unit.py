"""Magics against a fake session: parsing, quoting, interpolation, throttling, errors, -o, help."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

import tokenhot_nb.magics as magics_pkg
from tokenhot_nb.magics import _magics, _stream
from tokenhot_nb.magics._interp import interpolate, resolve_source
from tokenhot_nb.magics._stream import StreamView, extract_code


class FakeResult:
    def __init__(self, kind: str, text: str = "", entry_id: int = 7, **kw: Any) -> None:
        self.kind, self.text, self.entry_id, self.reasoning = kind, text, entry_id, kw.get("reasoning", "")
        self.__dict__.update(kw)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        data = {"text/plain": f"<{self.kind}>"}
        if self.kind == "image":
            data["text/html"] = "<img src='x.png'>"
        if self.kind == "chat":
            data["text/markdown"] = self.text
        return data, {"tokenhot": {"model": "fake-model", "entry_id": self.entry_id}}


class FakeSession:
    """Records every call; chat streams ``chunks`` deltas through ``on_delta``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.chunks = 10
        self.chunk_delay = 0.0
        self.defaults = {"image": "img-default", "chat": "chat-default", "video": "vid", "audio": "tts"}
        self.raise_on: dict[str, BaseException] = {}
        self.settings = SimpleNamespace(public=lambda: {"api_key": "set", "mode": "offline"})
        from tokenhot_nb._threads import Thread

        self.threads = SimpleNamespace(get=lambda name, new=False: Thread(name))  # (no turn yet: no model kept)

    def _rec(self, name: str, *a: Any, **kw: Any) -> None:
        self.calls.append((name, a, kw))
        if name in self.raise_on:
            raise self.raise_on[name]

    def image(self, prompt: str, **kw: Any) -> FakeResult:
        self._rec("image", prompt, **kw)
        return FakeResult("image", prompt)

    def edit(self, images: Any, prompt: str, **kw: Any) -> FakeResult:
        self._rec("edit", images, prompt, **kw)
        return FakeResult("image", prompt)

    def speak(self, text: str, **kw: Any) -> FakeResult:
        self._rec("speak", text, **kw)
        return FakeResult("audio", text)

    def transcribe(self, source: Any, **kw: Any) -> FakeResult:
        self._rec("transcribe", source, **kw)
        return FakeResult("transcript", "hello")

    def translate(self, source: Any, **kw: Any) -> FakeResult:
        self._rec("translate", source, **kw)
        return FakeResult("transcript", "hello")

    def chat(self, message: str, *, stream: bool = True, on_delta: Any = None, **kw: Any) -> FakeResult:
        self._rec("chat", message, stream=stream, **kw)
        text = ""
        if stream and on_delta:
            for i in range(self.chunks):
                text += f"w{i} "
                on_delta(SimpleNamespace(text=f"w{i} ", reasoning="r" if i < 3 else ""), text)
                if self.chunk_delay:
                    time.sleep(self.chunk_delay)
        else:
            text = "answer"
        return FakeResult("chat", kw.get("answer", text or "```python\nprint(1)\n```"))


ip = support.ip  # fixture


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    s = FakeSession()
    monkeypatch.setattr(_magics, "_session", lambda: s)
    monkeypatch.setattr(magics_pkg, "last_error", None)
    return s


def run(ip: Any, source: str) -> tuple[Any, Any]:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    return res, cap


# -- interpolation -----------------------------------------------------------------------------------
def test_interpolation_rules() -> None:
    ns = {"x": 5, "name": "Ann", "In": ["", "a = 1"], "Out": {1: "one"}, "d": {"k": [1, 2]}}
    text = 'hi {name} {x:03d} {In[1]} {Out[1]} {missing} {missing[0]} {{name}} {"a": 1} {d[k][1]} {x!r}'
    assert interpolate(text, ns) == 'hi Ann 005 a = 1 one {missing} {missing[0]} {name} {"a": 1} 2 5'
    assert resolve_source("d", ns) == {"k": [1, 2]}
    assert resolve_source("Out[1]", ns) == "one"
    assert resolve_source("photo.png", ns) == "photo.png"
    assert resolve_source("https://x/y.png", ns) == "https://x/y.png"


def test_cell_is_interpolated(ip: Any, fake: FakeSession) -> None:
    ip.user_ns["animal"] = "otter"
    run(ip, "%%th_image\na {animal} in {place} with {{braces}}")
    assert fake.calls[-1][1][0] == "a otter in {place} with {braces}"


# -- option grammar ----------------------------------------------------------------------------------
def test_image_options_with_quoting(ip: Any, fake: FakeSession) -> None:
    res, _ = run(ip, "%%th_image -m 'seedream 4.5' -n 2 --size 1024x1024 --seed 3 --quality high "
                     "--negative \"blurry, dark\" -x watermark=false -o pic\na cat")
    assert res.error_in_exec is None
    name, args, kw = fake.calls[-1]
    assert (name, args) == ("image", ("a cat",))
    assert kw == {"model": "seedream 4.5", "n": 2, "size": "1024x1024", "seed": 3, "quality": "high",
                  "negative": "blurry, dark", "watermark": False}
    assert ip.user_ns["pic"].kind == "image"
    assert ip.user_ns["_"] is ip.user_ns["pic"]


def test_edit_resolves_variables_and_paths(ip: Any, fake: FakeSession) -> None:
    ip.user_ns["logo"] = src = object()
    run(ip, "%%th_image --edit logo --edit 'my photo.png' --mask logo\nadd a hat")
    name, args, kw = fake.calls[-1]
    assert name == "edit" and args[0] == [src, "my photo.png"] and args[1] == "add a hat"
    assert kw["mask"] is src


@pytest.mark.parametrize("source", [
    "%%th_image --bogus\nx", "%%th_image -n two\nx", "%%th_image --size 'unclosed\nx",
    "%%th_chat --format pdf\nx", "%%th_image --mask m.png\nx", "%%th_image -o 'not a name'\nx",
    "%th_transcribe", "%%th_image\n   ",
    "%%th_image -o for\nx", "%%th_chat -o class\nx",  # keywords: `for = result` is a SyntaxError
    "%th_history -3", "%th_history 0",  # tail(-3) showed an empty history, 0 the whole one
    "%%th_chat --schema '{\"type\": object}'\nx",  # inline JSON that does not parse: not "no such variable"
    "%th_panel", "%th_panel ''",  # was a TypeError from panel() shown as a possible bug
    "%th_config --store ''", "%th_config --base-url '  '",  # were ignored without a word
    # -x naming what the magic passes itself: "got multiple values for keyword argument", shown as a possible bug
    "%%th_chat -x stream=false\nx", "%%th_image -x prompt=y\nx", "%%th_video -x wait=false\nx",
    "%%th_rerank q -x documents=[]\nx", "%th_transcribe clip.mp3 -x audio=1",
    "%%th_audio --voice Puck -x voice=Kore\nx",  # an option and -x both: a TypeError too
    "%%th_chat -m a -x model=b\nx", "%%th_chat -x seed=1 -x seed=2\nx",  # the last one won without a word
    "%%th_rerank q --top 1 -x top_n=2\na\nb",  # --top is top_n: -x silently won
])
def test_bad_options_give_short_usage(ip: Any, fake: FakeSession, source: str) -> None:
    res, cap = run(ip, source)
    assert res.error_in_exec is not None and type(res.error_in_exec).__name__ == "UsageError"
    assert "Traceback" not in cap.stderr and "Traceback" not in cap.stdout
    assert "UsageError" in cap.stderr
    assert not fake.calls
    said = str(res.error_in_exec)  # one line: what was wrong and how to fix it (argparse's usage block is --help's)
    assert "\n" not in said.strip() and "usage:" not in said, said


@pytest.mark.parametrize("name", ["get_ipython", "In", "Out", "_", "_i3", "_oh", "exit", "__name__", "print", "list"])
def test_an_output_name_the_notebook_needs_is_refused_before_the_call(ip: Any, fake: FakeSession, name: str) -> None:
    """``-o get_ipython`` put the result where IPython runs every magic line from: each later magic failed with
    "'ChatResult' object is not callable"; ``-o print`` hid the built-in for the rest of the notebook."""
    before = ip.user_ns.get(name)
    res, _cap = run(ip, f"%%th_chat -o {name}\nhi")
    assert type(res.error_in_exec).__name__ == "UsageError" and not fake.calls
    said = str(res.error_in_exec)
    assert f"-o {name} would replace" in said and "pick another name, e.g. -o " in said and "\n" not in said
    assert ip.user_ns.get(name) is before
    run(ip, "%%th_chat -o answer\nhi")  # a plain name is fine, and the magics still work
    assert fake.calls and ip.user_ns["answer"] is not None


@pytest.mark.parametrize("source,meant", [
    ("%%th_chat --temprature 0.2\nx", "--temperature"), ("%%th_chat --max_tokens 9\nx", "--max-tokens"),
    ("%%th_chat --tempreture=1\nx", "--temperature"), ("%%th_image --sizee 2K\nx", "--size"),
    ("%%th_video --durration 5\nx", "--duration"), ("%th_history --serch cat", "--search"),
    ("%th_config --default-imag seedream", "--default-image")])
def test_an_option_one_typo_away_names_the_option_meant(ip: Any, fake: FakeSession, source: str, meant: str) -> None:
    """It said only "unrecognized arguments: --temprature 0.2", leaving the reader to find the option in the usage."""
    res, _cap = run(ip, source)
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert f". Did you mean {meant}? Run " in str(res.error_in_exec).splitlines()[0]
    assert not fake.calls
    res, _cap = run(ip, "%%th_image --zzz\nx")
    assert "Did you mean" not in str(res.error_in_exec)


@pytest.mark.parametrize("source,said", [
    ("%%th_image -n 1 -n 4\nx", "-n is given twice ('1' and '4')"),
    ("%%th_chat -m gpt-5.2 --model claude-opus\nx", "-m is given twice ('gpt-5.2' and 'claude-opus')"),
    ("%%th_chat --system=a --system b\nx", "--system is given twice ('a' and 'b')"),
    ("%%th_video --duration 5 --ratio 16:9 --duration 10\nx", "--duration is given twice ('5' and '10')")])
def test_an_option_given_twice_is_refused_not_silently_the_last(ip: Any, fake: FakeSession, source: str,
                                                                said: str) -> None:
    """argparse kept the last value without a word: ``-n 1 … -n 4`` made (and paid for) four images."""
    res, _cap = run(ip, source)
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert f": {said}; give it once. Run " in str(res.error_in_exec).splitlines()[0]
    assert not fake.calls


def test_repeatable_options_and_flags_may_repeat(ip: Any, fake: FakeSession) -> None:
    ip.user_ns["logo"] = object()
    run(ip, "%%th_image --edit logo --edit logo -x a=1 -x b=2\nadd a hat")
    run(ip, "%%th_chat --new --new\nhi")
    assert [c[0] for c in fake.calls] == ["edit", "chat"]


@pytest.mark.parametrize("magic", ["%%th_image", "%%th_chat", "%%th_video", "%%th_audio", "%%th_embed",
                                   "%%th_rerank", "%th_transcribe",
                                   "%th_translate", "%th_models", "%th_history", "%th_config", "%th_panel",
                                   "%th_video"])
def test_help_everywhere(ip: Any, fake: FakeSession, magic: str) -> None:
    res, cap = run(ip, f"{magic} --help\n" + ("x" if magic.startswith("%%") else ""))
    assert res.error_in_exec is None
    assert "usage:" in cap.stdout and "--help" in cap.stdout
    assert not fake.calls


def test_key_typed_on_the_line_is_never_echoed(ip: Any, fake: FakeSession) -> None:
    res, cap = run(ip, "%th_config --key sk-abcdefghijklmnop123")
    assert "sk-abcdefghijklmnop123" not in cap.stderr + cap.stdout
    assert res.error_in_exec is not None


# -- chat streaming ----------------------------------------------------------------------------------
class TickingClock:
    """A clock that moves ``step`` seconds each time it is read: one read per delta, so time is the chunk count."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_stream_is_throttled(ip: Any, fake: FakeSession, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = TickingClock(0.001)  # 2,000 chunks over 2 s of (fake) time
    monkeypatch.setattr(_stream, "StreamView", lambda **kw: StreamView(clock=clock, **kw))
    fake.chunks, fake.chunk_delay = 2000, 0.0
    res, cap = run(ip, "%%th_chat -m gpt --temperature 0.2 --max-tokens 50 --system 'be brief'\nhello")
    assert res.error_in_exec is None
    updates = [o for o in cap.outputs if o.update]
    firsts = [o for o in cap.outputs if not o.update]
    assert len(firsts) == 1  # one display, updated in place
    assert clock.now == pytest.approx(2.001)  # start() and each of the 2,000 deltas read it once
    # at most MAX_UPDATES_PER_SECOND redraws per second of stream, plus the final one; and some redraws happened
    assert 2 <= len(updates) <= _stream.MAX_UPDATES_PER_SECOND * clock.now + 1
    final = updates[-1]
    assert "text/markdown" not in final.data  # network text is never offered as Markdown
    assert "text/html" in final.data and "w1999" in final.data["text/html"]
    assert "▌" not in final.data["text/html"]
    assert final.metadata["tokenhot"]["status"] == "done"
    kw = fake.calls[-1][2]
    assert kw["model"] == "gpt" and kw["temperature"] == 0.2 and kw["max_tokens"] == 50
    assert kw["system"] == "be brief" and kw["stream"] is True
    assert ip.user_ns["_"].kind == "chat"


def test_a_slow_redraw_makes_the_stream_redraw_less_often() -> None:
    """A redraw that takes a while (a long answer's Markdown, a loaded machine) spaces the next ones to three
    times its cost, so redrawing never takes more than about a third of the stream's time."""
    def redraws(cost: float) -> int:
        clock = iter(range(1, 10_000))
        spent = iter(x * cost for x in range(10_000))
        view = StreamView(model="m", clock=lambda: next(clock) / 64, timer=lambda: next(spent), interval=4 / 64)
        view._handle = SimpleNamespace(update=lambda *a, **k: None)
        for _ in range(1024):  # 16 s of stream, a piece every 1/64 s (times exact in binary)
            view.on_delta(SimpleNamespace(text="w ", reasoning=""), None)
        return view.updates

    assert redraws(0.0) == redraws(1 / 64) == 1024 // 4  # at most one redraw per interval
    assert redraws(8 / 64) == pytest.approx(1024 / 24, abs=1)  # every 3 × the 1/8 s a redraw takes


def test_stream_view_reasoning_collapsed() -> None:
    clock = iter(range(1, 100))
    view = StreamView(model="m", clock=lambda: float(next(clock)), interval=0.5)
    view._handle = SimpleNamespace(update=lambda *a, **k: None)
    view.on_delta(SimpleNamespace(text="", reasoning="thinking"), "")
    view.on_delta(SimpleNamespace(text="Hi", reasoning=""), "Hi")
    html = view.bundle(streaming=False)["text/html"]
    assert html.index("<details><summary>Reasoning") < html.index("thinking") < html.index("</details>")
    assert html.index("</details>") < html.index("<p>Hi</p>")
    assert view.updates == 2


def test_chat_thread_new_image_no_stream(ip: Any, fake: FakeSession) -> None:
    ip.user_ns["chart"] = chart = object()
    run(ip, "%%th_chat --thread study --new --no-stream --image chart --image c.png -o ans\nexplain")
    kw = fake.calls[-1][2]
    assert kw["thread"] == "study" and kw["new_thread"] is True and kw["stream"] is False
    assert kw["images"] == [chart, "c.png"]
    assert ip.user_ns["ans"].text == "answer"


def test_format_code_sets_next_input(ip: Any, fake: FakeSession, monkeypatch: pytest.MonkeyPatch) -> None:
    got: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda s, replace=False: got.append(s))
    fake.chunks = 0
    _, cap = run(ip, "%%th_chat --format code\nwrite code")
    assert got == ["print(1)\n"]
    assert "new cell below" in cap.stdout


def test_format_code_puts_no_control_that_disguises_the_code_in_the_cell(ip: Any, fake: FakeSession,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The next cell is code the user runs: an answer's bidi overrides (Trojan Source: the cell reads other than it
    runs) and terminal escapes are taken out, and the note says so; the rest of the code is kept as it came."""
    got: list[str] = []
    monkeypatch.setattr(ip, "set_next_input", lambda s, replace=False: got.append(s))
    tricked = 'if role != "user\u202e \u2066# admins only\u2069 \u2066":\n    grant()  # \x1b[2Kdone\t\u05e9\u05dc\u05d5\u05dd\n'
    monkeypatch.setattr(fake, "chat", lambda *a, **k: FakeResult("chat", f"```python\n{tricked}```"))
    _, cap = run(ip, "%%th_chat --format code --no-stream\nwrite code")
    assert got == ['if role != "user # admins only ":\n    grant()  # done\t\u05e9\u05dc\u05d5\u05dd\n']
    assert "8 characters that could make the code read other than it runs (bidi overrides, terminal escapes) were "\
           "taken out" in cap.stdout
    got.clear()
    monkeypatch.setattr(fake, "chat", lambda *a, **k: FakeResult("chat", "```python\nprint(1)\n```"))
    _, cap = run(ip, "%%th_chat --format code --no-stream\nwrite code")
    assert got == ["print(1)\n"] and "taken out" not in cap.stdout


def test_extract_code() -> None:
    assert extract_code("x\n```python\na = 1\n```\n```bash\nls\n```\n") == ("a = 1\n", True)
    assert extract_code("```sql\nselect 1\n```") == ("select 1\n", True)
    assert extract_code("no code") == ("no code\n", False)


def test_format_text(ip: Any, fake: FakeSession) -> None:
    _, cap = run(ip, "%%th_chat --format text\nhi")
    assert all("text/markdown" not in o.data and "text/html" not in o.data for o in cap.outputs)


# -- errors --------------------------------------------------------------------------------------------
def test_unknown_model_is_a_short_message(ip: Any, fake: FakeSession) -> None:
    from tokenhot_nb.errors import UnknownModelError

    fake.raise_on["image"] = UnknownModelError("seedrem", ["doubao-seedream-4-5-251128"], "image")
    res, cap = run(ip, "%%th_image -m seedrem\na cat")
    assert res.error_in_exec is None
    assert "Traceback" not in cap.stdout + cap.stderr
    shown = [o.data for o in cap.outputs]
    html = shown[-1]["text/html"]
    assert "Unknown model" in html and "doubao-seedream-4-5-251128" in html and "Fix:" in html
    assert isinstance(magics_pkg.last_error, UnknownModelError)
    res, cap = run(ip, "%th_config --last-error")
    assert "UnknownModelError" in cap.stdout and "Traceback" in cap.stdout


@pytest.mark.parametrize("err_name,words", [
    ("AuthenticationError", "key was refused"), ("QuotaExhaustedError", "Quota"),
    ("APIConnectionError", "Network"), ("APITimeoutError", "Timed out"),
])
def test_error_titles(ip: Any, fake: FakeSession, err_name: str, words: str) -> None:
    from tokenhot_nb import errors

    cls = getattr(errors, err_name)
    err = cls("boom", status=401) if issubclass(cls, errors.APIError) else cls("boom")
    fake.raise_on["speak"] = err
    _, cap = run(ip, "%%th_audio --voice alloy\nhello")
    assert words in cap.outputs[-1].data["text/plain"]
    assert "Fix:" in cap.outputs[-1].data["text/plain"]


def test_raise_errors_switch(ip: Any, fake: FakeSession, monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb.errors import RateLimitError

    monkeypatch.setattr(magics_pkg, "raise_errors", True)
    fake.raise_on["image"] = RateLimitError("slow down", status=429)
    res, cap = run(ip, "%%th_image\nx")
    assert res.error_in_exec is not None and "Traceback" not in cap.stderr


def test_stream_error_keeps_partial(ip: Any, fake: FakeSession) -> None:
    from tokenhot_nb.errors import StreamError

    fake.raise_on["chat"] = StreamError("stalled", partial_text="half an answ")
    _, cap = run(ip, "%%th_chat\nhi")
    texts = [o.data.get("text/html", "") for o in cap.outputs]
    assert any("half an answ" in t and "broke off" in t for t in texts)
    assert "stream broke off" in cap.outputs[-1].data["text/plain"].lower()


# -- audio, transcripts -------------------------------------------------------------------------------
def test_audio_and_transcripts(ip: Any, fake: FakeSession) -> None:
    ip.user_ns["name"] = "Ann"
    run(ip, "%%th_audio -m tts-1 --voice nova -o hello\nHi {name}")
    assert fake.calls[-1][:2] == ("speak", ("Hi Ann",))  # the cell is interpolated, like every magic's
    assert fake.calls[-1][2] == {"model": "tts-1", "voice": "nova"}
    ip.user_ns["clip"] = clip = object()
    run(ip, "%th_transcribe clip --language en --format srt -o subs")
    assert fake.calls[-1] == ("transcribe", (clip,), {"language": "en", "format": "srt"})
    run(ip, "%th_translate 'talk.mp3'")
    assert fake.calls[-1] == ("translate", ("talk.mp3",), {"format": "json"})
    assert ip.user_ns["subs"].kind == "transcript"


# -- help examples ------------------------------------------------------------------------------------
def test_help_examples_name_real_models() -> None:
    """Every ``-m``/``--model``/``--default-KIND`` value in any magic's help resolves in the catalogue,
    and every example line parses with its magic's own parser."""
    import re
    import shlex

    from tokenhot_nb import catalog
    from tokenhot_nb.magics import _args

    option = re.compile(r"(?:^|\s)(-m|--model|--default-(?:image|video|audio|chat))[ =](\S+)")
    named: list[tuple[str, str]] = []
    for magic in _args._BUILDERS:
        text = _args.parser(magic).format_help()
        examples = text.split("example", 1)[1].splitlines()[1:] if "example" in text else []
        for line in (x.strip() for x in examples):
            if not line.startswith("%"):
                continue
            prog, _, rest = line.partition(" ")
            assert prog.lstrip("%") == magic, line
            _args.parser(magic).parse_args(shlex.split(rest))  # the example itself is valid
            for flag, value in option.findall(" " + rest):
                kind = flag.removeprefix("--default-") if flag.startswith("--default-") else None
                named.append((magic, value))
                catalog.model(value, kind=kind)  # raises UnknownModelError for a model we do not have
    magics_with_models = {m for m, _ in named}
    assert {"th_image", "th_chat", "th_video", "th_audio", "th_embed", "th_rerank", "th_config"} \
        <= magics_with_models, named


def test_video_view_elapsed_keeps_moving_between_polls() -> None:
    """Issue #12: the progress line redraws with the elapsed time between polls, and stops when done."""
    from tokenhot_nb.magics._video import VideoView

    now = [100.0]
    view = VideoView(model="m", clock=lambda: now[0])
    drawn: list[str] = []
    view._handle = SimpleNamespace(update=lambda data, **k: drawn.append(data["text/plain"]))
    view.on_status(SimpleNamespace(task_id="task_1", state="running", progress=30))
    now[0] += 4
    view.tick()
    now[0] += 1
    view.tick()
    assert [d.split(" · ")[2] for d in drawn] == ["0s", "4s", "5s"] and all("30%" in d for d in drawn)
    view.failed("boom")
    n = len(drawn)
    view.tick()
    assert len(drawn) == n  # a finished task no longer ticks


def test_ticker_calls_until_stopped() -> None:
    from tokenhot_nb._progress import Ticker

    calls: list[float] = []
    ticker = Ticker(lambda: calls.append(time.monotonic()), every=0.01)
    deadline = time.monotonic() + 5
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ticker.stop()
    ticker.thread.join(2)
    assert len(calls) >= 3 and not ticker.thread.is_alive()


def test_stream_view_never_shows_a_key_arriving_in_reasoning_pieces() -> None:
    """The answer reaches the view made safe by the session; the reasoning arrives as raw deltas, so the view
    makes it safe itself, holding back what may be the first part of a key until the rest has come."""
    from tokenhot_nb._config import Secret

    key = "tkn_REASONED_no_prefix_13579bdfhj"
    Secret(key)
    clock = iter(range(1, 1000))
    view = StreamView(model="m", clock=lambda: float(next(clock)), interval=0.5)
    shown: list[str] = []
    view._handle = SimpleNamespace(update=lambda data, **k: shown.append(data["text/html"]))
    thought = f"The user's key is {key}, which I must not repeat."
    for i in range(0, len(thought), 2):
        view.on_delta(SimpleNamespace(text="", reasoning=thought[i:i + 2]), "")
    pieces = [key[i:i + 5] for i in range(len(key) - 4)]
    assert len(shown) > 20 and not [h for h in shown for p in pieces if p in h]
    assert "sk-****, which I must not repeat." in view.reasoning


def test_broken_inline_json_is_named_as_such(ip: Any, fake: FakeSession) -> None:
    _, cap = run(ip, "%%th_chat --tools '[{\"type\": function}]'\nhi")
    assert "the inline JSON does not parse" in cap.stderr and "no such variable" not in cap.stderr
    assert not fake.calls


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


@pytest.mark.parametrize("field", ["{thing}", "{thing!r}"])
def test_a_variable_whose_text_cannot_be_made_stops_the_cell(ip: Any, fake: FakeSession, field: str) -> None:
    """It used to go into the paid prompt as the literal braces, with no word said."""
    ip.user_ns["thing"] = Unprintable()
    res, cap = run(ip, f"%%th_image\na picture of {field}")
    assert type(res.error_in_exec).__name__ == "UsageError" and "Traceback" not in cap.stderr
    assert f"{field} in the cell names a Unprintable whose text cannot be made (RuntimeError: no text for you)" \
        in cap.stderr and "nothing was sent" in cap.stderr
    assert not fake.calls


def test_an_unquoted_path_with_a_space_says_to_quote_it(ip: Any, fake: FakeSession) -> None:
    _, cap = run(ip, "%th_transcribe my file.mp3")
    assert "unrecognized arguments: file.mp3 (quote a SOURCE that holds spaces" in cap.stderr
    _, cap = run(ip, "%%th_image --bogus\nx")  # an unknown option is not about quoting
    assert "quote" not in cap.stderr
    assert not fake.calls


@pytest.mark.parametrize("source", ["%%th_chat --image pic\nwhat is it", "%%th_image --edit pic\nmake it blue",
                                    "%th_transcribe pic"])
def test_an_input_variable_that_holds_none_stops_the_cell(ip: Any, fake: FakeSession, source: str) -> None:
    """``--image pic`` with ``pic = None`` (a load that failed) used to ask the question with no image at all."""
    ip.user_ns["pic"] = None
    res, cap = run(ip, source)
    assert type(res.error_in_exec).__name__ == "UsageError"
    assert "'pic' on the magic line names a variable that holds None" in cap.stderr
    assert not fake.calls


def test_a_terminal_prints_no_escape_sequence_an_answer_sent(capsys: pytest.CaptureFixture[str]) -> None:
    """Outside a notebook the view prints the answer as it streams, and what a terminal printed stays printed:
    an OSC 52 clipboard write, a screen clear or a colour from the answer (one split across pieces too) must not
    reach it; the text itself keeps them (it is data)."""
    from tokenhot_nb.families._types import ChatDelta
    from tokenhot_nb.magics._stream import StreamView

    view = StreamView(live=False)
    pieces = ["hi \x1b]52;c;ZXZpbA==\x07 ", "\x1b[2J\x1b[31mred", "\x1b", "[0m line\r\nnext\x1b]0;title"]
    text = ""
    for piece in pieces:
        text += piece
        view.on_delta(ChatDelta(text=piece), text)
    view.finish()
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
    assert "hi" in printed and "red" in printed and "line\nnext" in printed
    assert view.text == text


def test_load_ext_imports_only_the_magics() -> None:
    """``%load_ext tokenhot_nb`` must cost next to nothing (issue #13: the whole process within 1.1× a bare
    ``ipython``): it imports the magics and the one escaping module their errors need, never the settings, the
    client, the store or a heavy library. The settings slipped in once (through the safe renderer, +12 ms)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys\n"
             "from IPython.core.interactiveshell import InteractiveShell\n"
             "ip = InteractiveShell.instance()\n"
             "before = set(sys.modules)\n"
             "ip.run_line_magic('load_ext', 'tokenhot_nb')\n"
             "print('\\n'.join(sorted(set(sys.modules) - before)))\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    new = set(out.stdout.split())
    ours = {m for m in new if m.startswith("tokenhot_nb")}
    assert ours == {"tokenhot_nb", "tokenhot_nb._safe", "tokenhot_nb.magics", "tokenhot_nb.magics._args",
                    "tokenhot_nb.magics._display", "tokenhot_nb.magics._interp", "tokenhot_nb.magics._magics"}
    heavy = {"httpx", "sqlite3", "PIL", "numpy", "ipywidgets", "markdown_it", "nh3", "anyio", "av"}
    assert not {m.split(".")[0] for m in new} & heavy


def test_a_terminal_table_lines_up_wide_characters_and_keeps_each_row_on_one_line() -> None:
    from wcwidth import wcswidth

    from tokenhot_nb.magics._tables import Table

    lines = Table(["id", "price"], [["通义千问-max", "$1"], ["gpt-5.2", "$2"], ["bad\nrow\x1b[2J", "$3"]]).text()
    rows = lines.splitlines()
    assert len(rows) == 5 and "\x1b" not in lines
    assert len({wcswidth(r[:r.index("$")]) for r in rows[2:]}) == 1  # the price column starts at one cell


def test_a_video_task_id_from_the_network_cannot_drive_the_terminal() -> None:
    from tokenhot_nb.families._types import TaskStatus
    from tokenhot_nb.magics._video import VideoView

    view = VideoView(live=False)
    view.on_status(TaskStatus("t\x1b]0;pwned\x07\x1b[2J", "running", 5))
    view.stopped("why")
    assert "\x1b" not in view.text() and "\x07" not in view.text()


@pytest.mark.parametrize("task_id", ["task_01HX-abc.9:z", "{__import__('os').getpid()}", "t$marker", "a b --model x",
                                     "it's \"quoted\"", "{{x}}$$"])
def test_the_resume_hint_for_a_relays_task_id_pastes_back_as_that_id_and_runs_nothing(ip: Any, task_id: str) -> None:
    """The task id is the relay's text, and the hint is a magic line to paste: IPython evaluates ``{…}`` and
    expands ``$name`` in a magic's line before the magic reads it (``{__import__('os').system(…)}`` would run),
    and the magic splits it like a shell. Pasted, the line must name exactly this task, in both forms."""
    import ast
    import re

    from tokenhot_nb.magics import _args
    from tokenhot_nb.magics._video import resume_message

    shell = ip
    shell.user_ns["marker"] = "EXPANDED"
    text = resume_message(task_id)
    magic = re.search(r"%th_video (.*?) \(or ", text)
    if magic is not None:
        expanded = shell.var_expand(magic.group(1))  # what IPython hands the magic
        assert _args.parse("th_video", expanded).resume == task_id, (magic.group(1), expanded)
    else:  # an id that is no plain word: the Python call only
        assert "%th_video" not in text and any(c in task_id for c in " '\"{}$")
    call = re.search(r"resume\((.*)\)\.wait\(\)", text).group(1)  # type: ignore[union-attr]
    assert ast.literal_eval(call) == task_id
    assert "task keeps running" in text


def test_a_key_a_relay_put_in_a_task_id_stays_out_of_the_progress_output_metadata() -> None:
    """The progress view's metadata is saved in the notebook: the task id there is masked like its text."""
    from tokenhot_nb.families._types import TaskStatus
    from tokenhot_nb.magics._video import VideoView

    key = "sk-relay-" + "Q9w8E7r6" * 4
    view = VideoView(model="m", live=False)
    view.on_status(TaskStatus(f"task-{key}", "running", 5))
    data, meta = view._bundle()
    assert key not in repr(meta) and key not in repr(data)
    assert meta["tokenhot"]["task_id"] == "task-****"


def test_x_top_n_beside_top_names_both(ip: Any, fake: FakeSession) -> None:
    res, _cap = run(ip, "%%th_rerank q --top 1 -x top_n=2\na\nb")
    assert "--top and -x top_n=… both set top_n; give it once." in str(res.error_in_exec) and not fake.calls
    from tokenhot_nb.magics import _args

    assert _args.parse("th_rerank", "q --top 1").top_n == 1  # --top alone is still the call's top_n


def test_a_failed_tasks_long_reason_is_one_short_line_in_the_video_panel() -> None:
    """A vendor's reason may be a whole HTML error page over many lines: the panel showed all of it under the bar."""
    from tokenhot_nb.families._types import TaskStatus
    from tokenhot_nb.magics._video import VideoView

    page = "<html>\n<head><title>502 Bad Gateway</title></head>\n" + "<p>upstream</p>\n" * 400 + "</html>"
    view = VideoView(model="m", live=False)
    view.on_status(TaskStatus("task_1", "running", 5))
    view.failed(page)
    note = view.text().split("\n", 1)[1]
    assert "\n" not in note and len(note) < 300 and note.startswith("<html> <head><title>502 Bad Gateway")
    assert "%th_config --last-error" in note
