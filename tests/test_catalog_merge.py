"""The built-in catalogue merged with the service's table: sources, prices, ``.``/``-`` variants, leftovers."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from _catalog_support import ROWS, STATUS, VENDORS, pricing_body

from tokenhot_nb import catalog
from tokenhot_nb._catalog_live import (
    CatalogFetchError,
    LiveTable,
    merge,
    parse_groups,
    parse_models,
    parse_pricing,
    parse_status,
)
from tokenhot_nb.catalog import ModelList, Price, UnclassifiedModelError
from tokenhot_nb.errors import UnknownModelError


def table(rows: list[dict] | None = None, key_models: list[dict] | None = None) -> LiveTable:
    parsed, vendors = parse_pricing(pricing_body(rows))
    return LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=parsed,
                     status=parse_status(STATUS), vendors=vendors, key_models=key_models)


def test_dot_and_dash_variants_resolve_in_the_built_in_catalogue() -> None:
    assert catalog.model("doubao-seedance-2-0").id == "doubao-seedance-2.0"
    assert catalog.model("doubao-seedance-2-0-fast").id == "doubao-seedance-2.0-fast"
    assert catalog.model("gpt-5-2").id == "gpt-5.2"
    assert catalog.model("GPT 5-2(Responses)").id == "gpt-5.2"  # display names too
    with pytest.raises(UnknownModelError):
        catalog.model("claude-opus-4.5")  # a variant of nothing stays unknown


def test_merge_marks_sources_and_attaches_prices() -> None:
    merged = merge(catalog.builtin(), table())
    gpt = merged.model("gpt-5.2")
    assert gpt.source == "both" and gpt.price is not None and gpt.family == "openai-responses"
    assert gpt.price.input_usd_per_million == pytest.approx(1.25)
    assert gpt.price.output_usd_per_million == pytest.approx(10.0)
    assert gpt.live["tags"] == ["结构化输出", "函数调用"] and gpt.live["vendor"] == "OpenAI"
    image = merged.model("GPT Image-2")
    assert image.price is not None and image.price.per_call and image.price_label() == "$0.028/call"
    assert merged.model("whisper-1").source == "built-in" and merged.model("whisper-1").price is None
    # the built-in view is untouched
    assert catalog.model("gpt-5.2").source == "built-in" and catalog.model("gpt-5.2").price is None


def test_the_service_id_of_a_variant_is_the_one_sent_and_the_menu_id_stays_an_alias() -> None:
    merged = merge(catalog.builtin(), table())
    for name in ("doubao-seedance-2.0", "doubao-seedance-2-0", "seedance-2.0"):
        info = merged.model(name)
        assert info.id == "doubao-seedance-2-0" and info.source == "both" and info.family == "seedance"
    assert "doubao-seedance-2.0" not in merged.by_id
    assert info.ref == "doubao-seedance-2-0"
    assert info.price is not None and info.price_label().startswith("per task")


def test_a_live_only_model_is_classified_priced_and_records_its_family() -> None:
    merged = merge(catalog.builtin(), table())
    ds = merged.model("deepseek-v4-pro")
    assert (ds.kind, ds.family, ds.source, ds.vendor) == ("chat", "openai-chat", "live", "DeepSeek")
    assert ds.live["context_length"] == 131072 and ds.price is not None and ds.price.model_ratio == 1.0
    assert ds.ref == {"id": "deepseek-v4-pro", "family": "openai-chat"}
    assert merged.model("deepseek-v4-1-flash-free").id == "deepseek-v4.1-flash-free"
    assert merged.model("mimo-v2.5-tts").family == "openai-tts"
    assert merged.model("seedream-5-0-lite").family == "seedream"
    assert {m.id for m in merged.models(source="live")} >= {"deepseek-v4-pro", "mimo-v2.5-tts"}
    jina = merged.model("jina-embeddings-v4")  # built in, and its row (endpoint type embeddings) agrees
    assert (jina.kind, jina.family, jina.source, jina.price is not None) == ("embed", "openai-embeddings", "both", True)
    assert "deepseek-v4-pro" not in {m.id for m in merged.models(source="built-in")}


def test_a_row_nobody_can_classify_is_listed_and_refused_clearly() -> None:
    merged = merge(catalog.builtin(), table())
    assert list(merged.unclassified) == ["suno-v4"]  # an endpoint type, modalities and id that name no protocol
    with pytest.raises(UnclassifiedModelError) as exc:
        merged.model("suno-v4")
    text = str(exc.value)
    assert "suno-v4" in text and "endpoint types: suno" in text and "family=" in text
    forced = merged.model("suno-v4", family="openai-chat")  # the escape hatch
    assert forced.family == "openai-chat" and not forced.listed and forced.price is not None


def test_the_keys_model_list_adds_models_and_says_which_the_key_may_call() -> None:
    keyed = parse_models({"object": "list", "data": [
        {"id": "gpt-5.2", "object": "model"},
        {"id": "grok-5", "object": "model", "supported_endpoint_types": ["openai"]},
        "junk", {"id": 7}]})
    merged = merge(catalog.builtin(), table(key_models=keyed))
    assert merged.model("gpt-5.2").live["for_key"] is True
    assert merged.model("deepseek-v4-pro").live["for_key"] is False
    grok = merged.model("grok-5")
    assert grok.source == "live" and grok.family == "grok" and grok.price is None


def test_a_second_name_for_a_built_in_model_keeps_its_options() -> None:
    rows = [{"model_name": "gpt-5.2", "model_ratio": 1}, {"model_name": "gpt-5-2", "model_ratio": 2}]
    merged = merge(catalog.builtin(), table(rows))
    assert merged.model("gpt-5.2").source == "both"
    second = merged.model("gpt-5-2")  # the exact live id wins over the variant of another
    assert second.id == "gpt-5-2" and second.source == "live" and second.family == "openai-responses"
    assert second.capabilities == catalog.model("gpt-5.2").capabilities and second.price.model_ratio == 2


def test_price_rows_are_read_tolerantly() -> None:
    p = Price.from_row({"quota_type": "1", "model_price": "0.5", "model_ratio": None, "completion_ratio": "x",
                        "enable_groups": "default,vip"}, {"quota_per_unit": 1000, "price": 7})
    assert p.per_call and p.call_usd == 0.5 and p.model_ratio == 0 and p.groups == ("default", "vip")
    assert p.usd(500) == 0.5 and p.top_up_rate == 7
    assert Price.from_row({}).usd(500000) == 1.0 and Price.from_row({"model_ratio": float("nan")}).model_ratio == 0
    assert Price.from_row({"model_ratio": 2, "completion_ratio": 3}).describe() == "$4/M in · $12/M out"


def test_hostile_or_odd_tables_are_trimmed_or_refused() -> None:
    with pytest.raises(CatalogFetchError):
        parse_pricing({"success": False, "message": "nope"})
    with pytest.raises(CatalogFetchError):
        parse_pricing(["not", "an", "object"])
    rows, vendors = parse_pricing({"data": {"data": [
        {"model_name": "ok-model", "model_ratio": 1, "tags": "<script>x</script>", "extra": {"nested": 1}},
        {"model_name": ""}, {"model_name": "x" * 500}, {"no": "name"}, 5]}, "vendors": [{"id": 1}, "junk"]})
    assert [r["model_name"] for r in rows] == ["ok-model"] and "extra" not in rows[0] and vendors == {}
    assert parse_status({"data": {"quota_per_unit": 500000, "price": 7, "secret": "x"}}) == {
        "quota_per_unit": 500000, "price": 7}


def test_cached_tables_round_trip_and_damaged_ones_are_ignored() -> None:
    t = table(key_models=[{"model_name": "gpt-5.2"}])
    back = LiveTable.from_json(t.to_json())
    assert back is not None and back.rows == t.rows and back.key_models == t.key_models
    assert back.vendors == {str(v["id"]): v["name"] for v in VENDORS}
    assert LiveTable.from_json({"version": 99}) is None and LiveTable.from_json("x") is None
    assert LiveTable.from_json({"version": 1, "rows": []}) is None  # no base_url / fetched_at
    # read when? NaN, in the future or as text: such a copy was never old enough to be read again
    for when in (float("nan"), time.time() + 86400 * 365, "1", True, float("inf"), -1.0):
        assert LiveTable.from_json({**t.to_json(), "fetched_at": when}) is None, when
    for cut in (float("inf"), "7", True, -3, None):  # (inf raised OverflowError out of the lookup)
        back = LiveTable.from_json({**t.to_json(), "cut": cut})
        assert back is not None and back.cut == 0 and not back.gaps(), cut
    assert LiveTable.from_json({**t.to_json(), "cut": 12}).cut == 12  # type: ignore[union-attr]
    assert len(ROWS) == len(t.rows)


def test_a_menu_id_the_key_may_call_and_its_priced_variant_are_one_entry() -> None:
    """§10.1: the table writes doubao-seedance-2-0, the docs (and the key's list) doubao-seedance-2.0: one model,
    listed once, priced from the table, sent as the built-in id the service lists (what earlier calls sent)."""
    keyed = [{"model_name": "doubao-seedance-2.0"}, {"model_name": "doubao-seedance-2-0"}]
    merged = merge(catalog.builtin(), table(key_models=keyed))
    menu, dash = merged.model("doubao-seedance-2.0"), merged.model("doubao-seedance-2-0")
    assert menu is dash and (menu.id, menu.source, menu.family) == ("doubao-seedance-2.0", "both", "seedance")
    assert menu.price is not None and menu.price.model_ratio == 37.5 and menu.live["for_key"] is True
    assert "doubao-seedance-2-0" in menu.aliases and menu.ref == "doubao-seedance-2.0"
    seedance = [m.id for m in merged.models("video") if m.id.replace(".", "-") == "doubao-seedance-2-0"]
    assert seedance == ["doubao-seedance-2.0"]


def test_the_order_of_the_keys_list_does_not_change_the_entry() -> None:
    for keyed in ([{"model_name": "doubao-seedance-2.0"}], [{"model_name": "doubao-seedance-2-0"},
                                                           {"model_name": "doubao-seedance-2.0"}]):
        merged = merge(catalog.builtin(), table(list(reversed(ROWS)), key_models=keyed))
        info = merged.model("doubao-seedance-2-0")
        assert (info.id, info.source, info.price is not None) == ("doubao-seedance-2.0", "both", True)
        assert len([m for m in merged.models() if m.id.replace(".", "-") == "doubao-seedance-2-0"]) == 1


def test_a_live_only_model_the_key_spells_otherwise_is_one_entry_with_an_alias() -> None:
    rows = [{"model_name": "grok-5-1", "model_ratio": 1, "supported_endpoint_types": ["openai"]}]
    merged = merge(catalog.builtin(), table(rows, key_models=[{"model_name": "grok-5.1"}]))
    live = [m for m in merged.models(source="live") if m.id.startswith("grok-5")]
    assert [m.id for m in live] == ["grok-5-1"] and merged.model("grok-5.1") is live[0]
    assert live[0].price is not None and live[0].live["for_key"] is True and live[0].aliases == ("grok-5.1",)


# -- calling live models with family=, filtering by source, prices for models resolved elsewhere ----------------
def test_naming_a_live_models_own_family_keeps_the_live_entry() -> None:
    merged = merge(catalog.builtin(), table())
    same = merged.model("deepseek-v4-pro", family="openai-chat")
    assert same is merged.model("deepseek-v4-pro")  # its vendor, live data and price, not a bare unlisted model
    assert (same.source, same.vendor, same.listed) == ("live", "DeepSeek", True)


def test_another_family_for_a_live_model_builds_it_from_that_family_with_the_tables_price() -> None:
    merged = merge(catalog.builtin(), table())
    live = merged.model("deepseek-v4-pro")
    forced = merged.model("deepseek-v4-pro", family="claude")  # the table's guess was wrong: the user knows
    assert (forced.family, forced.kind, forced.listed, forced.source) == ("claude", "chat", False, "built-in")
    assert forced.endpoints == tuple(catalog.builtin().families["claude"]["endpoints"])
    assert forced.price == live.price and forced.price is not None  # what it costs does not depend on the guess
    assert forced.ref == {"id": "deepseek-v4-pro", "family": "claude"}
    # a built-in model keeps its own family whatever family= says (its options are known)
    assert merged.model("gpt-5.2", family="claude").family == "openai-responses"


def test_an_unlisted_name_gets_no_price_unless_the_table_has_one() -> None:
    merged = merge(catalog.builtin(), table())
    assert merged.model("brand-new-chat", family="openai-chat").price is None
    assert merged.model("suno-v4", family="openai-chat").price == Price.from_row(
        next(r for r in ROWS if r["model_name"] == "suno-v4"), STATUS["data"])
    # the leftover row is found by its '.'/'-' variant too
    assert merged.model("suno-v4".replace("-v4", "-v4.1"), family="openai-chat").price is None
    assert merged.model("SUNO_v4", family="openai-chat").price is not None


def test_models_filter_by_source() -> None:
    merged = merge(catalog.builtin(), table())
    live = {m.id for m in merged.models(source="live")}
    both = {m.id for m in merged.models(source="both")}
    built_in = {m.id for m in merged.models(source="built-in")}
    assert "deepseek-v4-pro" in live and "gpt-5.2" not in live  # only in the service's table
    assert both == {"gpt-5.2", "gpt-image-2", "doubao-seedance-2-0", "jina-embeddings-v4", "jina-reranker-m0"}
    assert "gpt-5.2" in built_in and "whisper-1" in built_in and not built_in & live  # shipped, priced or not
    assert len(built_in) == len(catalog.models())
    assert [m.id for m in merged.models("video", source="both")] == ["doubao-seedance-2-0"]
    assert all(m.family == "openai-chat" for m in merged.models(family="openai-chat", source="live"))


def test_with_price_adds_the_tables_price_to_a_model_resolved_elsewhere() -> None:
    merged = merge(catalog.builtin(), table())
    plain = catalog.model("gpt-5.2")  # the built-in view: no price
    priced = merged.with_price(plain)
    assert priced.price is not None and priced.price == merged.model("gpt-5.2").price
    assert priced.id == "gpt-5.2" and priced.family == plain.family and priced.source == "built-in"
    unlisted = catalog.model("deepseek-v4-pro", family="openai-chat")  # recorded elsewhere, priced here
    assert merged.with_price(unlisted).price is not None and not merged.with_price(unlisted).listed
    already = merged.model("gpt-image-2")
    assert merged.with_price(already) is already
    other = Price(quota_type=1, model_price=9.0)
    assert merged.with_price(replace(plain, price=other)).price == other  # a price it has is kept
    whisper = catalog.model("whisper-1")  # in the table? no: nothing to add
    assert merged.with_price(whisper) is whisper and whisper.price is None
    nowhere = catalog.model("nowhere-model", family="openai-chat")
    assert merged.with_price(nowhere) is nowhere


@pytest.mark.parametrize(("kind", "example"), [
    (None, "openai-chat"), ("chat", "openai-chat"), ("image", "openai-image"), ("video", "seedance"),
    ("audio", "openai-tts"), ("embed", "openai-embeddings"), ("rerank", "jina-rerank"),
])
def test_an_unclassified_model_says_what_was_seen_and_how_to_call_it(kind: str | None, example: str) -> None:
    merged = merge(catalog.builtin(), table())
    with pytest.raises(UnclassifiedModelError) as exc:
        merged.model("suno-v4", kind=kind)
    err = exc.value
    assert isinstance(err, UnknownModelError)  # code catching unknown models catches it too
    assert (err.name, err.kind, err.suggestions) == ("suno-v4", kind, [])
    assert err.message == ("The service lists 'suno-v4' but tokenhot_nb cannot tell which protocol it "
                           "speaks (it saw endpoint types: suno; input: 文本).")
    assert err.hint == (f"If you know its family, name it: session.model('suno-v4', family={example!r}) "
                        "and pass that as model=… (families: tokenhot_nb.catalog.families()).")
    assert merged.model("suno-v4", family=example).family == example  # the hint works


def test_a_model_list_shows_the_live_models_the_leftovers_and_where_the_table_came_from() -> None:
    merged = merge(catalog.builtin(), table())
    listed = ModelList(merged.models(), unclassified=merged.unclassified.values(), note="table from the cache")
    assert list(listed) == merged.models() and len(listed) == len(merged)
    assert [u.id for u in listed.unclassified] == ["suno-v4"]
    bundle = listed._repr_mimebundle_()
    text, html = bundle["text/plain"], bundle["text/html"]
    assert text.splitlines()[0].endswith(" · table from the cache") and "table from the cache" in html
    assert "deepseek-v4-pro" in text and "suno-v4" in text and "protocol unknown" in text
    assert listed._repr_mimebundle_(include={"text/plain"}) == bundle  # IPython filters the bundle itself
    only = listed.table("deepseek")
    assert [r[0] for r in only.rows] == ["deepseek-v4-pro", "deepseek-v4.1-flash-free"]
    assert listed.table("jina").rows[0][:4] == ["jina-embeddings-v4", "embed", "openai-embeddings", "both"]
    assert listed.table("reranker").rows[0][:4] == ["jina-reranker-m0", "rerank", "jina-rerank", "both"]
    assert listed.table("suno").rows[0][:4] == ["suno-v4", "?", "?", "live"]
    plain = ModelList(merged.models("chat"))
    assert plain.unclassified == [] and plain.note == ""
    assert plain.table().title.startswith(f"{len(plain)} model(s) — ") and " · " not in plain.table().title
    assert ModelList() == [] and ModelList().table().text() == ModelList().table().empty


def test_a_model_list_shows_its_table_in_a_terminal_and_keeps_its_repr_short() -> None:
    """``s.models()`` in IPython's terminal printed ~65 KB of ``ModelInfo(...)`` reprs; ``%th_models`` a table."""
    from IPython.core.formatters import DisplayFormatter
    from IPython.lib.pretty import pretty

    merged = merge(catalog.builtin(), table())
    listed = ModelList(merged.models(), unclassified=merged.unclassified.values(), note="table from the cache")
    shown = pretty(listed)
    assert shown == listed.table().text() == str(listed) and "ModelInfo(" not in shown
    assert "deepseek-v4-pro" in shown and len(shown.splitlines()) == len(listed) + len(listed.unclassified) + 3
    assert DisplayFormatter().format(listed)[0]["text/plain"] == shown  # what IPython's terminal prints
    assert repr(listed) == (f"<ModelList: {len(listed)} models (+1 of unknown protocol); print() it for the table, "
                            "list() for the ModelInfo objects>")
    assert list(listed) == merged.models()  # still the list of models


def test_a_table_cell_cannot_drive_a_terminal_nor_show_a_key() -> None:
    from tokenhot_nb.magics._tables import Table

    shown = Table(["id", "note"], [["m\x1b[2Jx", f"k-{ECHOED}"]], title="t\x1b]52;c;aGk=\x07").text()
    assert "\x1b" not in shown and "\x07" not in shown and ECHOED not in shown and "m[2Jx" not in shown
    assert "mx" in shown


ECHOED = "sk-ECHOED-by-the-relay-0123456789"


def test_live_text_carries_no_controls_and_no_key() -> None:
    """Model ids and texts of the live table reach text outputs (repr, %th_models' aligned text, dropdowns,
    error messages) and the cache file beside the history: an id with terminal escapes, line breaks, bidi
    controls or a key is no model the service could serve (left out); other texts lose those characters and
    have a key masked."""
    hostile_ids = ["m\x1b[2Jx", "m\x1b]8;;https://evil.example\x07click", "a\nb", "a\u2028b", "nul\x00", "rtl\u202elive",
                   f"model-{ECHOED}", "gpt-5.2\u200b", "gpt\u00ad-5.2", "\ufeffgpt-5.2", "gpt-5\u2060.2"]  # (look alike)
    body = {"data": [{"model_name": name, "model_ratio": 1} for name in hostile_ids] + [
        {"model_name": "ok-model", "model_ratio": 1, "description": f"fine\x1b[31m red \u202e{ECHOED}\r\nnext",
         "tags": ["a\x07", ECHOED], "vendor_id": 1}],
        "vendors": [{"id": 1, "name": f"Vendor\x1b[0m\u2066 {ECHOED}"}]}
    rows, vendors = parse_pricing(body)
    assert [r["model_name"] for r in rows] == ["ok-model"]
    assert rows[0]["description"] == "fine red sk-**** next" and rows[0]["tags"] == ["a", "sk-****"]
    assert vendors == {"1": "Vendor sk-****"}
    listed = parse_models({"data": [{"id": name} for name in hostile_ids] + [{"id": "ok-model"}]
                          + [{"id": "task-embedding-large-v2-0001"}]})  # "sk-…" inside a word: no key
    assert [r["model_name"] for r in listed] == ["ok-model", "task-embedding-large-v2-0001"]
    cached = LiveTable.from_json({"version": 1, "base_url": "http://relay.test", "fetched_at": 1.0,
                                  "rows": body["data"], "vendors": {"1": "V\x1b[2J"}, "notes": ["n\x1b[2J"]})
    assert cached is not None and [r["model_name"] for r in cached.rows] == ["ok-model"]
    assert cached.vendors == {"1": "V"} and cached.notes == ["n"]


@pytest.mark.parametrize("base_url", [
    f"https://user:{ECHOED}@relay.example:8443/v1?key={ECHOED}",  # userinfo, and Gemini's ?key= habit
    "https://relay.example/?key=tkn_PLAINKEY_no_prefix_98765abcdef",  # a key that does not look like sk-…
])
def test_a_key_in_the_base_url_reaches_neither_the_cache_nor_a_message(tmp_path: Any, base_url: str) -> None:
    """A base URL may carry a key (``?key=`` as Gemini's API takes it, or user:key@); the table keeps where it came
    from (shown in messages, written to the cache file) and the cache file is named after the service: neither
    holds the key."""
    import asyncio
    import json
    import types

    from tokenhot_nb._catalog_live import cache_path, fetch, save_cache
    from tokenhot_nb._config import Secret
    from tokenhot_nb.errors import ServerError

    Secret("tkn_PLAINKEY_no_prefix_98765abcdef")
    keys = (ECHOED, "tkn_PLAINKEY_no_prefix_98765abcdef")

    class Client:
        def __init__(self, fail: bool) -> None:
            self.base_url, self.fail = base_url, fail

        async def send(self, call: Any) -> Any:
            if self.fail:
                raise ServerError("down", status=503)
            return types.SimpleNamespace(json=lambda: pricing_body() if call.path == "/api/pricing" else {"data": []})

    table = asyncio.run(fetch(Client(False), with_key=True))  # type: ignore[arg-type]
    path = cache_path(tmp_path, base_url)
    save_cache(path, table)
    with pytest.raises(CatalogFetchError) as caught:
        asyncio.run(fetch(Client(True), with_key=False))  # type: ignore[arg-type]
    shown = [table.base_url, path.name, path.read_text(encoding="utf-8"), str(caught.value), json.dumps(table.notes)]
    assert table.base_url.startswith("https://relay.example") and "relay.example" in path.name
    for text in shown:
        assert not any(k in text or k[3:] in text for k in keys), text


@pytest.mark.parametrize("lead", [0, 90, 105])
def test_a_refusal_quoted_from_the_price_table_holds_no_key(lead: int) -> None:
    """``success: false`` is reported with the relay's message, cut short: redacted before the cut, or a key
    straddling it would lose its end and go unrecognised."""
    from tokenhot_nb._config import Secret

    key = "tkn_PLAINKEY_pricing_no_prefix_98765abcdef"
    Secret(key)
    with pytest.raises(CatalogFetchError) as caught:
        parse_pricing({"success": False, "message": "x" * lead + f" token {key} refused"})
    assert key[:8] not in str(caught.value) and "success=false" in str(caught.value)


def test_group_ratios_are_read_tolerantly_and_kept_with_the_cached_table() -> None:
    hostile = {"default": 1, "vip": 0.9, "svip": "0.8", "free": True, "neg": -1, "inf": float("inf"),
               "bad\x1b[31m": 2, "": 3, 7: 1, **{f"g{i}": 1 for i in range(100)}}
    groups = parse_groups({"group_ratio": hostile})
    assert groups["default"] == 1.0 and groups["vip"] == 0.9 and len(groups) <= 64
    assert not {"svip", "free", "neg", "inf", "", "bad\x1b[31m"} & set(groups)
    assert parse_groups({"group_ratio": [1, 2]}) == {} and parse_groups("x") == {}
    t = replace(table(), group_ratio={"default": 1.0, "vip": 0.5})
    assert LiveTable.from_json(t.to_json()).group_ratio == {"default": 1.0, "vip": 0.5}  # type: ignore[union-attr]
    old = t.to_json()
    del old["group_ratio"]  # a cache written before groups were kept: read, with none
    assert LiveTable.from_json(old).group_ratio == {}  # type: ignore[union-attr]


def test_prices_are_the_keys_groups() -> None:
    t = replace(table(), group_ratio={"default": 1.0, "vip": 0.5})
    plain = merge(catalog.builtin(), t).model("gpt-image-2").price
    vip = merge(catalog.builtin(), t, "vip").model("gpt-image-2").price
    unknown = merge(catalog.builtin(), t, "nobody").model("gpt-image-2").price
    assert plain is not None and vip is not None and unknown is not None
    assert (plain.group, plain.group_ratio) == ("default", 1.0) and plain.group_note == ""
    assert vip.model_price == plain.model_price and vip.call_usd == pytest.approx(plain.call_usd * 0.5)
    assert vip.describe().endswith("/call (group vip ×0.5)")
    assert (unknown.group, unknown.group_ratio) == ("", 1.0)
    chat = merge(catalog.builtin(), t, "vip").model("gpt-5.2").price
    base = merge(catalog.builtin(), t).model("gpt-5.2").price
    assert chat is not None and base is not None
    assert chat.output_usd_per_million == pytest.approx(base.output_usd_per_million * 0.5)


def test_a_model_the_table_prices_twice_differently_is_at_an_unknown_price() -> None:
    """Two rows for one id at two prices: the first was taken, a guess shown as the price. The same row twice (or
    a ``.``/``-`` spelling with its own row) keeps its price."""
    row = {"model_name": "gpt-5.2", "quota_type": 0, "model_ratio": 0.625, "completion_ratio": 8}
    clash = merge(catalog.builtin(), table([row, {**row, "quota_type": 1, "model_price": 99}]))
    assert clash.model("gpt-5.2").price is None
    same = merge(catalog.builtin(), table([row, dict(row), {**row, "model_name": "gpt-5-2", "model_ratio": 50}]))
    assert same.model("gpt-5.2").price.input_usd_per_million == pytest.approx(1.25)
    assert same.model("gpt-5-2").price.input_usd_per_million == pytest.approx(100)
