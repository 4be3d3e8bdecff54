"""Done-when of the live catalogue, over real loopback HTTP: a relay whose price table has models the built-in
catalogue does not know — list them, call them, record and replay them with no code change; with the relay's
table (or the whole relay) down, the cached table is used."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from _catalog_support import Relay

from tokenhot_nb import Session, catalog
from tokenhot_nb.errors import UnknownModelError

KEY = "sk-relay-TESTKEY-0002-abcdef"


@pytest.fixture
def relay() -> Iterator[Relay]:
    r = Relay()
    try:
        yield r
    finally:
        r.stop()


def live(relay: Relay, store: Path, **kw: object) -> Session:
    return Session(api_key=KEY, base_url=relay.url, mode="live", store=store, poll_interval=0.01, max_retries=0,
                   **kw)


def test_a_model_only_the_relay_sells_lists_calls_records_and_replays(relay: Relay, tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError):
        catalog.model("deepseek-v4-pro")  # the built-in view does not know it
    with live(relay, tmp_path) as s:
        listed = s.models("chat")
        ds = next(m for m in listed if m.id == "deepseek-v4-pro")
        assert ds.source == "live" and ds.price is not None and ds.family == "openai-chat"
        answer = s.chat("Say hello.", model="deepseek-v4-pro")
        assert answer.text and answer.entry.status == "ok" and answer.entry.model == "deepseek-v4-pro"
        assert s.history[-1].params["model"] == {"id": "deepseek-v4-pro", "family": "openai-chat"}
        code = s.history[-1].to_code()
        assert "deepseek-v4-pro" in code and "openai-chat" in code
        # the price table's id for a menu model (its key's list has the menu id too): one model, sent by the menu id
        dash = s.model("doubao-seedance-2-0")
        assert dash.id == "doubao-seedance-2.0" and dash.family == "seedance" and dash.price is not None
        assert s.model("doubao-seedance-2.0") == dash and dash.source == "both"
    assert relay.hits["/api/pricing"] == 1 and all(a is None for a in relay.auth_seen)
    relay.stop()  # the whole relay is gone: replay answers from the store, the table from the cache
    with Session(mode="replay", base_url=relay.url, store=tmp_path) as r:
        again = r.chat("Say hello.", model="deepseek-v4-pro")
        assert again.text == answer.text and again.entry.id == answer.entry.id
        assert r.model("deepseek-v4-pro").price is not None


def test_with_the_relays_table_down_the_cached_table_is_used_and_the_call_works(relay: Relay,
                                                                                 tmp_path: Path) -> None:
    with live(relay, tmp_path) as s:
        s.models()
    relay.tables_up = False
    with live(relay, tmp_path, catalog_ttl=0) as s:  # the cache has expired: a refresh is due and fails
        with pytest.warns(UserWarning, match="could not read the model table"):
            listed = s.models()
        assert "deepseek-v4-pro" in {m.id for m in listed} and "last refresh failed" in listed.note
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            answer = s.chat("Still there?", model="deepseek-v4-pro", stream=False)
        assert answer.text and answer.entry.status == "ok"
    assert relay.hits["/api/pricing"] >= 2


def test_a_video_model_only_the_relay_sells_runs_with_the_generic_task_body(tmp_path: Path) -> None:
    from _catalog_support import ROWS

    rows = [*ROWS, {"model_name": "acme-motion-2", "quota_type": 0, "model_ratio": 37.5,
                    "supported_endpoint_types": ["openai-video"], "output_modalities": ["视频"]},
            {"model_name": "kling-v3-turbo", "quota_type": 0, "model_ratio": 37.5,
             "supported_endpoint_types": ["openai-video"], "output_modalities": ["视频"]}]
    relay = Relay(rows)
    try:
        with live(relay, tmp_path) as s:
            assert s.model("kling-v3-turbo").family == "kling"  # a new model of a known vendor: its family
            info = s.model("acme-motion-2")
            assert (info.family, info.source) == ("video-generic", "live")
            clip = s.video("a paper boat on a pond", model="acme-motion-2", duration=4, resolution="720p",
                           progress=False)
            assert clip.entry.status == "ok" and clip.path.exists()
            sent = clip.entry.request["json"]
            assert sent["model"] == "acme-motion-2" and sent["duration"] == 4 and sent["size"] == "720p"
            assert clip.entry.params["model"] == {"id": "acme-motion-2", "family": "video-generic"}
    finally:
        relay.stop()
    with Session(mode="replay", base_url=relay.url, store=tmp_path) as r:
        again = r.video("a paper boat on a pond", model="acme-motion-2", duration=4, resolution="720p",
                        progress=False)
        assert again.entry.id == clip.entry.id


def test_a_model_the_table_prices_twice_says_so_in_its_estimate_and_its_row(tmp_path: Path) -> None:
    """A table with two rows for one model at two prices makes its price unknown (which one the relay bills is not
    known), and the estimate said "the price table states no price for it", which sends the user to a table that
    does state one, twice. The estimate, and the finished call's cost, now say the table prices it twice."""
    from _catalog_support import ROWS

    first = next(r for r in ROWS if r["model_name"] == "gpt-5.2")
    r = Relay([*ROWS, {**first, "model_ratio": first["model_ratio"] * 4}])
    try:
        with live(r, tmp_path / "s") as s:
            est = s.estimate("chat", "hi", model="gpt-5.2")
            assert not est.known and "twice" in est.detail and "no price" not in est.detail
            res = s.chat("hi", model="gpt-5.2", stream=False, thread=False)
            assert res.cost is not None and not res.cost.known and "twice" in res.cost.detail
    finally:
        r.stop()
