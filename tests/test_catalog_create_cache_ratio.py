"""``create_cache_ratio`` from a live ``/api/pricing`` row (newer new-api), through the table, its disk cache and the
merged catalogue; a cache written before the cell existed still reads (the price then has none: 1.25 applies)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from _catalog_support import STATUS, pricing_body

from tokenhot_nb import catalog, cost
from tokenhot_nb._catalog_live import LiveTable, load_cache, merge, parse_pricing, parse_status, save_cache
from tokenhot_nb.catalog import Price

ROW: dict[str, Any] = {
    "model_name": "claude-sonnet-4-5-20250929", "quota_type": 0, "model_ratio": 1.5, "completion_ratio": 5,
    "model_price": 0, "cache_ratio": 0.1, "create_cache_ratio": 2.5, "vendor_id": 2,
    "supported_endpoint_types": ["anthropic", "openai"], "enable_groups": ["default"]}


def _table(rows: list[dict[str, Any]]) -> LiveTable:
    parsed, vendors = parse_pricing(pricing_body(rows))
    return LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=parsed, status=parse_status(STATUS),
                     vendors=vendors)


def test_a_row_names_its_create_cache_ratio_and_the_price_keeps_it() -> None:
    assert Price.from_row(ROW).create_cache_ratio == 2.5
    assert Price.from_row({**ROW, "create_cache_ratio": "1.25"}).create_cache_ratio == 1.25
    assert Price.from_row({k: v for k, v in ROW.items() if k != "create_cache_ratio"}).create_cache_ratio is None
    assert Price.from_row(ROW).as_dict()["create_cache_ratio"] == 2.5


def test_the_live_table_and_its_disk_cache_carry_the_cell_to_the_merged_price(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    save_cache(path, _table([ROW]))
    cached = load_cache(path)
    assert cached is not None
    price = merge(catalog.builtin(), cached).model("claude-sonnet-4-5-20250929").price
    assert price is not None and price.create_cache_ratio == 2.5
    usage = {"input_tokens": 2000, "output_tokens": 0, "cache_write_tokens": 2000}
    assert cost.of_call("chat", price, usage).usd == pytest.approx(2000 * 3 * 2.5 / 1e6)  # $3/M × 2.5


def test_a_cache_written_before_the_cell_existed_still_reads_and_bills_writes_at_1_25(tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    save_cache(path, _table([ROW]))
    old = json.loads(path.read_text(encoding="utf-8"))
    for row in old["rows"]:
        row.pop("create_cache_ratio", None)
    path.write_text(json.dumps(old), encoding="utf-8")
    cached = load_cache(path)
    assert cached is not None
    price = merge(catalog.builtin(), cached).model("claude-sonnet-4-5-20250929").price
    assert price is not None and price.create_cache_ratio is None and price.cache_ratio == 0.1
    usage = {"input_tokens": 2000, "output_tokens": 0, "cache_write_tokens": 2000}
    assert cost.of_call("chat", price, usage).usd == pytest.approx(2000 * 3 * 1.25 / 1e6)
