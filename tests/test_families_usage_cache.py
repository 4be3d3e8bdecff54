"""Prompt-cache writes read from each usage shape, kept apart inside ``input_tokens`` (wire shapes written here)."""

from __future__ import annotations

from tokenhot_nb.families._common import merge_usage, usage_from


def test_claudes_cache_creation_is_a_write_inside_the_input_count() -> None:
    u = usage_from({"input_tokens": 14, "output_tokens": 30, "cache_creation_input_tokens": 2000,
                    "cache_read_input_tokens": 0})
    assert u.input_tokens == 2014  # Anthropic's input_tokens leaves the cache's parts out; ours is the whole input
    assert (u.cache_write_tokens, u.cache_write_1h_tokens, u.cached_tokens) == (2000, 0, 0)
    assert u.as_dict()["cache_write_tokens"] == 2000


def test_claudes_ttl_split_names_the_one_hour_writes() -> None:
    u = usage_from({"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 3000,
                    "cache_read_input_tokens": 500,
                    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}})
    assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (3510, 500, 3000, 2000)


def test_a_split_without_the_aggregate_still_counts_as_written() -> None:
    u = usage_from({"input_tokens": 10, "output_tokens": 5,
                    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200}})
    assert (u.input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (310, 300, 200)


def test_openai_shaped_writes_are_inside_prompt_tokens_already() -> None:
    """A relay's OpenAI-shaped usage counts the writes in ``prompt_tokens`` and names them in its details: new-api's
    ``cached_creation_tokens`` / ``cache_write_tokens``, other relays' ``cache_creation_input_tokens``."""
    for field in ("cached_creation_tokens", "cache_write_tokens", "cache_creation_input_tokens"):
        u = usage_from({"prompt_tokens": 2500, "completion_tokens": 20, "total_tokens": 2520,
                        "prompt_tokens_details": {"cached_tokens": 300, field: 2000}})
        assert (u.input_tokens, u.cached_tokens, u.cache_write_tokens) == (2500, 300, 2000), field


def test_new_apis_openai_shaped_ttl_split_names_the_one_hour_writes() -> None:
    u = usage_from({"prompt_tokens": 2500, "completion_tokens": 20,
                    "prompt_tokens_details": {"cached_tokens": 0, "cached_creation_tokens": 2000},
                    "claude_cache_creation_5_m_tokens": 500, "claude_cache_creation_1_h_tokens": 1500})
    assert (u.input_tokens, u.cache_write_tokens, u.cache_write_1h_tokens) == (2500, 2000, 1500)


def test_a_claude_stream_keeps_its_writes_when_the_last_frame_counts_output_only() -> None:
    start = usage_from({"input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 1500,
                        "cache_read_input_tokens": 0,
                        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 1500}})
    merged = merge_usage(start, usage_from({"output_tokens": 80}))
    assert merged is not None
    assert (merged.input_tokens, merged.output_tokens) == (1512, 80)
    assert (merged.cache_write_tokens, merged.cache_write_1h_tokens) == (1500, 1500)


def test_a_usage_without_cache_fields_has_no_writes() -> None:
    u = usage_from({"prompt_tokens": 40, "completion_tokens": 2})
    assert (u.cache_write_tokens, u.cache_write_1h_tokens) == (0, 0)
    assert "cache_write_tokens" not in u.as_dict()
