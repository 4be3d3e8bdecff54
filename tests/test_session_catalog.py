"""A session's catalogue: built-in ⊕ its service's table, read lazily, cached on disk with a TTL, kept on failure."""

from __future__ import annotations

import json
import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from _catalog_support import ROWS, STATUS, pricing_body

from tokenhot_nb import Session, catalog
from tokenhot_nb._catalog_live import cache_path
from tokenhot_nb.client import RetryPolicy
from tokenhot_nb.errors import ConfigError, UnknownModelError, UnsupportedOptionError
from tokenhot_nb.sim import Faults, Server

KEY = "sk-catalog-TESTKEY-0001-abcdef"
BASE = "https://relay.test"


class Service:
    """A scripted service: its tables, a switch to break them, and a count of what was asked."""

    def __init__(self) -> None:
        self.rows = list(ROWS)
        self.status: Any = STATUS
        self.groups: Any = {"default": 1}  # the price table's group_ratio (None: the table has none)
        self.down = False
        self.limited: set[str] = set()  # paths the global limiter answers (§10.5: an empty 429)
        self.hits: Counter[str] = Counter()
        self.auth: dict[str, str | None] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.hits[path] += 1
        self.auth[path] = request.headers.get("authorization")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if path in self.limited:
            return httpx.Response(429)
        if path == "/api/pricing":
            body = pricing_body(self.rows)
            if self.groups is None:
                del body["group_ratio"]
            else:
                body["group_ratio"] = self.groups
            return httpx.Response(200, json=body)
        if path == "/api/status":
            return httpx.Response(200, json=self.status)
        if path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": r["model_name"]} for r in self.rows]})
        if path == "/v1/chat/completions":
            body = json.loads(request.content)
            return httpx.Response(200, json={"id": "c1", "object": "chat.completion", "model": body["model"],
                                             "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                                 "role": "assistant", "content": f"hi from {body['model']}"}}],
                                             "usage": {"prompt_tokens": 3, "completion_tokens": 4,
                                                       "total_tokens": 7}})
        return httpx.Response(404, json={"error": {"message": "Invalid URL", "type": "invalid_request_error"}})


@pytest.fixture
def service() -> Service:
    return Service()


def session(store: Path, service: Service, **kw: Any) -> Session:
    kw.setdefault("mode", "live")
    kw.setdefault("max_retries", 0)
    return Session(api_key=KEY, base_url=BASE, store=store, transport=httpx.MockTransport(service.handler), **kw)


def test_models_reads_the_service_once_then_the_disk_cache(tmp_path: Path, service: Service) -> None:
    with session(tmp_path, service) as s:
        listed = s.models()
        ids = {m.id for m in listed}
        assert {"deepseek-v4-pro", "gpt-5.2", "whisper-1", "doubao-seedance-2-0"} <= ids
        assert [u.id for u in listed.unclassified] == ["suno-v4"]
        assert [m.id for m in s.models("rerank")] == ["jina-reranker-m0"] and not s.models("rerank").unclassified
        assert [m.id for m in s.models("embed")] == ["jina-embeddings-v4"] and not s.models("embed").unclassified
        assert "deepseek-v4-pro" in {m.id for m in s.models("chat")} and not s.models("chat").unclassified
        s.models()
    assert service.hits == {"/api/pricing": 1, "/api/status": 1, "/v1/models": 1}
    # the public tables go without the key; the key's list with it
    assert service.auth["/api/pricing"] is None and service.auth["/api/status"] is None
    assert service.auth["/v1/models"] == f"Bearer {KEY}"
    path = cache_path(tmp_path, BASE)
    assert path.exists() and KEY not in path.read_text(encoding="utf-8")
    with session(tmp_path, service) as s2:  # a new session (kernel): warm cache, no request
        assert s2.model("deepseek-v4-pro").source == "live"
        assert "read just now" in s2.models().note
    assert service.hits["/api/pricing"] == 1


def test_session_creation_touches_nothing_and_a_built_in_name_reads_prices_once(tmp_path: Path,
                                                                                 service: Service) -> None:
    s = session(tmp_path, service)
    assert not service.hits and not cache_path(tmp_path, BASE).exists()  # creating a session is free
    res = s.chat("hello", model="gpt-5.2", stream=False)
    # a built-in name resolves without the table; the call is then priced from it, read once and cached
    assert res.text and service.hits["/api/pricing"] == 1 and cache_path(tmp_path, BASE).exists()
    s.chat("again", model="gpt-5.2", stream=False)
    assert service.hits["/api/pricing"] == 1
    s.close()


def test_a_model_only_the_service_knows_is_read_on_first_use(tmp_path: Path, service: Service) -> None:
    with session(tmp_path, service) as s:
        res = s.chat("hello", model="deepseek-v4-pro", stream=False)
        assert res.text == "hi from deepseek-v4-pro"
        assert res.entry.params["model"] == {"id": "deepseek-v4-pro", "family": "openai-chat"}
        assert res.entry.model == "deepseek-v4-pro"
        info = s.model("deepseek-v4.pro".replace(".", "-"))
        assert info.price is not None and info.price.completion_ratio == 4
        # a typo does not read the table again while it is fresh, and says what it meant
        with pytest.raises(UnknownModelError) as exc:
            s.chat("x", model="deepseek-v4-prox")
        assert "deepseek-v4-pro" in exc.value.suggestions
    assert service.hits["/api/pricing"] == 1


def test_ttl_expiry_and_refresh_read_again(tmp_path: Path, service: Service) -> None:
    with session(tmp_path, service, catalog_ttl=0) as s:
        s.models()
        s.models()
    assert service.hits["/api/pricing"] == 2  # TTL 0: every listing reads the table
    with session(tmp_path, service) as s:
        s.models()
        service.rows.append({"model_name": "deepseek-v5", "supported_endpoint_types": ["openai"]})
        assert "deepseek-v5" not in {m.id for m in s.models()}
        assert "deepseek-v5" in {m.id for m in s.models(refresh=True)}
    assert service.hits["/api/pricing"] == 3


def test_a_family_typo_is_said_at_once_and_never_reads_the_table(tmp_path: Path, service: Service) -> None:
    """Family names are the catalogue's own data: reading the service (even with an expired table) cannot add
    one, so a typo fails before any request, with family names, never as an unknown model."""
    from tokenhot_nb.catalog import UnknownFamilyError

    with session(tmp_path, service, catalog_ttl=0) as s:
        for name in ("brand-new-model", "gpt-5.2", {"id": "brand-new-model", "family": "openai-chat"}):
            with pytest.raises(UnknownFamilyError, match=r"^There is no model family 'openai-chatt'\. Did you "
                                                         r"mean 'openai-chat'") as info:
                s.model(name, family="openai-chatt")
            assert not isinstance(info.value, UnknownModelError)
        assert not service.hits
        # a family that exists: the model is built from it, with the table merged in (its price, when it has one)
        assert s.model("brand-new-model", family="openai-chat").kind == "chat"
        assert s.model("deepseek-v4-pro", family="openai-chat").price is not None
    assert service.hits["/api/pricing"] == 2  # catalog_ttl=0: each lookup reads it again


def test_ttl_from_the_environment(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENHOT_CATALOG_TTL", "0.5")
    assert session(tmp_path, service).settings.catalog_ttl == 0.5
    monkeypatch.setenv("TOKENHOT_CATALOG_TTL", "soon")
    with pytest.raises(ConfigError, match="TOKENHOT_CATALOG_TTL"):
        session(tmp_path, service)


def test_a_failed_refresh_keeps_the_last_good_table_and_says_so_once(tmp_path: Path, service: Service) -> None:
    with session(tmp_path, service) as s:
        s.models()
    service.down = True
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning, match="could not read the model table") as got:
            listed = s.models(refresh=True)
        said = [w for w in got if issubclass(w.category, UserWarning)]  # not a stray GC ResourceWarning (3.13)
        assert len(said) == 1 and "read just now" in str(said[0].message) and KEY not in str(said[0].message)
        assert "deepseek-v4-pro" in {m.id for m in listed} and "last refresh failed" in listed.note
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once: the second failure is quiet
            assert "deepseek-v4-pro" in {m.id for m in s.models(refresh=True)}
        assert s.model("deepseek-v4-pro").family == "openai-chat"


def test_no_table_and_no_service_falls_back_to_the_built_in_catalogue(tmp_path: Path, service: Service) -> None:
    service.down = True
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning, match="built-in catalogue only"):
            listed = s.models()
        assert {m.source for m in listed} == {"built-in"} and "gpt-5.2" in {m.id for m in listed}
        with pytest.raises(UnknownModelError):
            s.model("deepseek-v4-pro")


class Sleeps(list[float]):
    """An injected sleep that records the delays instead of waiting."""

    async def __call__(self, delay: float) -> None:
        self.append(delay)


def limited(sim: Server, store: Path, reads: int) -> tuple[Session, Sleeps]:
    """A live session on the simulator whose global limiter turns away its first ``reads`` catalogue reads."""
    sim.set_faults(Faults(catalogue_429=reads))
    s = Session(api_key=KEY, base_url=sim.url, store=store, mode="live")
    sleeps = Sleeps()
    s.client.retry = RetryPolicy(max_retries=2, sleep=sleeps, rand=lambda: 0.0)
    return s, sleeps


def test_the_global_limiters_empty_429_on_the_table_falls_back_to_the_built_in_catalogue(
        tmp_path: Path, sim_server: Server) -> None:
    """§10.5: the limiter's 429 is empty and has no Retry-After. The table (a free GET) is asked again with the
    backoff, no more than max_retries times, then the built-in catalogue serves, said in one line, once."""
    s, sleeps = limited(sim_server, tmp_path, reads=100)
    with s:
        with pytest.warns(UserWarning) as got:
            listed = s.models()
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "\n" not in said[0], said
        assert "/api/pricing" in said[0] and "429" in said[0] and "built-in catalogue only" in said[0]
        assert sleeps == [0.5, 1.0]  # the backoff (no Retry-After to honour), then it stops
        assert {m.source for m in listed} == {"built-in"} and "gpt-5.4" in {m.id for m in listed}
        assert s.chat("hi", model="gpt-5.4", stream=False).text  # calls still work on the built-in entry


def test_a_table_read_the_limiter_turned_away_once_is_read_on_the_retry(tmp_path: Path, sim_server: Server) -> None:
    s, sleeps = limited(sim_server, tmp_path, reads=1)
    with s, warnings.catch_warnings():
        warnings.simplefilter("error")  # read in the end: nothing to warn about
        assert s.model("gpt-image-2").source == "both"
    assert sleeps == [0.5]


def test_a_table_read_whole_but_for_the_limited_status_and_key_list_says_so_once(tmp_path: Path,
                                                                                service: Service) -> None:
    """The price table came, but the limiter turned away /api/status and /v1/models: the prices are kept, and the
    user hears in one line what is missing (it was kept silently as the whole table)."""
    service.limited = {"/api/status", "/v1/models"}
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning) as got:
            assert s.model("deepseek-v4-pro").price is not None
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "\n" not in said[0] and "not all of it" in said[0], said
        assert "/api/status" in said[0] and "/v1/models" in said[0] and "429" in said[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once
            s.model("gpt-5.2")
            s.catalog.table.fetched_at -= 600  # type: ignore[union-attr]  # (10 min on: a partial table is read again)
            s.models()
            assert service.hits["/api/pricing"] == 2  # the limiter still refuses the same: not said again
        service.limited = {"/v1/models"}
        s.catalog.table.fetched_at -= 600  # type: ignore[union-attr]
        with pytest.warns(UserWarning, match="/v1/models") as got:
            s.models()  # what it lacks changed: said
        assert not any("/api/status" in str(w.message) for w in got)


def age_cache(store: Path, hours: float) -> None:
    """Make the cached table of BASE ``hours`` older than it is."""
    path = cache_path(store, BASE)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["fetched_at"] -= hours * 3600
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_partly_read_table_cached_says_so_again_in_the_next_session(tmp_path: Path, service: Service) -> None:
    """A later session that is served the partly read table from the disk cache hears of its gaps too (it trusted it
    silently for a whole TTL)."""
    service.limited = {"/api/status", "/v1/models"}
    with session(tmp_path, service) as s, pytest.warns(UserWarning):
        s.models()
    with session(tmp_path, service) as s2:
        with pytest.warns(UserWarning) as got:
            assert s2.model("deepseek-v4-pro").price is not None
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "\n" not in said[0] and "not all of it" in said[0] and "cached" in said[0], said
        assert "/api/status" in said[0] and "/v1/models" in said[0]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # said once
            s2.models()
    assert service.hits["/api/pricing"] == 1  # (fresh: served from the disk, nothing read again)
    with session(tmp_path, service, mode="replay") as r, warnings.catch_warnings():
        warnings.simplefilter("error")  # a replay reads nothing: models(refresh=True) would not help; not said
        assert r.model("deepseek-v4-pro").price is not None


def test_a_partly_read_table_is_read_again_soon_not_kept_for_the_ttl(tmp_path: Path, service: Service) -> None:
    service.limited = {"/api/status", "/v1/models"}
    with session(tmp_path, service) as s, pytest.warns(UserWarning):
        s.models()
    age_cache(tmp_path, 0.5)  # half an hour: well inside the TTL (24 h), past a partial table's short one
    service.limited = set()
    with session(tmp_path, service) as s2, warnings.catch_warnings():
        warnings.simplefilter("error")  # read whole now: nothing to warn about
        listed = s2.models()
        assert "read just now" in listed.note
        assert s2.model("deepseek-v4-pro").price.top_up_rate == STATUS["data"]["price"]  # type: ignore[union-attr]
    assert service.hits["/api/pricing"] == 2 and service.hits["/api/status"] == 2
    with session(tmp_path, service) as s3, warnings.catch_warnings():
        warnings.simplefilter("error")
        s3.models()  # the whole table, cached: kept for the TTL
    assert service.hits["/api/pricing"] == 2


def test_a_partly_read_cached_table_kept_when_the_service_is_down_says_both_in_one_line(
        tmp_path: Path, service: Service) -> None:
    service.limited = {"/api/status"}
    with session(tmp_path, service) as s, pytest.warns(UserWarning):
        s.models()
    age_cache(tmp_path, 0.5)
    service.down = True
    with session(tmp_path, service) as s2:
        with pytest.warns(UserWarning) as got:
            assert s2.model("deepseek-v4-pro").price is not None  # the prices are kept
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "could not read" in said[0] and "only in part" in said[0], said
        assert "/api/status" in said[0]


def test_a_status_that_answers_200_without_its_rates_is_said_not_kept_silently(tmp_path: Path,
                                                                                 service: Service) -> None:
    """new-api answers some refusals as 200 with ``{"success": false, …}``: the status gave no rate, and ¥ amounts
    fell back to Tokenhot's without a word."""
    service.status = {"success": False, "message": "访问量过大"}
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning) as got:
            assert s.model("deepseek-v4-pro").price is not None
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "\n" not in said[0] and "/api/status" in said[0] and "¥7" in said[0], said


def test_a_price_table_too_long_to_keep_says_what_was_left_out_and_is_kept_for_the_ttl(
        tmp_path: Path, service: Service) -> None:
    """Rows past MAX_ROWS were dropped without a word: a model listed there was at an unknown price, unexplained."""
    from tokenhot_nb._catalog_live import MAX_ROWS

    service.rows = [{"model_name": f"m-{i}", "model_ratio": 1, "supported_endpoint_types": ["openai"]}
                    for i in range(MAX_ROWS)] + list(ROWS)
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning) as got:
            assert s.model("gpt-5.2").price is None  # (its row was past the cut: unknown, not a guess)
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "\n" not in said[0], said
        assert f"{MAX_ROWS + len(ROWS):,} rows" in said[0] and f"first {MAX_ROWS:,}" in said[0]
    # the cached copy says it too, and is not read again before the TTL
    with session(tmp_path, service) as s2, pytest.warns(UserWarning, match="only the first"):
        s2.models()
    assert service.hits["/api/pricing"] == 1


def test_a_refresh_the_limiter_cut_short_keeps_the_rate_and_key_list_it_had(tmp_path: Path, service: Service) -> None:
    """The table expired; on the refresh the limiter turned away /api/status and /v1/models: the prices are new,
    the site's rate (¥7.3) and the key's list the last read had are kept (¥ amounts fell back to ¥7, the list
    was lost, and the table was read again every 2 min)."""
    service.status = {"success": True, "data": {"quota_per_unit": 500000, "price": 7.3}}
    with session(tmp_path, service) as s:
        s.models()
        assert s.model("deepseek-v4-pro").live["for_key"] is True
    age_cache(tmp_path, 25)  # past the TTL (24 h)
    service.limited = {"/api/status", "/v1/models"}
    with session(tmp_path, service) as s2, warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is missing: nothing to say
        info = s2.model("deepseek-v4-pro")
        assert info.price is not None and info.price.top_up_rate == 7.3 and info.live["for_key"] is True
        assert "read just now" in s2.models().note
    assert service.hits["/api/pricing"] == 2
    with session(tmp_path, service) as s3:
        s3.models()  # (whole, as cached: kept for the TTL, not read again in 2 min)
    assert service.hits["/api/pricing"] == 2


@pytest.mark.parametrize("rows", [[], [{"model_name": "m\x1b[2J"}, {"no": "name"}]], ids=["empty", "none-usable"])
def test_a_price_table_that_lists_no_model_is_a_failed_read_and_the_last_table_is_kept(
        tmp_path: Path, service: Service, rows: list[Any]) -> None:
    """``{"success": true, "data": []}`` was a table: cached for a day, every model at an unknown price, unsaid."""
    with session(tmp_path, service) as s:
        s.models()
    age_cache(tmp_path, 25)
    service.rows = rows
    with session(tmp_path, service) as s2:
        with pytest.warns(UserWarning) as got:
            info = s2.model("deepseek-v4-pro")  # the last good table's price
        assert info.price is not None and info.price.completion_ratio == 4
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "lists no model" in said[0] and "using the table read" in said[0], said


def test_a_price_group_the_table_states_no_ratios_for_is_said_once(tmp_path: Path, service: Service) -> None:
    """A table without ``group_ratio``: a ``vip`` key's prices were shown at ×1 without a word (a guess)."""
    service.groups = None
    with session(tmp_path, service, price_group="vip") as s:
        with pytest.warns(UserWarning) as got:
            assert s.model("deepseek-v4-pro").price is not None
        said = [str(w.message) for w in got if issubclass(w.category, UserWarning)]
        assert len(said) == 1 and "'vip'" in said[0] and "no group ratios" in said[0], said
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s.models(refresh=True)  # said once
    service.groups = {"default": 1, "vip": 0.8}
    with session(tmp_path, service, price_group="vip", catalog_ttl=0) as s2, warnings.catch_warnings():
        warnings.simplefilter("error")  # the table states it: nothing to say
        assert s2.model("deepseek-v4-pro").price.group_ratio == 0.8  # type: ignore[union-attr]
    service.groups = None
    with session(tmp_path, service, catalog_ttl=0) as s3, warnings.catch_warnings():
        warnings.simplefilter("error")  # no price_group: the default group's prices are the key's
        s3.models()


def test_replay_mode_reads_only_the_cache(tmp_path: Path, service: Service) -> None:
    with session(tmp_path, service) as s:
        s.models()
    before = sum(service.hits.values())
    with session(tmp_path, service, mode="replay", catalog_ttl=0) as r:
        assert r.model("deepseek-v4-pro").source == "live"
        r.models(refresh=True)
    assert sum(service.hits.values()) == before


def test_offline_sessions_read_the_simulator_and_keep_a_copy_only_for_replay(tmp_path: Path) -> None:
    with Session(mode="offline", store=tmp_path) as s:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the simulator serves its tables: nothing to warn about
            listed = s.models()
        assert {"gpt-5.2", "whisper-1"} <= {m.id for m in listed}
        ds = s.model("deepseek-v4-pro")  # only the simulator's table knows it: the simulator is the service
        assert ds.source == "live" and ds.price is not None and s.model("gpt-5.2").source == "both"
        assert s.chat("hello", model="deepseek-v4-pro", stream=False).text
        copy = s.catalog.cache_path
    assert copy.parent == tmp_path / "catalog" and copy.name.startswith("simulator-") and copy.exists()
    copy.write_text('{"rows": "a damaged copy"}', encoding="utf-8")  # offline never reads it back
    with Session(mode="offline", store=tmp_path) as again:
        assert again.model("deepseek-v4-pro").price is not None
    assert json.loads(copy.read_text(encoding="utf-8"))["rows"] != "a damaged copy"  # the simulator, read again


def test_a_replay_of_an_offline_recording_prices_and_lists_as_the_recording_did(tmp_path: Path) -> None:
    """No key: record offline, replay. The replay has no service to read; it uses the simulator's table the
    recording read (a model only that table knows shows its price, the listing is the same)."""
    with Session(mode="offline", store=tmp_path) as s:
        recorded = (s.model("deepseek-v4-pro").price_label(), sorted(m.id for m in s.models()))
        s.chat("hi", model="deepseek-v4-pro", stream=False)
    with Session(mode="replay", store=tmp_path) as r:
        assert (r.model("deepseek-v4-pro").price_label(), sorted(m.id for m in r.models())) == recorded
        assert "models from the simulator's table" in r.models().note
        assert recorded[0] == "$0.56/M in · $1.68/M out"
        assert r.chat("hi", model="deepseek-v4-pro", stream=False).text


def test_a_broken_cache_file_is_ignored(tmp_path: Path, service: Service) -> None:
    path = cache_path(tmp_path, BASE)
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    with session(tmp_path, service) as s:
        assert "deepseek-v4-pro" in {m.id for m in s.models()}
    assert json.loads(path.read_text(encoding="utf-8"))["rows"]


def test_a_fresh_session_answers_with_the_service_price_whatever_came_before(tmp_path: Path,
                                                                             service: Service) -> None:
    """session.model(name) merges the service's table on a fresh session (it was None/'' until some call read
    it), reading it once and then from the disk cache."""
    with session(tmp_path, service) as s:
        info = s.model("gpt-image-2")
        assert info.source == "both" and info.price is not None and info.price_label() == "$0.028/call"
        assert s.model("gpt-5.2").price_label() == "$1.25/M in · $10/M out"
    assert service.hits["/api/pricing"] == 1
    with session(tmp_path, service) as s2:  # a new kernel: the cached table, no request
        assert s2.model("gpt-image-2").price_label() == "$0.028/call"
    assert service.hits["/api/pricing"] == 1
    with Session(mode="offline", store=tmp_path / "offline") as off:  # the simulator's table, in-process
        info = off.model("gpt-image-2")
        assert info.source == "both" and info.price_label() == "$0.028/call"


def test_an_unreachable_table_is_not_asked_again_on_every_lookup(tmp_path: Path, service: Service) -> None:
    service.down = True
    with session(tmp_path, service) as s:
        with pytest.warns(UserWarning, match="could not read the model table"):
            assert s.model("gpt-5.2").price is None
        for _ in range(3):
            assert s.model("gpt-image-2").source == "built-in"
        assert service.hits["/api/pricing"] == 1
        service.down = False
        assert s.model("gpt-5.2", refresh=True).price is not None  # refresh=True does ask


def test_replay_resolves_a_model_only_the_history_recorded(tmp_path: Path) -> None:
    """Offline, deepseek-v4-pro is known from the simulator's table only; its row records {"id", "family"}, so
    a replay (no table, no network, no catalog/ folder) resolves, lists and replays it from the history."""
    with Session(mode="offline", store=tmp_path) as s:
        said = s.chat("hi", model="deepseek-v4-pro", stream=False).text
    shutil.rmtree(tmp_path / "catalog")  # (a store copied without its catalog/ folder, or recorded before it)
    with Session(mode="replay", store=tmp_path) as r:
        again = r.chat("hi", model="deepseek-v4-pro", stream=False)
        assert again.text == said and again.entry.params["model"] == {"id": "deepseek-v4-pro",
                                                                        "family": "openai-chat"}
        info = r.model("deepseek-v4-pro")
        assert (info.family, info.kind, info.source, info.ref) == (
            "openai-chat", "chat", "live", {"id": "deepseek-v4-pro", "family": "openai-chat"})
        listed = r.models("chat")
        assert "deepseek-v4-pro" in {m.id for m in listed} and "1 models recorded in the history" in listed.note
        assert "deepseek-v4-pro" in str(listed.table("deepseek")._repr_mimebundle_())
        with pytest.raises(UnknownModelError):  # what neither knows is still unknown
            r.model("deepseek-v9")
        with pytest.raises(UnsupportedOptionError, match="deepseek-v4-pro is a chat model"):
            r.image("a cat", model="deepseek-v4-pro")  # what the history recorded stays what it was
    assert not (tmp_path / "catalog").exists()
    with Session(mode="replay", store=tmp_path / "none") as empty:  # no history: a lookup creates no store
        assert empty.model("gpt-5.2").id == "gpt-5.2" and len(empty.models()) == len(catalog.models())
    assert not (tmp_path / "none").exists()


def test_seedance_spellings_are_one_model_whatever_the_order(tmp_path: Path) -> None:
    """Offline the simulator lists doubao-seedance-2.0 (docs) and prices doubao-seedance-2-0 (table): one entry,
    the same before and after models(), so what a call records no longer depends on the order of calls."""
    with Session(mode="offline", store=tmp_path) as s:
        before = s.model("doubao-seedance-2-0")
        listed = s.models("video")
        after = s.model("doubao-seedance-2-0")
        assert before == after and before.id == "doubao-seedance-2.0" and after.source == "both"
        assert after.price is not None and after.price_label().startswith("per task")
        loose = [m.id.replace(".", "-").lower() for m in listed]
        assert len(loose) == len(set(loose)), "a '.'/'-' spelling is listed twice"
        assert len(listed) == len(s.models("video"))


def test_recordings_under_another_spelling_still_replay(tmp_path: Path) -> None:
    """Earlier versions sent doubao-seedance-2-0 as a live-only {"id", "family"} once the table was read; a
    replay, which now resolves the name to doubao-seedance-2.0, still finds those recordings."""
    from dataclasses import replace

    with Session(mode="offline", store=tmp_path) as s:
        old = replace(s.model("doubao-seedance-2.0"), id="doubao-seedance-2-0", display_names=(), aliases=(),
                      source="live")  # the separate entry earlier versions listed
        recorded = s.video("a red kite", model=old, duration=5, progress=False)
        assert recorded.entry.params["model"] == {"id": "doubao-seedance-2-0", "family": "seedance"}
        plain = s.video("a blue kite", model="doubao-seedance-2.0", duration=5, progress=False)
    with Session(mode="replay", store=tmp_path) as r:
        for name in ("doubao-seedance-2-0", "doubao-seedance-2.0"):
            assert r.video("a red kite", model=name, duration=5, progress=False).entry.id == recorded.entry.id
            assert r.video("a blue kite", model=name, duration=5, progress=False).entry.id == plain.entry.id


def test_a_default_model_is_refused_when_made_where_the_session_can_tell(tmp_path: Path, service: Service) -> None:
    """``Session(defaults={'chat': 'deepseek-v4-pri'})`` was taken and refused only at the first chat call. With no
    current copy of the service's table a live-only name must still be taken (the service may list it); with one
    on disk, a name missing from it is refused when the session is made, with the same suggestions."""
    with session(tmp_path, service, defaults={"chat": "deepseek-v4-pro"}) as s:  # no table yet: taken, free
        assert not service.hits
        assert s.chat("hi", stream=False).text == "hi from deepseek-v4-pro"
    with session(tmp_path, service, defaults={"chat": "deepseek-v4-pro"}):  # the table on disk lists it
        pass
    with pytest.raises(UnknownModelError, match=r"^Unknown chat model 'deepseek-v4-pri' in defaults\['chat'\]\. "
                                                r"Did you mean 'deepseek-v4-pro'"):
        session(tmp_path, service, defaults={"chat": "deepseek-v4-pri"})
    with pytest.raises(UnsupportedOptionError, match=r"defaults\['image'\] is deepseek-v4-pro, a chat model"):
        session(tmp_path, service, defaults={"image": "deepseek-v4-pro"})
    assert service.hits["/api/pricing"] == 1  # (read once, by the first call: making a session reads nothing)
    s3 = session(tmp_path / "elsewhere", service, defaults={"chat": "deepseek-v4-pri"})  # no copy: taken
    with s3, pytest.raises(UnknownModelError, match="Did you mean 'deepseek-v4-pro'"):
        s3.chat("hi", stream=False)  # the first call reads the table and says it
