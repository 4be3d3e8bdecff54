"""``%%th_embed`` and ``%%th_rerank`` through IPython's test shell against the offline simulator (real Session, tmp
store): a text (a document) a line, the query on the magic line, ``-o``, ``--dry-run``, and bad input as one line."""

from __future__ import annotations

from typing import Any

import _magics_support as support
import pytest
from IPython.utils.capture import capture_output

from tokenhot_nb.results import EmbeddingResult, RerankResult

ip = support.ip  # fixture
offline = support.offline  # fixture

HOSTILE = "<script>alert(1)</script> Cats eat <b>fish</b>."


def run(ip: Any, source: str) -> tuple[Any, Any]:
    with capture_output(display=True) as cap:
        res = ip.run_cell(source)
    return res, cap


def test_embed_makes_one_vector_a_line_and_stores_it_under_o(ip: Any, offline: Any) -> None:
    ip.user_ns["animal"] = "fox"
    res, cap = run(ip, "%%th_embed -o vecs\na red {animal}\n\n   a sleepy dog   \n\n")
    assert res.error_in_exec is None, cap.stderr
    vecs = ip.user_ns["vecs"]
    assert isinstance(vecs, EmbeddingResult) and ip.user_ns["_"] is vecs
    assert vecs.texts == ["a red fox", "a sleepy dog"] and len(vecs) == 2 and vecs.dimensions == 2048
    assert cap.outputs[-1].update, "the placeholder is replaced in place by the result"
    assert "Embedding 2 texts with jina-embeddings-v4" in str(cap.outputs[0].data["text/plain"])
    assert cap.outputs[-1].metadata["tokenhot"]["entry_id"] == vecs.entry_id
    entry = offline.history[-1]
    assert (entry.kind, entry.status, entry.model) == ("embed", "ok", "jina-embeddings-v4")
    assert entry.params["texts"] == ["a red fox", "a sleepy dog"]


def test_embed_whole_cell_is_one_text_and_dimensions_are_passed(ip: Any, offline: Any) -> None:
    res, cap = run(ip, "%%th_embed --whole --dimensions 8 -m jina-embeddings-v4 -o doc\nfirst line\nsecond line\n")
    assert res.error_in_exec is None, cap.stderr
    doc = ip.user_ns["doc"]
    assert (len(doc), doc.dimensions) == (1, 8) and doc.texts == ["first line\nsecond line"]
    assert offline.history[-1].params["dimensions"] == 8


def test_rerank_ranks_the_cells_lines_against_the_query_on_the_line(ip: Any, offline: Any) -> None:
    res, cap = run(ip, f"%%th_rerank what do cats eat? --top 2 -o ranked\nDogs bark.\n{HOSTILE}\n\nBirds fly.\n")
    assert res.error_in_exec is None, cap.stderr
    ranked = ip.user_ns["ranked"]
    assert isinstance(ranked, RerankResult) and ip.user_ns["_"] is ranked
    assert ranked.query == "what do cats eat?" and len(ranked) == 2
    assert ranked.indices[0] == 1 and ranked[0][2] == HOSTILE
    entry = offline.history[-1]
    assert (entry.kind, entry.status) == ("rerank", "ok")
    assert entry.params["documents"] == ["Dogs bark.", HOSTILE, "Birds fly."] and entry.params["top_n"] == 2
    html = str(cap.outputs[-1].data["text/html"])
    assert cap.outputs[-1].update and "<script>" not in html and "<b>fish" not in html
    assert "&lt;script&gt;" in html and "what do cats eat?" in html
    res, cap = run(ip, "%%th_rerank -m jina-reranker-m0 'what do cats eat?'\nDogs bark.\nCats eat fish.")
    assert res.error_in_exec is None, cap.stderr
    assert offline.history[-1].params["query"] == "what do cats eat?" and "top_n" not in offline.history[-1].params


@pytest.mark.parametrize(("source", "method"), [("%%th_embed --dry-run\na\nb", "embed"),
                                                ("%%th_rerank cats --dry-run --top 1\na\nb", "rerank")])
def test_dry_run_shows_the_estimate_and_sends_nothing(ip: Any, offline: Any, source: str, method: str) -> None:
    res, cap = run(ip, source)
    assert res.error_in_exec is None, cap.stderr
    assert f"Dry run of this {method} call: it would cost about" in cap.stdout and "nothing was sent" in cap.stdout
    assert len(offline.history) == 0


@pytest.mark.parametrize(("source", "said"), [
    ("%%th_rerank\nDogs bark.\nCats eat fish.", "%%th_rerank: the QUERY is missing: write it on the magic line"),
    ("%%th_rerank '   '\nDogs bark.", "%%th_rerank: the QUERY is missing"),
    ("%%th_rerank cats\n\n   \n", "%%th_rerank: the cell is the documents to rank, one a line"),
    ("%%th_embed\n  \n\n", "%%th_embed: the cell is the texts to embed, one a line"),
    ("%%th_rerank cats --top 3\na\nb", "--top 3 asks for more documents than the cell's 2"),
    ("%%th_rerank cats --top 0\na", "argument --top: expected how many entries"),
    ("%%th_embed --dimension 8\nx", "unrecognized arguments: --dimension 8. Did you mean --dimensions?"),
    ("%%th_rerank cats --bogus\nx", "unrecognized arguments: --bogus"),
    ("%%th_embed a cat\nx", "the texts go in the cell, one a line"),
])
def test_bad_options_and_empty_input_are_one_usage_line(ip: Any, offline: Any, source: str, said: str) -> None:
    res, cap = run(ip, source)
    assert type(res.error_in_exec).__name__ == "UsageError"
    message = str(res.error_in_exec)
    assert said in message and "\n" not in message, message
    assert "Traceback" not in cap.stdout + cap.stderr and len(offline.history) == 0


@pytest.mark.parametrize(("source", "said"), [
    ("%%th_embed -m no-such-embedder\nx", "✖ Unknown model: Unknown embed model 'no-such-embedder'."),
    ("%%th_rerank cats -m no-such-ranker\nx", "✖ Unknown model: Unknown rerank model 'no-such-ranker'."),
    ("%%th_rerank cats -m jina-embeddings-v4\nx",
     "jina-embeddings-v4 is an embed model, so %%th_rerank cannot use it.\n  Fix: Use %%th_embed with it"),
    ("%%th_embed --dimensions 99999\nx", "makes vectors of at most 2048 dimensions"),
])
def test_a_refused_call_is_one_short_message_not_a_traceback(ip: Any, offline: Any, source: str, said: str) -> None:
    res, cap = run(ip, source)
    assert res.error_in_exec is None and "Traceback" not in cap.stdout + cap.stderr
    text = str(cap.outputs[-1].data["text/plain"])
    assert text.startswith("✖") and said in text, text
    assert all(e.status != "ok" for e in offline.history)


def test_load_ext_registers_them_and_imports_nothing_heavy() -> None:
    """The two cell magics are there after ``%load_ext`` and cost nothing more to load: no module beyond the ones
    every magic needs, no heavy library."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys\n"
             "from IPython.core.interactiveshell import InteractiveShell\n"
             "ip = InteractiveShell.instance()\n"
             "before = set(sys.modules)\n"
             "ip.run_line_magic('load_ext', 'tokenhot_nb')\n"
             "print(' '.join(sorted(k for k in ip.magics_manager.magics['cell'] if k.startswith('th_'))))\n"
             "print('\\n'.join(sorted(set(sys.modules) - before)))\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    cells, _, modules = out.stdout.partition("\n")
    assert {"th_embed", "th_rerank"} <= set(cells.split()), cells
    new = set(modules.split())
    assert {m for m in new if m.startswith("tokenhot_nb")} == {
        "tokenhot_nb", "tokenhot_nb._safe", "tokenhot_nb.magics", "tokenhot_nb.magics._args",
        "tokenhot_nb.magics._display", "tokenhot_nb.magics._interp", "tokenhot_nb.magics._magics"}
    heavy = {"httpx", "sqlite3", "PIL", "numpy", "ipywidgets", "markdown_it", "nh3", "anyio", "av"}
    assert not {m.split(".")[0] for m in new} & heavy
