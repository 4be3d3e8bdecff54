"""Settings: precedence of arguments over environment, offline by default, and a key that never shows."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import pytest

from tokenhot_nb._config import OFFLINE_KEY, Secret, Settings, might_hold_key, redact
from tokenhot_nb.errors import ConfigError, MissingKeyError

KEY = "sk-live-CONFIGSECRET12345"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKENHOT_API_KEY", "TOKENHOT_BASE_URL", "TOKENHOT_MODE", "TOKENHOT_STORE"):
        monkeypatch.delenv(name, raising=False)


def test_no_key_no_mode_means_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_notice_shown", False)
    with pytest.warns(UserWarning, match="using the offline simulator"):
        s = Settings.from_env()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, not on every session
        Settings.from_env()
    assert s.mode == "offline"
    assert s.key_for_requests() == OFFLINE_KEY
    assert s.base_url == "https://api.tokenhot.cn"


def test_key_from_env_means_live(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_API_KEY", KEY)
    s = Settings.from_env()
    assert s.mode == "live"
    assert s.key_for_requests() == KEY


def test_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOKENHOT_BASE_URL", "https://api.tokenhot.ai")
    monkeypatch.setenv("TOKENHOT_MODE", "replay")
    monkeypatch.setenv("TOKENHOT_STORE", str(tmp_path / "env-store"))
    s = Settings.from_env(base_url="https://example.test/v1/", mode="offline", store=tmp_path / "arg-store")
    assert s.base_url == "https://example.test"
    assert s.mode == "offline"
    assert s.store == tmp_path / "arg-store"
    t = Settings.from_env()
    assert (t.base_url, t.mode, t.store) == ("https://api.tokenhot.ai", "replay", tmp_path / "env-store")


def test_a_store_variable_of_only_whitespace_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``TOKENHOT_STORE="  "`` made a store folder named two spaces in the working folder (a blank mode or base URL
    is refused already; an empty variable is unset)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOKENHOT_STORE", "  ")
    with pytest.raises(ConfigError, match=r"^TOKENHOT_STORE holds only whitespace\."):
        Settings.from_env(mode="offline")
    assert Settings.from_env(mode="offline", store=tmp_path / "given").store == tmp_path / "given"  # (not read)
    monkeypatch.setenv("TOKENHOT_STORE", "")
    assert Settings.from_env(mode="offline").store == Path(".tokenhot")
    assert list(tmp_path.iterdir()) == []


def test_unknown_mode_is_explained() -> None:
    with pytest.raises(ConfigError, match="live, offline, replay"):
        Settings.from_env(mode="online")


def test_live_without_key_says_how_to_set_it() -> None:
    s = Settings.from_env(mode="live")
    with pytest.raises(MissingKeyError) as info:
        s.key_for_requests()
    assert "TOKENHOT_API_KEY" in str(info.value)


def test_key_never_shows() -> None:
    s = Settings.from_env(api_key=KEY)
    for text in (repr(s), str(s), str(s.public()), f"{s.api_key}", repr(s.api_key), str(s.api_key)):
        assert KEY not in text
    assert s.public()["api_key"] == "set"
    with pytest.raises(TypeError):
        pickle.dumps(s.api_key)


def test_secret_equality_and_truth() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert not Secret("") and Secret("x")


def test_redact_known_and_key_shaped_values() -> None:
    assert KEY not in redact(f"header Bearer {KEY}", Secret(KEY))
    stray = "sk-" + "AbC123xyz789DeF456gh"
    assert stray not in redact(f"a stray {stray} in text")
    assert redact("nothing here") == "nothing here"
    assert redact("pipelines in sk-learn, task sk-1") == "pipelines in sk-learn, task sk-1"  # words, not keys


@pytest.mark.parametrize("phrase", [
    "risk-free-rate-of-return", "a task-queue-based-architecture", "disk-encryption-at-rest-policy",
    "an ask-me-anything-session-today", "task-2024-planning-document-v2", "the risk-Adjusted-Return-of-it",
])
def test_hyphenated_words_holding_sk_are_not_keys(phrase: str) -> None:
    """"ri·sk-free-rate…" holds ``sk-`` and 16 more word characters: it was shown as "risk-****" in answers,
    history and exports. Glued to a word, only a random-looking tail (upper, lower and digits) is a key."""
    assert redact(phrase) == phrase
    assert redact(f"{phrase} and {phrase.upper()}") == f"{phrase} and {phrase.upper()}"


@pytest.mark.parametrize("text", [
    "sk-AbCdEf0123456789XyZ", "Bearer sk-abcdefghijklmnopqrst", "(sk-proj-abcdefghijklmnop)",
    "\\nsk-AbCdEf0123456789XyZ", "Bearersk-AbCdEf0123456789XyZ", "key=sk-0123456789abcdefGHIJ",
])
def test_key_shaped_values_are_masked_wherever_they_start(text: str) -> None:
    """After a non-word character any long ``sk-…`` is a key; glued to a word (a ``\\n`` escape in a relay's
    body, a header written without its space) a random one still is."""
    out = redact(text)
    assert "sk-****" in out and not any(len(run) >= 12 for run in out.replace("sk-****", " ").split())


def test_a_known_key_is_removed_in_the_shapes_relays_echo_it() -> None:
    """Shouted, every character or every symbol ``\\u``-escaped (a JSON writer stricter than json.dumps),
    every byte percent-encoded, as HTML character references, and without its ``sk-`` (new-api keeps and
    looks up a key without it)."""
    key = "sk-KnownShapes0123456789abcdefXYZ"
    Secret(key)
    shapes = {
        "upper": key.upper(), "lower": key.lower(),
        "symbols escaped": key.replace("-", "\\u002d"), "symbols escaped, upper hex": key.replace("-", "\\u002D"),
        "all escaped": "".join(f"\\u{ord(c):04x}" for c in key),
        "every byte quoted": "".join(f"%{b:02X}" for b in key.encode()),
        "every byte quoted, lower": "".join(f"%{b:02x}" for b in key.encode()),
        "references": "".join(f"&#{ord(c)};" for c in key), "hex references": "".join(f"&#x{ord(c):x};" for c in key),
        "no sk-": key[3:], "no sk-, upper": key[3:].upper(),
    }
    for name, shape in shapes.items():
        assert redact(f"said: {shape}.") == "said: sk-****.", name


#: A key shaped like the service's, known to this process only from here on (the split tests)
SPLIT_KEY = "sk-5hGjK8lMn2bVc4xZa7sDf1gQw9eRt3yUi6oPl0kJh2gFd5sAe8"


@pytest.mark.parametrize("split", ["\n", "\r\n  ", " ", "\\n", "<wbr>", "</b><b>", "\u200b", "\u00ad", "\n<br>\n"],
                         ids=["newline", "crlf-indent", "space", "escaped-newline", "wbr", "tags", "zwsp", "shy",
                              "br"])
@pytest.mark.parametrize("at", [[5], [20], [40], [12, 27, 41]], ids=["early", "middle", "late", "three-times"])
@pytest.mark.parametrize("tail", [False, True], ids=["whole", "no-sk"])
def test_a_known_key_split_by_a_line_break_a_tag_or_an_invisible_character_is_masked(split: str, at: list[int],
                                                                                     tail: bool) -> None:
    """A relay that wraps its error text (or a page that breaks long words with ``<wbr>``) splits the key: each
    part was no key, so it showed whole, a line break in it (or its end after ``sk-****``, the pattern having
    taken the start)."""
    Secret(SPLIT_KEY)
    key = SPLIT_KEY[3:] if tail else SPLIT_KEY
    cut = [0, *at, len(SPLIT_KEY)]
    parts = [SPLIT_KEY[a:b] for a, b in itertools.pairwise(cut)]
    text = split.join(parts)[3:] if tail else split.join(parts)
    assert text.replace(split, "") == key
    assert redact(f"invalid token: {text} (request id: 42)") == "invalid token: sk-**** (request id: 42)"
    assert might_hold_key(text)


def test_ordinary_text_around_a_known_key_is_not_taken_for_its_split_form() -> None:
    """Only the key's own characters, all of them in order and split only by what may split it, are masked; a
    text holding none of it comes back as it is."""
    Secret(SPLIT_KEY)
    words = f"{SPLIT_KEY[:10]} is how it starts, and it ends with {SPLIT_KEY[-6:]}"
    assert redact(words) == words
    other = f"{SPLIT_KEY[:30]}\nXYZ{SPLIT_KEY[30:]}"  # (the start is taken by the key pattern, as before)
    assert redact(other) == f"sk-****\nXYZ{SPLIT_KEY[30:]}"
    clean = "nothing secret here\n" * 50
    assert redact(clean) is clean


def test_offline_polls_quickly_unless_told_otherwise() -> None:
    assert Settings.from_env(mode="offline").poll_interval < 1
    assert Settings.from_env(mode="offline", poll_interval=3.0).poll_interval == 3.0
    assert Settings.from_env(mode="live", api_key=KEY).poll_interval == 5.0


# -- Secret: never shown, usable as a value ------------------------------------------------------------------
def test_secret_repr_str_and_format() -> None:
    secret = Secret(KEY)
    assert repr(secret) == str(secret) == f"{secret}" == f"{secret:>40}" == "Secret('****')"
    assert repr(Secret("")) == "Secret('')"
    assert f"{Secret('')!s}" == "Secret('')"
    assert "%s %r" % (secret, secret) == "Secret('****') Secret('****')"  # noqa: UP031 - the old way too
    assert secret.get() == KEY


def test_secret_hash_and_equality() -> None:
    a, b = Secret(KEY), Secret(KEY)
    assert a == b and hash(a) == hash(b)
    assert len({a, b, Secret("other-value")}) == 2
    assert {a: 1}[b] == 1
    assert a != KEY  # never equal to the bare string it wraps
    assert Secret("x") != Secret("y")
    assert hash(Secret("x")) != hash(Secret("y"))
    assert hash(a) != hash(KEY)  # a dict of raw strings does not find it either


def test_secret_holds_nothing_else() -> None:
    secret = Secret(KEY)
    with pytest.raises(AttributeError):
        secret.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="TOKENHOT_API_KEY"):
        pickle.dumps(secret)


# -- redaction ---------------------------------------------------------------------------------------------
def test_redact_secrets_that_do_not_look_like_keys() -> None:
    odd = "relay_token_abcdefgh"
    assert redact(f"a {odd} b {odd}", odd) == "a sk-**** b sk-****"
    assert redact(f"a {odd}", Secret(odd)) == "a sk-****"
    assert redact("keep this", None, "", Secret("")) == "keep this"  # empty secrets remove nothing
    assert redact(f"x {odd} {KEY}", "unrelated", odd) == "x sk-**** sk-****"


def test_redact_key_shapes_by_length() -> None:
    assert redact("sk-" + "a" * 16) == "sk-****"
    assert redact("sk-" + "a" * 15) == "sk-" + "a" * 15
    assert redact("sk-abc_DEF-123456789xyz.") == "sk-****."  # letters, digits, _ and - belong to the key


# -- Settings -----------------------------------------------------------------------------------------------
def test_settings_normalise_their_inputs(tmp_path: Path) -> None:
    s = Settings(api_key=KEY, base_url="https://relay.test/v1/", store=str(tmp_path))  # type: ignore[arg-type]
    assert isinstance(s.api_key, Secret) and s.api_key.get() == KEY
    assert s.base_url == "https://relay.test"
    assert s.store == tmp_path and isinstance(s.store, Path)
    assert Settings(base_url="https://relay.test/v1beta").base_url == "https://relay.test/v1beta"
    assert Settings(base_url="https://relay.test///").base_url == "https://relay.test"
    with pytest.raises(ConfigError, match="Unknown mode 'LIVE'"):
        Settings(mode="LIVE")  # type: ignore[arg-type]


def test_mode_from_arguments_and_environment_is_folded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env(mode=" Live ", api_key=KEY).mode == "live"
    monkeypatch.setenv("TOKENHOT_MODE", "REPLAY")
    assert Settings.from_env().mode == "replay"


def test_an_explicit_offline_mode_is_not_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_notice_shown", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Settings.from_env(mode="offline")
        monkeypatch.setenv("TOKENHOT_MODE", "offline")
        Settings.from_env()
    assert _config._notice_shown is False


def test_the_offline_notice_points_at_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_notice_shown", False)
    with pytest.warns(UserWarning) as record:
        Settings.from_env()
    assert "TOKENHOT_API_KEY" in str(record[0].message)
    # stacklevel: the warning names the caller's line, not a line inside the library
    assert "tokenhot_nb" not in Path(record[0].filename).parts, record[0].filename


def test_default_store_and_key_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env(mode="offline").store == Path(".tokenhot")
    assert Settings.from_env(mode="offline", api_key=KEY).key_for_requests() == KEY  # a given key is sent
    assert Settings.from_env(mode="replay").key_for_requests() == OFFLINE_KEY
    assert Settings.from_env(api_key=Secret(KEY)).mode == "live"


def test_public_settings_and_repr(tmp_path: Path) -> None:
    s = Settings(base_url="https://relay.test", store=tmp_path)
    public = s.public()
    assert public["api_key"] == "not set"
    assert public["store"] == str(tmp_path) and public["base_url"] == "https://relay.test"
    assert public["max_retries"] == 2
    assert repr(s).startswith("Settings(api_key='not set', base_url='https://relay.test', mode='offline', ")
    assert f"store={str(tmp_path)!r}" in repr(s)


def test_defaults_are_the_ones_the_readme_documents() -> None:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = [line for line in readme.splitlines() if line.startswith("| ") and "`" in line]
    documented: dict[str, float] = {}
    for line in table:
        for name, number, unit in re.findall(r"`(\w+)=([\d.]+)( GiB)?`", line):
            documented[name] = float(number) * (1024**3 if unit else 1)
    defaults = Settings()
    for name in ("connect_timeout", "read_timeout", "stream_idle_timeout", "max_retries", "poll_interval",
                 "video_deadline", "download_cap"):
        assert name in documented, f"README no longer documents {name}"
        assert getattr(defaults, name) == documented[name], name


def test_key_whitespace_from_a_copy_paste_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env(api_key=f"  {KEY}\n").api_key.get() == KEY
    monkeypatch.setenv("TOKENHOT_API_KEY", f"\t{KEY} \n")
    s = Settings.from_env()
    assert s.api_key.get() == KEY and s.key_for_requests() == KEY and s.mode == "live"
    monkeypatch.setenv("TOKENHOT_API_KEY", "   ")
    assert Settings.from_env().mode == "offline"  # only whitespace: no key


def test_user_facing_texts_in_full(monkeypatch: pytest.MonkeyPatch) -> None:
    from tokenhot_nb import _config

    monkeypatch.setattr(_config, "_notice_shown", False)
    with pytest.warns(UserWarning) as record:
        Settings.from_env()
    assert str(record[0].message) == (
        "tokenhot_nb: no TOKENHOT_API_KEY set, using the offline simulator. To call the real API, set "
        "TOKENHOT_API_KEY before the session is made or pass api_key=…; in a notebook, run "
        "%th_config --mode live --key."
    )
    with pytest.raises(ConfigError) as info:
        Settings(mode="online")  # type: ignore[arg-type]
    assert info.value.hint == "Use one of: live, offline, replay (argument mode=… or TOKENHOT_MODE)."
    with pytest.raises(TypeError) as pickled:
        pickle.dumps(Secret(KEY))
    assert str(pickled.value) == "a Secret cannot be pickled; store the key in TOKENHOT_API_KEY instead"


def test_only_slashes_and_v1_are_trimmed_from_the_base_url() -> None:
    assert Settings(base_url="https://relay.test/X").base_url == "https://relay.test/X"
    assert Settings(base_url="https://relay.test/pathXX/").base_url == "https://relay.test/pathXX"



@pytest.mark.parametrize(("url", "bare"), [
    ("https://relay.test/?key=tkn_in_query_0123456789abcdef", "https://relay.test/"),
    ("https://user:tkn_as_password_0123456789@relay.test/v1", "https://relay.test/v1"),
    ("https://tkn_as_user_0123456789abcdef@relay.test", "https://relay.test"),
    ("http://[::1]:8080/x#tkn_in_fragment_0123456789", "http://[::1]:8080/x"),
    ("https://relay.test/sk-tkn_in_path_0123456789abcdef/v1", "https://relay.test"),
])
def test_a_base_url_with_credentials_or_a_query_is_refused_without_showing_them(url: str, bare: str) -> None:
    """A key put in the base URL (``?key=`` as Gemini takes it, ``user:key@``) was in the reprs of Session,
    Settings and Client and in the catalogue's warnings. The address is refused; the message shows it bare."""
    with pytest.raises(ConfigError) as err:
        Settings(base_url=url)
    shown = f"{err.value} {err.value.hint}"
    assert "tkn_" not in shown and repr(bare) in shown and "api_key=" in shown

# -- encoded forms of a known key --------------------------------------------------------------------------
ENCODED_KEY = "sk-enc-0123456789abcdefXYZ"


def _recoverable(text: str, secret: bytes, window: int = 8) -> bool:
    """Whether any ``window`` bytes of ``secret`` can be read back from a base64 run in ``text`` (either alphabet,
    any starting character): independent of how ``redact`` finds them."""
    import base64
    import re

    for run in re.findall(r"[A-Za-z0-9+/_-]{4,}", text):
        run = run.translate(str.maketrans("-_", "+/"))
        for shift in range(4):
            chunk = run[shift:]
            chunk = chunk[: len(chunk) - len(chunk) % 4]
            try:
                decoded = base64.b64decode(chunk)
            except ValueError:
                continue
            if any(secret[i:i + window] in decoded for i in range(len(secret) - window + 1)):
                return True
    return False


@pytest.mark.parametrize("prefix", ["", "x", "xy", "Bearer ", "Basic user:", "{\"k\":\""])
@pytest.mark.parametrize("suffix", ["", "z", "zz", "zzz", "\"}"])
@pytest.mark.parametrize("urlsafe", [False, True])
def test_a_known_key_is_removed_base64_encoded_inside_anything(prefix: str, suffix: str, urlsafe: bool) -> None:
    import base64

    Secret(ENCODED_KEY)
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode((prefix + ENCODED_KEY + suffix).encode()).decode()
    assert _recoverable(blob, ENCODED_KEY.encode())  # (the check can see the key when it is there)
    for shown in (blob, blob.rstrip("="), f"token={blob};"):
        out = redact(f"dump: {shown} end")
        assert "sk-****" in out and not _recoverable(out, ENCODED_KEY.encode()), out
        assert out.startswith("dump: ") and out.endswith(" end")


def test_key_symbols_are_removed_percent_encoded_hex_and_json_escaped() -> None:
    from urllib.parse import quote

    odd = 'tok+en/with=signs&"quote\\'
    Secret(odd)
    shapes = [quote(odd, safe=""), quote(odd), quote(odd, safe="").lower(), odd.encode().hex(),
              odd.encode().hex().upper(), json.dumps(odd)[1:-1]]
    for shape in shapes:
        assert shape != odd
        assert redact(f"?key={shape}&x=1") == "?key=sk-****&x=1", shape


def test_every_form_is_seen_by_the_fast_precheck() -> None:
    """Hot paths skip ``redact`` unless ``might_hold_key`` says it could change the text: every encoded form of a
    known key must make it say so."""
    from tokenhot_nb._config import key_forms, might_hold_key

    Secret(ENCODED_KEY)
    forms = key_forms(ENCODED_KEY)
    assert len(forms) >= 6 and ENCODED_KEY in forms
    for form in forms:
        text = f"before {form} after"
        assert might_hold_key(text) and redact(text) == "before sk-**** after", form
    assert not might_hold_key("nothing to see, not even c2st or 736b")


def test_redact_returns_clean_text_itself_and_still_masks_every_shape() -> None:
    """Call sites call ``redact`` plainly, so it must be cheap on the common case: text holding no key comes back
    as the very same object (nothing copied), while a known key, a key given only to this call and an
    ``sk-`` key nobody announced are still masked."""
    Secret(ENCODED_KEY)
    clean = "a long answer with no key in it " * 200
    assert redact(clean) is clean
    assert redact(f"x {ENCODED_KEY} y") == "x sk-**** y"
    assert redact("x other-token-1234 y", "other-token-1234") == "x sk-**** y"
    assert redact("x sk-Ab3" + "c" * 30 + " y") == "x sk-**** y"


def test_encoded_forms_of_a_secret_given_only_to_redact() -> None:
    import base64

    secret = "custom-relay-token-42"  # not a Secret: nothing remembers it, redact still sees its shapes
    b64 = base64.b64encode(f"Bearer {secret}".encode()).decode()
    assert not _recoverable(redact(b64, secret), secret.encode())
    assert _recoverable(redact(b64), secret.encode())  # without it nothing knows that value


def test_short_values_only_match_themselves() -> None:
    """Encodings of a value under MIN_KNOWN_KEY are a few characters common in ordinary text: not searched."""
    import base64

    short = "abc1234"
    assert redact(f"x {short} {base64.b64encode(short.encode()).decode()}", short) == "x sk-**** YWJjMTIzNA=="


def test_ordinary_text_and_base64_are_left_alone() -> None:
    Secret(ENCODED_KEY)
    text = "plain words, a data URL data:image/png;base64,iVBORw0KGgoAAAANSUhEUg== and 100% of 42%2F"
    assert redact(text) == text


def test_the_first_part_of_a_key_at_the_end_of_a_text_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream's view holds back what may be a key still arriving: the start of anything shaped like ``sk-…``
    (until the pattern can mask it), and any first part of a known key in any of its forms."""
    from tokenhot_nb import _config
    from tokenhot_nb._config import key_forms, key_start_at_end

    monkeypatch.setattr(_config, "_known_keys", set())  # (only this test's key: others' forms would hold more)
    monkeypatch.setattr(_config, "_known_forms", ())
    assert key_start_at_end("nothing to hold here.") == 0
    assert key_start_at_end("cats") == 1 and key_start_at_end("use sk-") == 3 and key_start_at_end("a sk-learn") == 8
    assert key_start_at_end("k=sk-" + "a" * 15) == 18 and key_start_at_end("k=sk-" + "a" * 16) == 0  # (masked now)
    assert redact("k=sk-" + "a" * 16) == "k=sk-****"
    plain = "tkn_HELDBACK_no_prefix_24680acegik"
    Secret(plain)
    forms = key_forms(plain)
    assert len(forms) > 5
    for form in forms:
        for cut in range(1, len(form)):
            assert key_start_at_end("answer: " + form[:cut]) == cut, (form, cut)
        assert key_start_at_end(f"answer: {form}") == 0  # whole: redaction removes it
    assert key_start_at_end(plain[:10] + " and then other words.") == 0  # not at the end: it was not a key
    assert key_start_at_end(plain[:3] + plain[:12]) == 12  # the longest start that fits


@pytest.mark.parametrize("kw,words", [
    ({"api_key": 123}, "The API key must be a string, not int"),
    ({"mode": 1}, "mode must be a string, not int"),
    ({"store": 3}, "store must be a folder path, not int"),
    ({"read_timout": 5}, "Unknown setting 'read_timout'. Did you mean read_timeout=\\?"),
    ({"read_timeout": "slow"}, "read_timeout must be a number > 0, not 'slow'"),
    ({"connect_timeout": -1}, "connect_timeout must be a number > 0, not -1"),
    ({"poll_interval": float("nan")}, "poll_interval must be a number"),
    ({"max_retries": 2.5}, "max_retries must be a whole number >= 0"),
    ({"max_retries": True}, "max_retries must be a whole number"),
    ({"poll_interval": 0}, "poll_interval must be a number > 0"),  # a poll loop that never sleeps
    # a cap of 0 refused every answer and every file after the call was made (and paid for)
    ({"response_cap": 0}, "response_cap must be a whole number > 0, not 0"),
    ({"download_cap": 0}, "download_cap must be a whole number > 0, not 0"),
    # a poll interval of inf said at once that a video "was not done after 1800 s"; a floor of inf stopped every file
    ({"poll_interval": float("inf")}, r"^poll_interval must be a number > 0 \(finite\), not inf\."),
    ({"download_min_rate": float("inf")}, r"^download_min_rate must be a number >= 0 \(finite\), not inf\."),
])
def test_settings_of_the_wrong_shape_are_one_config_error(tmp_path: Path, kw: dict[str, object], words: str) -> None:
    """They used to be an AttributeError/TypeError from inside, or accepted and fail (or hang) in the first call."""
    kw.setdefault("store", tmp_path / "s")
    with pytest.raises(ConfigError, match=words) as info:
        Settings.from_env(**kw)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_good_numbers_still_pass(tmp_path: Path) -> None:
    s = Settings.from_env(store=tmp_path, read_timeout=5, connect_timeout=2.5, max_retries=0, stream_deadline=0)
    assert (s.read_timeout, s.connect_timeout, s.max_retries, s.stream_deadline) == (5, 2.5, 0, 0)
    assert Settings.from_env(store=tmp_path, read_timeout=float("inf")).read_timeout == float("inf")  # (no limit)



def test_numbers_of_other_types_are_taken_as_numbers() -> None:
    """numpy's ints and floats, and a whole float for a whole-number setting (download_cap=1e9), were refused
    by the checks made when the session is made: they are numbers."""
    import numpy as np

    s = Settings(max_retries=np.int64(3), download_cap=1e9, read_timeout=np.float32(5), poll_interval=np.int8(1))
    assert (s.max_retries, s.download_cap, s.read_timeout, s.poll_interval) == (3, 1_000_000_000, 5.0, 1.0)
    assert type(s.max_retries) is int and type(s.download_cap) is int and type(s.read_timeout) is float


@pytest.mark.parametrize(("name", "bad"), [("download_cap", "2GB"), ("download_cap", 0), ("response_cap", -1),
                                           ("read_timeout", "slow"), ("poll_interval", float("inf"))])
def test_a_number_set_later_is_checked_as_at_the_start(name: str, bad: object) -> None:
    """The cap hints say ``session.settings.download_cap = <bytes>``: a "2GB" there was taken, to fail inside the
    next paid call (a TypeError comparing sizes); it is one ConfigError line where it is set, the old value kept."""
    settings = Settings(mode="offline")
    before = getattr(settings, name)
    with pytest.raises(ConfigError, match=rf"^{name} must be ") as info:
        setattr(settings, name, bad)
    assert "\n" not in str(info.value) and getattr(settings, name) == before
    settings.download_cap = 4 * 1024**3
    settings.response_cap = 1e9  # (a whole number written as a float: taken, as at Session(…))
    assert (settings.download_cap, settings.response_cap) == (4 * 1024**3, 10**9)
    assert isinstance(settings.response_cap, int)
