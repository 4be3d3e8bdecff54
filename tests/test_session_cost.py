"""Cost on every call, estimates, the budget and the balance — against the simulator, in-process and over loopback.

Expected figures are computed by hand from the simulator's price table (the wire format of ``/api/pricing``),
never from the client's own cost code.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from _session_support import Recorder, billed_cents, make_session

from tokenhot_nb import Session
from tokenhot_nb.errors import BudgetExceededError, TokenhotError
from tokenhot_nb.sim import Faults, Server

KEY = "sk-cost-test-0123456789"
QPU = 500_000


def table(url: str) -> dict[str, dict[str, Any]]:
    rows = httpx.get(url + "/api/pricing", timeout=30).json()["data"]
    return {r["model_name"]: r for r in rows}


def live(relay: Server, store: Path, **kw: Any) -> Session:
    return Session(api_key=KEY, base_url=relay.url, mode="live", store=store, poll_interval=0.001, **kw)


# ----------------------------------------------------------------------------- cost on every call


def test_image_cost_is_the_per_call_price_times_images(relay: Server, tmp_path: Path) -> None:
    row = table(relay.url)["gpt-image-2"]
    with live(relay, tmp_path / "store") as s:
        result = s.image("two pears", model="gpt-image-2", n=2)
        c = result.entry.cost
    assert row["quota_type"] == 1
    assert c.source == "per-call" and not c.simulated
    assert c.usd == pytest.approx(row["model_price"] * 2)
    assert c.amount == pytest.approx(row["model_price"] * 2 * 7) and c.currency == "CNY"


def test_chat_cost_is_tokens_times_the_ratio(relay: Server, tmp_path: Path) -> None:
    row = table(relay.url)["gpt-5"]
    with live(relay, tmp_path / "store") as s:
        answer = s.chat("Name a colour.", model="gpt-5", stream=False)
        usage = answer.entry.usage
        c = answer.entry.cost
    per_m_in = row["model_ratio"] * 2
    expected = (usage["input_tokens"] * per_m_in + usage["output_tokens"] * per_m_in * row["completion_ratio"]) / 1e6
    assert c.source == "per-token" and c.usd == pytest.approx(expected) and expected > 0


@pytest.mark.parametrize(("model", "row_name", "resolution"), [
    ("doubao-seedance-2.0-fast", "doubao-seedance-2-0-fast", "720p"),  # the table writes dashes (§10.1)
    ("MiniMax-Hailuo-2.3", "MiniMax-Hailuo-2.3", "768P"),
])
def test_video_cost_is_the_tasks_charged_quota(relay: Server, tmp_path: Path, model: str, row_name: str,
                                               resolution: str) -> None:
    row = table(relay.url)[row_name]
    assert row["quota_type"] == 0 and row["model_price"] == 0  # dynamic: no table price to estimate from
    with live(relay, tmp_path / "store") as s:
        clip = s.video("waves", model=model, duration=6, resolution=resolution, progress=False)
        c = clip.entry.cost
        task_id = clip.entry.response["task_id"]
    poll = httpx.get(f"{relay.url}/v1/video/generations/{task_id}", headers={"Authorization": f"Bearer {KEY}"},
                     timeout=30).json()["data"]
    assert c.source == "task" and c.usd == pytest.approx(poll["quota"] / QPU) and poll["quota"] > 0


def test_offline_costs_are_simulated_and_never_real_spending(tmp_path: Path) -> None:
    with make_session(tmp_path / "store", Recorder()) as s:
        s.image("a pear", model="gpt-image-2")
        c = s.history[-1].cost
        assert c.simulated and c.usd is not None and c.usd > 0
        assert s.store.spent_usd(0, simulated=False) == 0
        assert s.store.spent_usd(0, simulated=True) == pytest.approx(c.usd)
        assert "simulated" in str(c)


class _NoPriceTable(Recorder):
    """The simulator with its price table down: what it sells can be called, at no known price."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/pricing":
            return httpx.Response(502, text="<html>502 Bad Gateway</html>", headers={"content-type": "text/html"})
        return await super().handle_async_request(request)


def test_unknown_price_never_crashes(tmp_path: Path) -> None:
    with make_session(tmp_path / "store", _NoPriceTable()) as s:
        # a model the built-in catalogue does not list, called through the family escape hatch, with no table
        with pytest.warns(UserWarning, match="could not read the model table"):
            s.chat("hi", model={"id": "deepseek-v4-pro", "family": "openai-chat"}, stream=False)  # type: ignore[arg-type]
        entry = s.history[-1]
        assert entry.ok and entry.cost.usd is None and str(entry.cost) == "cost unknown"
        summary = s.history.usage()
        assert summary.total["cost"] is None or summary.total["cost"] >= 0
        assert "deepseek-v4-pro" in repr(summary)


def test_usage_table_has_costs_and_a_total(relay: Server, tmp_path: Path) -> None:
    rows = table(relay.url)
    with live(relay, tmp_path / "store") as s:
        s.image("one", model="gpt-image-2")
        s.image("two", model="dall-e-3")
        summary = s.history.usage()
    by_model = {r["model"]: r for r in summary.rows}
    assert by_model["gpt-image-2"]["cost"] == pytest.approx(rows["gpt-image-2"]["model_price"])
    assert summary.total["cost"] == pytest.approx(rows["gpt-image-2"]["model_price"] + rows["dall-e-3"]["model_price"])
    assert "$0.0280" in repr(summary) and "cost" in summary._repr_html_()


# ----------------------------------------------------------------------------- estimates


def test_estimate_sends_nothing_and_matches_the_table(relay: Server, tmp_path: Path) -> None:
    rows = table(relay.url)
    before = billed_cents(relay.url, KEY)
    with live(relay, tmp_path / "store") as s:
        batch = s.estimate("image", ["a", "b", "c"], model="gpt-image-2", n=2)
        chat = s.estimate(s.chat, "Explain tides in one paragraph.", model="gpt-5", max_tokens=500)
        video = s.estimate("video", "waves", model="doubao-seedance-2.0-fast")
        hailuo = s.estimate("video", "waves", model="MiniMax-Hailuo-2.3")
        assert len(s.history) == 0  # nothing recorded
    assert billed_cents(relay.url, KEY) == before  # nothing sent
    assert batch.usd == pytest.approx(rows["gpt-image-2"]["model_price"] * 6) and batch.usd_max is None
    per_m = rows["gpt-5"]["model_ratio"] * 2
    assert chat.usd is not None and chat.usd_max is not None
    assert chat.usd_max - chat.usd == pytest.approx(500 * per_m * rows["gpt-5"]["completion_ratio"] / 1e6)
    assert video.usd is None and str(video) == "cost unknown"
    # Hailuo is charged per task like every video model (§10.1): no honest figure before it runs
    assert rows["MiniMax-Hailuo-2.3"]["quota_type"] == 0 and hailuo.usd is None and hailuo.usd_max is None


def test_an_estimate_never_turns_another_threads_call_into_an_estimate(relay: Server, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``estimate`` marked the whole session as estimating while it ran: a call another thread made meanwhile (a
    panel's worker, while the panel priced its next click) was stopped as an estimate, never sent and never
    recorded, and its caller got a bare internal error. Only the estimate's own call is an estimate now."""
    from tokenhot_nb._session import budget
    from tokenhot_nb.results import ChatResult

    real = budget.estimate_call
    meanwhile: list[object] = []

    def other_thread_calls(*args: Any, **kwargs: Any) -> Any:  # (while the estimate is under way)
        if meanwhile:  # (once)
            return real(*args, **kwargs)

        def call() -> None:
            try:
                meanwhile.append(s.chat("hello", model="gpt-5", stream=False, thread=False))
            except BaseException as exc:  # (what the other thread got is the finding)
                meanwhile.append(exc)

        meanwhile.append("started")
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(budget, "estimate_call", other_thread_calls)
    with live(relay, tmp_path / "store") as s:
        cost = s.estimate("image", "a cat", model="gpt-image-2")
        assert cost.known
        (_, answer) = meanwhile
        assert isinstance(answer, ChatResult) and answer.text, answer
        assert [e.kind for e in s.history] == ["chat"] and s.history.last.status == "ok"


def test_an_estimate_of_a_new_thread_leaves_the_thread_as_it_was(tmp_path: Path) -> None:
    """``estimate("chat", …, new_thread=True)`` emptied the thread it named, as the call would: the conversation's
    next real turn went without its context, though nothing was sent. An estimate changes nothing."""
    with Session(mode="offline", store=tmp_path / "s") as s:
        s.chat("My name is Ada.", thread="t", stream=False)
        kept = list(s.threads.get("t").messages)
        fresh = s.estimate("chat", "What is my name?", thread="t", new_thread=True)
        assert fresh.known and len(kept) == 2
        assert s.threads.get("t").messages == kept
        follow = s.estimate("chat", "What is my name?", thread="t")
        assert follow.usd is not None and fresh.usd is not None and follow.usd > fresh.usd  # (it carries the turns)


def test_an_estimate_is_the_same_price_in_replay_mode(relay: Server, tmp_path: Path) -> None:
    """``estimate`` answers what a call costs. In replay mode it used to look the call up first: a recorded call
    came out free, a batch of unrecorded ones $0 and a single unrecorded one a replay miss, so a notebook that
    estimates could not be re-run. Replay knows the prices the recording run cached, and sends nothing."""
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("image", ("a red fox",), {"model": "gpt-image-2"}),  # recorded below
        ("image", (["a lighthouse", "a harbour", "a boat"],), {"model": "gpt-image-2"}),  # never recorded
        ("chat", ("Summarise War and Peace in a paragraph.",), {"model": "gpt-5", "max_tokens": 400}),
        ("embed", (["one", "two"],), {}), ("speak", ("Hello there",), {"voice": "Puck"})]
    with live(relay, tmp_path / "store") as s:
        s.image("a red fox", model="gpt-image-2")
        expected = [s.estimate(m, *a, **kw) for m, a, kw in calls]
        recorded = len(s.history)
    before = billed_cents(relay.url, KEY)
    with Session(api_key=KEY, base_url=relay.url, mode="replay", store=tmp_path / "store") as s:
        got = [s.estimate(m, *a, **kw) for m, a, kw in calls]
        assert len(s.history) == recorded
    assert [(c.usd, c.usd_max) for c in got] == [(c.usd, c.usd_max) for c in expected]
    # and shown alike: a notebook recorded live re-runs with real-money estimates, not "simulated" ones
    assert [str(c) for c in got] == [str(c) for c in expected] and not any(c.simulated for c in got)
    assert expected[0].usd and expected[1].usd == pytest.approx(3 * expected[0].usd)
    assert expected[2].usd_max and expected[3].usd and expected[4].usd_max
    assert billed_cents(relay.url, KEY) == before

def test_estimate_leaves_a_thread_untouched(s: Session) -> None:
    s.estimate("chat", "first question", stream=False)
    answer = s.chat("real question", stream=False)
    sent = json.dumps(answer.entry.request)
    assert "first question" not in sent


# ----------------------------------------------------------------------------- the budget


def test_budget_stops_a_batch_at_the_right_item(relay: Server, tmp_path: Path) -> None:
    price = table(relay.url)["gpt-image-2"]["model_price"]
    before = billed_cents(relay.url, KEY)
    with live(relay, tmp_path / "store", budget=price * 5 + price / 2) as s:
        batch = s.image([f"pear {i}" for i in range(20)], model="gpt-image-2", concurrency=4)
        made = [item for item in batch.items if not isinstance(item, BaseException)]
        refused = [item for item in batch.items if isinstance(item, BudgetExceededError)]
        assert len(made) == 5 and len(refused) == 15
        assert all(isinstance(batch.items[i], BudgetExceededError) for i in range(5, 20))  # in order
        assert "would cross the budget" in str(refused[0]) and "left" in str(refused[0])
        assert s.budget.spent_usd == pytest.approx(price * 5)
    # the relay charged exactly five images: nothing was sent past the budget
    assert billed_cents(relay.url, KEY) - before == pytest.approx(price * 5 * 7 * 100)


def test_budget_survives_a_new_session_and_can_be_reset(relay: Server, tmp_path: Path) -> None:
    price = table(relay.url)["gpt-image-2"]["model_price"]
    with live(relay, tmp_path / "store", budget=price * 1.5) as s:
        s.image("one", model="gpt-image-2")
    with live(relay, tmp_path / "store") as s2:  # a kernel restart: no budget argument
        assert s2.budget.budget is not None and s2.budget.budget.usd == pytest.approx(price * 1.5)
        assert s2.budget.spent_usd == pytest.approx(price)
        with pytest.raises(BudgetExceededError) as exc:
            s2.image("two", model="gpt-image-2")
        assert exc.value.estimate_usd == pytest.approx(price)
        assert s2.history[-1].status == "error"  # the refusal is recorded, nothing was sent
        s2.reset_budget()
        assert s2.budget.spent_usd == 0
        s2.image("three", model="gpt-image-2")
        s2.set_budget(None)
        assert s2.budget.budget is None


def test_budget_in_yuan(relay: Server, tmp_path: Path) -> None:
    with live(relay, tmp_path / "store", budget="¥0.1") as s:  # ¥0.1 = $0.0143: no $0.028 image fits
        with pytest.raises(BudgetExceededError):
            s.image("one", model="gpt-image-2")
        assert s.budget.budget is not None and s.budget.budget.usd == pytest.approx(0.1 / 7)


def test_a_finished_task_that_crossed_the_budget_blocks_the_next_call(relay: Server, tmp_path: Path) -> None:
    with live(relay, tmp_path / "store") as s:
        s.set_budget(0.01, allow_unknown=True)
        clip = s.video("waves", model="doubao-seedance-2.0-fast", duration=5, resolution="720p", progress=False)
        assert clip.entry.cost.usd is not None and clip.entry.cost.usd > 0.01  # unknown before: allowed
        with pytest.raises(BudgetExceededError):
            s.image("after", model="gpt-image-2")
        with pytest.raises(BudgetExceededError, match="not known before it runs"):
            s.video("more waves", model="doubao-seedance-2.0-fast", progress=False)


def test_offline_budget_counts_simulated_spending_only(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with make_session(store, Recorder(), budget=0.05) as s:
        s.image("a", model="gpt-image-2")
        with pytest.raises(BudgetExceededError, match="simulated budget"):
            s.image("b", model="gpt-image-2")


def test_bad_budget_is_one_clear_line(tmp_path: Path) -> None:
    from tokenhot_nb.errors import InputError

    with make_session(tmp_path / "store", Recorder()) as s, pytest.raises(InputError, match="is not an amount"):
        s.set_budget("lots")


# ----------------------------------------------------------------------------- the balance


def test_balance_goes_down_as_calls_are_charged(relay: Server, tmp_path: Path) -> None:
    price = table(relay.url)["gpt-image-2"]["model_price"]
    with live(relay, tmp_path / "store") as s:
        first = s.balance()
        s.image("one", model="gpt-image-2")
        second = s.balance()
    assert first.known and first.currency == "CNY" and first.rate == 7
    assert first.remaining is not None and second.remaining is not None
    assert first.remaining - second.remaining == pytest.approx(price * 7)
    assert second.remaining_usd == pytest.approx(second.remaining / 7)
    assert "left" in str(second) and "¥" in str(second)


def test_balance_errors_answered_with_200_say_it_is_not_available(relay: Server, tmp_path: Path) -> None:
    relay.set_faults(Faults(billing_error=True))
    with live(relay, tmp_path / "store") as s:
        b = s.balance()
    assert not b.known and "does not expose a balance" in b.reason and "unlimited quota" in b.reason
    assert "not available" in str(b)


def test_a_replay_of_an_offline_recording_estimates_simulated_money(tmp_path: Path) -> None:
    with make_session(tmp_path / "store", Recorder()) as s:
        s.chat("hello", stream=False)
        recorded = s.estimate("chat", "hello again", max_tokens=100)
    with make_session(tmp_path / "store", Recorder(), mode="replay") as r:
        again = r.estimate("chat", "hello again", max_tokens=100)
    assert recorded.simulated and again.simulated and str(again) == str(recorded)


def test_balance_offline_is_simulated_and_replay_never_asks(tmp_path: Path) -> None:
    with make_session(tmp_path / "empty", Recorder(), mode="replay") as r:
        nothing = r.balance()
        assert not nothing.known and "recorded no balance read" in str(nothing)
    with make_session(tmp_path / "store", Recorder()) as s:
        b = s.balance()
        assert b.known and b.simulated and "simulated" in str(b)
        s.chat("spend a little", stream=False)
        after = s.balance()
        assert after.used is not None and b.used is not None and after.used > b.used
    recorder = Recorder()
    with make_session(tmp_path / "store", recorder, mode="replay") as r:
        # a zero-diff re-run: each read shows what the recording's showed at that point, the last one after
        assert [str(r.balance()) for _ in range(3)] == [str(b), str(after), str(after)]
    assert not recorder.requests  # and nothing asked the service


def test_a_replay_shows_the_newest_recording_sessions_balances(tmp_path: Path) -> None:
    """A notebook recorded twice replays the balances of its last run, as its calls replay the last run's."""
    for spend in (1, 3):
        with make_session(tmp_path / "store", Recorder()) as s:
            for i in range(spend):
                s.chat(f"spend {i}", stream=False)
            last = s.balance()
    with make_session(tmp_path / "store", Recorder(), mode="replay") as r:
        assert str(r.balance()) == str(last)


@pytest.mark.parametrize("edit", [{"total": "lots"}, {"used": -5}, {"rate": 0}, {"total": float("nan")},
                                  {"currency": 7}, {"known": "yes"}])
def test_a_replayed_balance_read_that_was_edited_is_not_shown(tmp_path: Path, edit: dict[str, Any]) -> None:
    """A store is data: a recorded read with a text total failed to show (a TypeError through our internals), a
    negative one showed a wrong amount; either reads as "no balance read"."""
    with make_session(tmp_path / "store", Recorder()) as s:
        s.balance()
        reads = json.loads(s.store.get_meta("balance_reads") or "[]")
        reads[-1]["balance"].update(edit)
        s.store.set_meta("balance_reads", json.dumps(reads))
    with make_session(tmp_path / "store", Recorder(), mode="replay") as r:
        shown = r.balance()
    assert not shown.known and "recorded no balance read" in str(shown)


_OTHER_KERNEL = """
import sys
from tokenhot_nb import Session
from tokenhot_nb.errors import BudgetExceededError
from tokenhot_nb.sim import Faults, SimTransport

with Session(store=sys.argv[1], transport=SimTransport(Faults()), mode="offline") as s:
    try:
        s.image("a second pear", model="gpt-image-1.5")
        print("sent")
    except BudgetExceededError:
        print("refused")
"""


class _Held(Recorder):
    """The simulator, with image calls held until ``go`` is set (a call in flight for as long as a test needs)."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/v1/images" in request.url.path:
            self.requests.append({"method": request.method, "path": request.url.path})
            while not self.go.is_set():
                await asyncio.sleep(0.01)
        return await self.sim.handle_async_request(request)


def test_a_call_in_flight_in_another_kernel_counts_against_the_shared_budget(tmp_path: Path) -> None:
    """Two kernels on one store share its budget: a call one of them has in flight is counted by the other."""
    root = tmp_path / "store"
    held = _Held()
    with make_session(root, held) as s:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        s.set_budget(price * 1.5)  # room for one image, not two
        first = threading.Thread(target=s.image, args=("a pear",), kwargs={"model": "gpt-image-1.5"})
        first.start()
        try:
            while not held.posts("/v1/images"):  # in flight, held until the other kernel has tried
                time.sleep(0.01)
            other = subprocess.run([sys.executable, "-c", _OTHER_KERNEL, str(root)], capture_output=True,
                                   text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        finally:
            held.go.set()
            first.join()
        assert other.returncode == 0, other.stderr
        assert other.stdout.split() == ["refused"]
        assert s.budget.spent_usd == pytest.approx(price)
        s.set_budget(price * 3)
        held.set_faults(Faults(error_rates={400: 1.0}))
        with pytest.raises(TokenhotError):
            s.image("a refused pear", model="gpt-image-1.5")
        assert s.budget.spent_usd == pytest.approx(price)  # a call that ended without a cost reserves nothing
        assert [e.status for e in s.history][-1] == "error"
        assert not any("reserved" in e.usage for e in s.history)  # the reservation left every row as it ended


#: A kernel whose reading of the spending takes a while (a long history, a busy disk): the window in which another
#: kernel could pass the same check, if the check and the running row were two transactions.
_RACING_KERNEL = """
import sys, time
from tokenhot_nb import Session
from tokenhot_nb.errors import BudgetExceededError
from tokenhot_nb.history import _spending
from tokenhot_nb.sim import Faults, SimTransport

counted = _spending.Spending.spent

def slow(self, *args, **kw):
    usd = counted(self, *args, **kw)
    time.sleep(0.4)
    return usd

_spending.Spending.spent = slow
with Session(store=sys.argv[1], transport=SimTransport(Faults()), mode="offline") as s:
    s.estimate("image", "a pear", model="gpt-image-1.5")  # the catalogue read: both start from the same point
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        s.image("a pear", model="gpt-image-1.5")
        print("sent", flush=True)
    except BudgetExceededError:
        print("refused", flush=True)
"""


def test_two_kernels_checking_the_budget_at_once_never_both_spend_it(tmp_path: Path) -> None:
    """The budget check and the running row are one transaction: two kernels that check at the same moment see
    each other's call, so a budget with room for one image sends one, not two (each check took 0.4 s here)."""
    root = tmp_path / "store"
    with make_session(root) as s:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        s.set_budget(price * 1.5)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    kernels = [subprocess.Popen([sys.executable, "-c", _RACING_KERNEL, str(root)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
               for _ in range(2)]
    try:
        for k in kernels:
            assert k.stdout is not None and k.stdout.readline().strip() == "ready", k.stderr
        for k in kernels:  # both at once
            assert k.stdin is not None
            k.stdin.write("\n")
            k.stdin.flush()
        said = sorted(k.communicate(timeout=60)[0].strip() for k in kernels)
    finally:
        for k in kernels:
            if k.poll() is None:
                k.kill()
                k.wait()
    assert said == ["refused", "sent"]
    with make_session(root) as s:
        assert s.budget.spent_usd == pytest.approx(price)
        assert [e.status for e in s.history].count("ok") == 1


def test_a_call_too_cheap_for_four_decimals_never_shows_as_free_in_the_history(s: Session) -> None:
    """An embedding of a few words costs a fraction of $0.0001: the history's cost cell and the usage table say
    "<$0.0001", as the result does, never "$0.0000"."""
    result = s.embed(["one two three"], model="jina-embeddings-v4")
    usd = result.entry.cost.usd
    assert usd is not None and 0 < usd < 0.00005 and "<$0.0001" in str(result.entry.cost)
    from tokenhot_nb.history._history import history_text

    listing, usage = history_text(s.history), repr(s.history.usage())
    assert "$0.0000" not in listing and "<$0.0001 sim" in listing
    assert "$0.0000" not in usage and "<$0.0001" in usage
    assert "&lt;$0.0001 sim" in s.history._repr_html_() and "$0.0000" not in s.history.usage()._repr_html_()


class _RateRelay(Recorder):
    """The simulator with a top-up rate other than ¥7 in its ``/api/status`` (the site sets it)."""

    RATE = 7.3

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path == "/api/status":
            body = json.loads(await response.aread())
            body["data"]["price"] = self.RATE
            return httpx.Response(200, json=body)
        return response


def test_a_budget_in_yuan_uses_the_sites_top_up_rate(tmp_path: Path) -> None:
    """¥ amounts convert at ``/api/status`` ``price`` (§10.1), as every call's cost does, not at a built-in ¥7."""
    with make_session(tmp_path / "store", _RateRelay()) as s:
        status = s.set_budget("¥73")
        assert status.budget is not None and status.budget.usd == pytest.approx(10.0)
        result = s.image("a pear", model="gpt-image-2")
        assert result.entry.cost.amount == pytest.approx(result.entry.cost.usd * 7.3)
        text = str(s.budget)
        assert "¥73.00" in text, text  # the limit shows in yuan at the same rate it was set with
        left = 10.0 - result.entry.cost.usd
        assert f"¥{left * 7.3:.4f}" in text, text  # (spent and left shown to the same decimals)


def test_the_check_before_a_call_counts_a_yuan_budget_at_the_sites_rate(tmp_path: Path) -> None:
    """¥0.2 is $0.0274 at ¥7.3 (less than gpt-image-2's $0.028: refused), though $0.0286 at ¥7 (enough)."""
    with make_session(tmp_path / "store", _RateRelay()) as s:
        s.set_budget("¥0.2")
        with pytest.raises(BudgetExceededError):
            s.image("a pear", model="gpt-image-2")
        s.set_budget("¥0.21")  # $0.0288: enough
        assert s.image("a pear", model="gpt-image-2").entry.ok


def test_a_yuan_budget_given_to_the_session_is_counted_at_the_sites_rate(tmp_path: Path) -> None:
    """``Session(budget="¥0.2")`` reads nothing while it is made; the check counts it at the site's rate."""
    with make_session(tmp_path / "store", _RateRelay(), budget="¥0.2") as s, pytest.raises(BudgetExceededError):
        s.image("a pear", model="gpt-image-2")


@pytest.mark.parametrize("stream", [False, True])
def test_cached_input_tokens_cost_the_cache_ratio_as_the_relay_charges(relay: Server, tmp_path: Path,
                                                                        stream: bool) -> None:
    """A thread's second turn sends its first again: the relay reports that part as cached
    (``prompt_tokens_details.cached_tokens``) and bills it at the row's ``cache_ratio``; the recorded cost is
    what was billed, not the full input price."""
    row = table(relay.url)["gpt-5"]
    long = "The history of the pear, told at length. " * 400
    with live(relay, tmp_path / "store") as s:
        s.chat(long, model="gpt-5", system="You are terse.", stream=False)
        before = billed_cents(relay.url, KEY)
        answer = s.chat("Shorter, please.", model="gpt-5", stream=stream)
        billed_usd = (billed_cents(relay.url, KEY) - before) / 100 / 7
        usage, c = answer.entry.usage, answer.entry.cost
    cached = usage.get("cached_tokens", 0)
    assert 1024 <= cached < usage["input_tokens"]
    per_m_in = row["model_ratio"] * 2
    expected = ((usage["input_tokens"] - cached + cached * row["cache_ratio"]) * per_m_in
                + usage["output_tokens"] * per_m_in * row["completion_ratio"]) / 1e6
    assert c.usd == pytest.approx(expected)
    assert c.usd == pytest.approx(billed_usd, abs=2 / QPU)  # (the relay charges whole quota units)
    assert "cached" in c.detail


def test_a_chat_asking_for_several_answers_is_estimated_with_its_prompt_billed_once(s: Session, rec: Recorder) -> None:
    """``n=3`` answers to one prompt: the relay counts the prompt once (``usage.prompt_tokens``) and the output of
    all three; the estimate's floor must not sit above what the call then costs."""
    long = "The history of the pear, told at length. " * 100
    one = s.estimate("chat", long, model="gpt-5", stream=False, max_tokens=50)
    three = s.estimate("chat", long, model="gpt-5", stream=False, n=3, max_tokens=50)
    assert three.usd == pytest.approx(one.usd)  # the same prompt
    assert three.usd_max is not None and one.usd_max is not None and one.usd is not None
    assert three.usd_max - three.usd == pytest.approx(3 * (one.usd_max - one.usd))  # three answers' output
    answer = s.chat(long, model="gpt-5", stream=False, n=3, max_tokens=50)
    assert rec.json(-1)["n"] == 3
    assert len(answer.choices) == 3 and len(answer.entry.response["choices"]) == 2  # all three paid answers kept
    c = answer.entry.cost
    assert c.usd is not None and c.usd <= three.usd_max


def test_a_call_the_relay_refused_or_a_failed_task_says_not_charged(tmp_path: Path) -> None:
    """A 4xx answer and a failed video task cost nothing (the relay bills neither: its balance does not move):
    the row says "not charged", a known $0, not "cost unknown"; a 5xx (maybe a gateway's) stays unknown."""
    rec = Recorder(Faults(fail_first={400: 1}))
    with make_session(tmp_path / "store", rec) as s:
        with pytest.raises(TokenhotError):
            s.chat("hi", model="gpt-5", stream=False)
        refused = s.history[-1]
        assert refused.status == "error" and refused.cost.usd == 0 and refused.cost.known
        assert str(refused.cost).startswith("not charged") and "400" in refused.cost.detail
        rec.set_faults(Faults(video_failure=True))
        with pytest.raises(TokenhotError):
            s.video("waves", model="doubao-seedance-2.0-fast", duration=5, progress=False)
        failed = s.history[-1]
        assert failed.kind == "video" and failed.status == "error" and failed.cost.usd == 0
        assert str(failed.cost).startswith("not charged")
        rec.set_faults(Faults(fail_first={500: 9}))
        with pytest.raises(TokenhotError):
            s.chat("hi again", model="gpt-5", stream=False)
        assert s.history[-1].status == "error" and s.history[-1].cost.usd is None
        assert rec.sim.app.state.sim.spent_quota == 0


class _RowWithoutPrice(Recorder):
    """The simulator's table with gpt-5's and gpt-image-2's price cells missing (a relay's half-filled row)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path == "/api/pricing":
            body = json.loads(await response.aread())
            for row in body["data"]:
                if row["model_name"] in ("gpt-5", "gpt-image-2"):
                    for cell in ("model_ratio", "completion_ratio", "model_price"):
                        row.pop(cell, None)
            return httpx.Response(200, json=body)
        return response


def test_a_row_that_names_no_price_is_cost_unknown_never_free(tmp_path: Path) -> None:
    with make_session(tmp_path / "store", _RowWithoutPrice()) as s:
        assert not s.estimate("chat", "hi", model="gpt-5", stream=False).known
        assert not s.estimate("image", "a pear", model="gpt-image-2").known
        assert str(s.chat("hi", model="gpt-5", stream=False).entry.cost) == "cost unknown"
        assert str(s.image("a pear", model="gpt-image-2").entry.cost) == "cost unknown"
        assert s.estimate("chat", "hi", model="gpt-5.2", stream=False).known  # (the other rows keep theirs)


def test_a_call_whose_cost_stayed_unknown_counts_at_its_estimate_and_the_budget_says_so(tmp_path: Path) -> None:
    """A spending cap must not be crossed by calls whose cost nobody told: a paid call that ended with a 5xx (the
    relay behind a gateway may have made and billed it) counts at what it reserved, its estimate, not as $0, and
    the budget (shown, or refusing a call) says some costs were unknown."""
    rec = Recorder(Faults(fail_first={500: 9}))
    with make_session(tmp_path / "store", rec) as s:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        assert price
        s.set_budget(price * 1.5)  # room for one image
        with pytest.raises(TokenhotError):
            s.image("a pear", model="gpt-image-1.5")
        entry = s.history[-1]
        assert entry.status == "error" and entry.cost.usd is None  # still "cost unknown" in the history
        assert s.budget.spent_usd == pytest.approx(price)
        shown = str(s.budget)
        assert "1 call" in shown and "cost unknown" in shown and "estimate" in shown
        rec.set_faults(Faults())
        with pytest.raises(BudgetExceededError) as info:
            s.image("another pear", model="gpt-image-1.5")
        assert "1 call's cost unknown" in info.value.message
        assert "counted at its estimate" in (info.value.hint or "") and "budget" in (info.value.hint or "")
        s.set_budget(price * 3)
        assert s.image("another pear", model="gpt-image-1.5").entry.status == "ok"
        assert s.budget.spent_usd == pytest.approx(2 * price)


def test_a_call_whose_cost_is_unknown_and_had_no_estimate_is_said_to_count_as_nothing(tmp_path: Path) -> None:
    """A call with no estimate either (a model whose price row names no price, let through by the budget) can only
    count as $0: the budget says so rather than look complete."""
    with make_session(tmp_path / "store", _RowWithoutPrice()) as s:
        s.set_budget(5, allow_unknown=True)
        assert str(s.chat("hi", model="gpt-5", stream=False).entry.cost) == "cost unknown"
        assert s.budget.spent_usd == 0
        shown = str(s.budget)
        assert "1 call" in shown and "no estimate" in shown


def test_a_budget_refuses_a_call_whose_cost_cannot_be_estimated_until_told_to_let_it_through(
        relay: Server, tmp_path: Path) -> None:
    """A video priced per task was sent under any budget with money left: with $0.01 of $5 left it could spend
    dollars past the limit, without a word. It is refused in one line saying why and how to allow such calls;
    allowed, it runs and its charged quota counts; the choice is kept with the budget (a restart keeps it)."""
    before = billed_cents(relay.url, KEY)
    with live(relay, tmp_path / "store", budget=5) as s:
        with pytest.raises(BudgetExceededError) as info:
            s.video("waves", model="doubao-seedance-2.0-fast", duration=5, resolution="720p", progress=False)
        err = info.value
        assert "cannot be estimated before it runs" in err.message and "charged per task" in err.message
        assert "\n" not in err.message and err.estimate_usd is None and err.left_usd == pytest.approx(5)
        assert "allow_unknown=True" in (err.hint or "") and "--budget-unknown allow" in (err.hint or "")
        assert billed_cents(relay.url, KEY) == before  # nothing was sent
        assert s.history[-1].status == "error" and s.history[-1].endpoint == ""
        status = s.set_budget(5, allow_unknown=True)
        assert "let through" in str(status)
        clip = s.video("waves", model="doubao-seedance-2.0-fast", duration=5, resolution="720p", progress=False)
        assert clip.entry.cost.usd and s.budget.spent_usd == pytest.approx(clip.entry.cost.usd)
    with live(relay, tmp_path / "store") as s2:  # a kernel restart: the budget keeps the choice
        assert s2.budget.budget is not None and s2.budget.budget.allow_unknown
        s2.set_budget(4)  # a new amount keeps it too
        assert s2.budget.budget is not None and s2.budget.budget.allow_unknown
        s2.set_budget(4, allow_unknown=False)
        with pytest.raises(BudgetExceededError, match="cannot be estimated"):
            s2.video("more waves", model="doubao-seedance-2.0-fast", progress=False)


def test_a_model_without_a_price_is_refused_under_a_budget_and_an_estimable_one_is_not(tmp_path: Path) -> None:
    """A chat or image on a row that names no price is refused as a video is (nothing bounds its cost), saying the
    table states no price; a priced model beside it still goes."""
    rec = _RowWithoutPrice()
    with make_session(tmp_path / "store", rec, budget=5) as s:
        for call in (lambda: s.chat("hi", model="gpt-5", stream=False), lambda: s.image("a pear", model="gpt-image-2")):
            with pytest.raises(BudgetExceededError, match="states no price"):
                call()
        assert rec.posts("/v1/") == []
        assert s.chat("hi", model="gpt-5.2", stream=False).entry.status == "ok"
        with pytest.raises(TokenhotError, match="allow_unknown is True or False"):
            s.set_budget(5, allow_unknown="yes")  # type: ignore[arg-type]


class _Unreachable(Recorder):
    """The relay as seen from a machine whose network is down (``connect=True``: no connection could be made) or
    whose connection broke once the request had gone out (``connect=False``)."""

    def __init__(self, *, connect: bool) -> None:
        super().__init__()
        self.connect = connect
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and request.method == "POST":
            if self.connect:
                raise httpx.ConnectError("[Errno 101] Network is unreachable", request=request)
            await request.aread()
            raise httpx.ReadError("connection reset by peer", request=request)
        return await super().handle_async_request(request)


@pytest.mark.parametrize("connect", [True, False], ids=["never-connected", "broke-after-sending"])
def test_a_paid_call_that_never_reached_the_relay_is_not_charged_and_does_not_eat_the_budget(
        tmp_path: Path, connect: bool) -> None:
    """With the network down, every call fails to connect: nothing was sent, so nothing was billed. Each must not
    count at its estimate (a few failed cells would use the whole budget up); one that broke after its request
    went out may have been billed, and does count."""
    rec = _Unreachable(connect=connect)
    with make_session(tmp_path / "store", rec, max_retries=1) as s:
        price = s.estimate("image", "a pear", model="gpt-image-1.5").usd
        assert price
        s.set_budget(price * 2.5)
        rec.down = True
        for _ in range(3):
            with pytest.raises(TokenhotError):
                s.image("a pear", model="gpt-image-1.5")
        entry = s.history[-1]
        assert entry.status == "error"
        if connect:
            assert entry.cost.usd == 0 and "never reached the relay" in (entry.cost.detail or "")
            assert s.budget.spent_usd == 0 and "unknown" not in str(s.budget)
            rec.down = False
            assert s.image("a pear", model="gpt-image-1.5").entry.status == "ok"
        else:
            assert entry.endpoint == "" and str(entry.cost).startswith("not charged")  # the budget refused the third
            assert s.history[-2].cost.usd is None and s.history[-2].endpoint
            assert s.budget.spent_usd == pytest.approx(2 * price)


def test_a_budget_period_started_in_a_replay_starts_when_the_recordings_did(tmp_path: Path) -> None:
    """The history tutorial's budget line says "since <time>": a replay started its period at the time of the
    re-run, so the line changed with the clock. It starts when the recording's did (the next recorded call)."""
    import time

    with make_session(tmp_path / "store", Recorder()) as s:
        s.chat("one", stream=False)
        s.set_budget(1.0, new_period=True)
        second = s.chat("two", stream=False)
    time.sleep(0.05)
    with make_session(tmp_path / "store", Recorder(), mode="replay") as r:
        r.chat("one", stream=False)
        shown = r.set_budget(1.0, new_period=True)
        assert shown.budget is not None and shown.budget.since == second.entry.started
        r.chat("two", stream=False)
        before = time.time()
        again = r.reset_budget().budget
        assert again is not None and again.since >= before  # nothing recorded after: the clock's now


# ----------------------------------------------------------------------------- the key's group (new-api 分组)


def test_a_keys_group_ratio_prices_every_call_as_the_relay_charges_it(relay: Server, tmp_path: Path) -> None:
    """The table's ``group_ratio`` multiplies what a key of that group pays (the simulator's vip: 0.9): with
    ``price_group`` set, the recorded cost of an image, a chat and a video is what the balance lost."""
    groups = httpx.get(relay.url + "/api/pricing", timeout=30).json()["group_ratio"]
    assert groups["vip"] == 0.9
    relay.set_faults(Faults(key_group="vip"))
    price = table(relay.url)["gpt-image-2"]["model_price"]
    with live(relay, tmp_path / "store", price_group="vip") as s:
        before = billed_cents(relay.url, KEY)
        image = s.image("one", model="gpt-image-2").entry.cost
        after_image = billed_cents(relay.url, KEY)
        chat = s.chat("Name a colour.", model="gpt-5", stream=False).entry.cost
        after_chat = billed_cents(relay.url, KEY)
        video = s.video("a kite", model="doubao-seedance-2.0-fast", duration=5).entry.cost
        after_video = billed_cents(relay.url, KEY)
        estimate = s.estimate("image", "two", model="gpt-image-2")
    assert image.usd == pytest.approx(price * 0.9) and "group vip ×0.9" in image.detail
    for cost, spent in ((image, after_image - before), (chat, after_chat - after_image),
                        (video, after_video - after_chat)):
        assert cost.amount is not None and cost.amount * 100 == pytest.approx(spent, rel=1e-3, abs=1e-3)  # (¥ cents)
    assert estimate.usd == pytest.approx(price * 0.9)


def test_without_its_group_a_vip_keys_cost_reads_the_tables_default_price(relay: Server, tmp_path: Path) -> None:
    relay.set_faults(Faults(key_group="vip"))
    price = table(relay.url)["gpt-image-2"]["model_price"]
    with live(relay, tmp_path / "store") as s:
        cost = s.image("one", model="gpt-image-2").entry.cost
    assert cost.usd == pytest.approx(price) and "group" not in cost.detail  # default's ratio is 1


def test_a_price_group_the_table_does_not_name_is_refused_before_any_request(relay: Server, tmp_path: Path) -> None:
    with live(relay, tmp_path / "store", price_group="vpi") as s:
        before = billed_cents(relay.url, KEY)
        with pytest.raises(TokenhotError) as err:
            s.image("one", model="gpt-image-2")
        assert billed_cents(relay.url, KEY) == before and [e.status for e in s.history] in ([], ["error"])
    message = str(err.value)
    assert "price_group 'vpi' is not a group of the service's price table (default, vip)." in message
    assert "Did you mean 'vip'?" in message and "\n" not in err.value.message


def test_a_price_group_typo_is_refused_where_it_is_set_before_any_table_is_read(tmp_path: Path) -> None:
    """Offline, the simulator's groups are data: ``Session(price_group='vipp')`` was made without a word and the
    error came at some later call; it is refused at once, one line with the nearest name."""
    with pytest.raises(TokenhotError) as err:
        Session(store=tmp_path / "a", mode="offline", price_group="vipp")
    assert "price_group 'vipp' is not a group of the service's price table (default, vip)." in err.value.message
    assert "Did you mean 'vip'?" in err.value.message and "\n" not in err.value.message
    with Session(store=tmp_path / "b", mode="offline", price_group="vip") as s:
        assert s.catalog.table is None  # (a good group costs no read)


def test_a_price_group_is_checked_against_a_current_copy_of_the_live_table(relay: Server, tmp_path: Path) -> None:
    """Live, a current copy of the service's table on disk answers at once; with none, the first call does."""
    with live(relay, tmp_path / "store") as s:
        s.models()  # (the table is read and cached beside the history)
    with pytest.raises(TokenhotError, match="price_group 'vpi' is not a group"):
        live(relay, tmp_path / "store", price_group="vpi")
    s = live(relay, tmp_path / "fresh", price_group="vpi")  # no copy: nothing to check against yet
    with s, pytest.raises(TokenhotError, match="price_group 'vpi' is not a group"):
        s.catalog.check_group("vpi")  # (%th_config --price-group reads the table to check)
    with live(relay, tmp_path / "fresh2", price_group="vpi") as s:
        s.catalog.check_group("vip")  # the group that mends it passes, whatever the session has now
        with pytest.raises(TokenhotError, match="price_group 'vpi' is not a group"):
            s.models()  # (listed, its prices were the default group's, shown as the key's)


def test_the_price_group_comes_from_the_environment_and_must_be_a_name(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.setenv("TOKENHOT_PRICE_GROUP", " vip ")
    with Session(store=tmp_path / "a", mode="offline") as s:
        assert s.settings.price_group == "vip"
        assert s.image("one", model="gpt-image-2").entry.cost.detail.endswith("(group vip ×0.9)")
    with pytest.raises(TokenhotError, match="price_group must be a group name, not int"):
        Session(store=tmp_path / "b", mode="offline", price_group=5)


def test_a_yuan_budget_and_the_yuan_costs_use_one_rate_however_the_status_writes_it(tmp_path: Path) -> None:
    """``/api/status`` ``price`` as text ("7.3"): the prices read it, the budget did not (¥7), so ``s.budget`` showed
    ¥20 as $2.86 while each call was checked against $2.74."""
    from tokenhot_nb._catalog_live import LiveTable
    from tokenhot_nb._session import budget as _budget

    with Session(store=tmp_path / "a", mode="offline") as s:
        s.catalog._set(LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=[],
                                 status={"price": "7.3"}))
        assert _budget.site_rate(s) == 7.3
        s.catalog._set(LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=[],
                                 status={"price": "-7"}))
        assert _budget.site_rate(s) == 7.0
        s.catalog._set(LiveTable(base_url="http://relay.test", fetched_at=time.time(), rows=[],
                                 status={"price": 1e308}))  # (no rate: the prices fall back to ¥7; so does a
        assert _budget.site_rate(s) == 7.0  # ¥20 budget, which was $2e-307 and refused every call)
        assert _budget.status(s).rate == 7.0


class _GroupRatioZero(Recorder):
    """The simulator's table with the ``default`` group's ``group_ratio`` at 0 (a relay's free group, or a slip)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path == "/api/pricing":
            body = json.loads(await response.aread())
            body["group_ratio"] = {**body.get("group_ratio", {}), "default": 0}
            return httpx.Response(200, json=body)
        return response


def test_a_group_ratio_of_0_is_no_price_so_a_budget_still_stops_calls(tmp_path: Path) -> None:
    """A ``group_ratio`` of 0 made every cost and estimate $0: a budget then never stopped anything, though the key's
    group is only a setting the client cannot check. Such a price is unknown: the budget refuses the call saying
    why, the estimate and the model's price say unknown (not free), and a call let through is "cost unknown"."""
    rec = _GroupRatioZero()
    with make_session(tmp_path / "store", rec, budget=0.05) as s:
        estimate = s.estimate("image", "a pear", model="gpt-image-2")
        assert estimate.usd is None and "ratio of 0" in (estimate.detail or "")
        assert "unknown" in s.model("gpt-image-2").price.describe("image")  # type: ignore[union-attr]
        for _ in range(3):  # $0 each, these were all sent past a 5-cent budget
            with pytest.raises(BudgetExceededError, match="'default' a ratio of 0"):
                s.image("a pear", model="gpt-image-2")
        assert rec.posts("/v1/") == []
        s.set_budget(0.05, allow_unknown=True)
        entry = s.chat("hi", model="gpt-5", stream=False).entry
        assert entry.cost.usd is None and str(entry.cost) == "cost unknown"


@pytest.mark.parametrize("model, extra", [
    ("gpt-image-2", {"n": 8}),
    ("doubao-seedream-4-5-251128", {"sequential_image_generation": "auto",
                                    "sequential_image_generation_options": {"max_images": 8}}),
    ("doubao-seedream-4-5-251128", {"sequential_image_generation": "auto"}),  # up to 15: counted as 15
])
def test_images_asked_for_through_extra_are_estimated_and_refused_by_the_budget(
        relay: Server, tmp_path: Path, model: str, extra: dict[str, Any]) -> None:
    """``extra={"n": 8}`` (or Seedream's image set) was estimated as one image: with room for two and a half, the
    call went and the relay billed eight. The estimate counts what the body asks for."""
    price = table(relay.url)[model]["model_price"]
    asked = 8 if extra.get("sequential_image_generation_options") or "n" in extra else 15
    before = billed_cents(relay.url, KEY)
    with live(relay, tmp_path / "store", budget=price * 2.5) as s:
        assert s.estimate("image", "a pear", model=model, extra=extra).usd == pytest.approx(price * asked)
        with pytest.raises(BudgetExceededError) as info:
            s.image("a pear", model=model, extra=extra)
        assert info.value.estimate_usd == pytest.approx(price * asked)
    assert billed_cents(relay.url, KEY) == before


def test_an_edit_sent_as_a_form_counts_the_images_its_extra_asks_for(relay: Server, tmp_path: Path) -> None:
    """An edit goes as a multipart form, whose fields are text: ``extra={"n": 3}`` there was estimated as one image,
    so a budget with room for two let a call through that the relay billed three."""
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(png, "PNG")
    price = table(relay.url)["gpt-image-2"]["model_price"]
    before = billed_cents(relay.url, KEY)
    with live(relay, tmp_path / "store", budget=price * 2.5) as s:
        assert s.estimate("edit", [png.getvalue()], "make it blue", model="gpt-image-2",
                          extra={"n": 3}).usd == pytest.approx(price * 3)
        with pytest.raises(BudgetExceededError):
            s.edit([png.getvalue()], "make it blue", model="gpt-image-2", extra={"n": 3})
    assert billed_cents(relay.url, KEY) == before


def test_a_claude_estimate_tops_at_the_max_tokens_its_body_sends(relay: Server, tmp_path: Path) -> None:
    """A Claude call with no ``max_tokens`` goes with 8,192 (Anthropic requires one), and a thinking budget on top:
    the estimate's top assumed 4,096 output tokens, half of what the relay may bill (a budget let it cross)."""
    row = table(relay.url)["claude-opus-4-6"]
    per_output_token = float(row["model_ratio"]) * 2 * float(row["completion_ratio"]) / 1e6
    with live(relay, tmp_path / "store") as s:
        plain = s.estimate("chat", "hi", model="claude-opus-4-6", endpoint="messages", stream=False)
        assert plain.usd_max is not None and plain.usd is not None
        assert plain.usd_max - plain.usd == pytest.approx(8192 * per_output_token)
        thinking = s.estimate("chat", "hi", model="claude-opus-4-6", endpoint="messages", stream=False,
                              thinking={"type": "enabled", "budget_tokens": 20_000})
        assert thinking.usd_max is not None and thinking.usd is not None
        assert thinking.usd_max - thinking.usd == pytest.approx((20_000 + 8192) * per_output_token)


def _artifacts(s: Session) -> tuple[list[tuple[str, int]], list[str]]:
    """The store's artifacts: the rows of its table and the files beside its database."""
    import sqlite3

    with sqlite3.connect(s.store.db_path) as db:
        rows = sorted(db.execute("SELECT sha256, size FROM artifacts"))
    files = sorted(str(p.relative_to(s.store.root)) for p in s.store.root.rglob("*")
                   if p.is_file() and not p.name.startswith(s.store.db_path.name))
    return rows, files


@pytest.mark.parametrize("method", ["transcribe", "edit", "chat", "conversation", "video"])
def test_an_estimate_stores_none_of_its_inputs(tmp_path: Path, method: str) -> None:
    """Asking for a price (the transcription panel's price line, an edit's estimate) wrote the input file (the
    audio, the image to edit) into the history's artifacts, though no call is made; a panel prices again at each
    change, so every file picked before a click was kept. An estimate writes nothing to the store."""
    from _session_support import short_wav
    from _widgets_support import png_bytes

    image = png_bytes(color="blue")
    calls: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
        "transcribe": ((short_wav(),), {"model": "whisper-1"}),
        "edit": ((image, "make the sky purple"), {"model": "gpt-image-1.5"}),
        "chat": (("What is in this picture?",), {"images": [image], "thread": False}),
        "conversation": (([{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                                         {"type": "image", "data": image, "mime": "image/png"}]}],),
                         {"thread": False}),
        "video": (("the picture, moving",), {"image": image, "model": "doubao-seedance-2.0"}),
    }
    args, kwargs = calls[method]
    method = "chat" if method == "conversation" else method
    with Session(mode="offline", store=tmp_path / "store") as s:
        s.chat("hello", stream=False, thread=False)  # (a store in use: its table and folders exist)
        before = _artifacts(s)
        assert s.estimate(method, *args, **kwargs).usd is not None or method == "video"
        assert _artifacts(s) == before and len(s.history) == 1


@pytest.mark.parametrize("method", ["transcribe", "edit"])
def test_an_estimate_downloads_no_input_url(tmp_path: Path, method: str) -> None:
    """A transcription or an OpenAI image edit of a URL downloads it before the call (the endpoint takes the bytes);
    an estimate did too, into the store's folder, just to price a call it never makes (and failed when the link
    did). It downloads nothing now: the price does not depend on the bytes."""
    rec = Recorder()
    url = "http://tokenhot.sim/sim/files/" + ("speech.wav" if method == "transcribe" else "photo.png")
    args: tuple[Any, ...] = (url,) if method == "transcribe" else (url, "make the sky purple")
    model = "whisper-1" if method == "transcribe" else "gpt-image-1.5"
    with make_session(tmp_path / "store", rec) as s:
        assert s.estimate(method, *args, model=model).usd is not None
        assert rec.requests == [] or all("/sim/files/" not in r["path"] for r in rec.requests)
        assert not (s.store.artifacts_dir / "incoming").exists() and len(s.history) == 0


def _counted_whole(call: Any) -> int:
    """The estimate's input tokens by their plain definition: the conversation's JSON text, counted at once."""
    from tokenhot_nb import cost
    from tokenhot_nb._session import budget

    return cost.tokens_in_text(budget._input_text(call))


def test_a_conversation_whose_measure_failed_is_measured_whole_next_time() -> None:
    """Measuring a remembered thread's new turns grew the remembered list as it went; an item after them that is
    no JSON (a set) raised with the list grown and its sizes not, and the next estimate of that thread came out
    short by the turns added. It is forgotten instead."""
    from tokenhot_nb._session import budget
    from tokenhot_nb.families._types import HttpCall, KeptMessage

    def call(messages: list[Any]) -> HttpCall:
        return HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": list(messages)})

    msgs: list[Any] = [KeptMessage(role="user" if i % 2 == 0 else "assistant", content=f"turn {i} " * 5)
                       for i in range(12)]
    assert budget._input_tokens(call(msgs)) == _counted_whole(call(msgs))  # (remembered)
    added = [KeptMessage(role="user", content="a long new question " * 50), KeptMessage(role="assistant", content="ok")]
    with pytest.raises(TypeError):
        budget._input_tokens(call([*msgs, *added, {"role": "user", "content": {"a", "set"}}]))
    c = call([*msgs, *added, KeptMessage(role="user", content="next")])
    assert budget._input_tokens(c) == _counted_whole(c)


def test_a_long_conversation_is_measured_once_and_an_edit_is_measured_again() -> None:
    """A thread's earlier turns are measured once (the estimate of turn 400 looped over all 800 messages, ~0.7 ms,
    before every call under a budget); a message edited in place, replaced, or a branch is measured as it is now."""
    from tokenhot_nb._session import budget
    from tokenhot_nb.families._types import HttpCall, KeptMessage

    def call(messages: list[Any]) -> HttpCall:  # (each turn's body is a new list of the same items)
        return HttpCall("POST", "/v1/chat/completions", json={"model": "m", "messages": list(messages)})

    msgs: list[Any] = [{"role": "system", "content": "Be brief."}]
    msgs += [KeptMessage(role="user" if i % 2 == 0 else "assistant", content=f"turn {i} " * 5) for i in range(30)]
    msgs[7] = {"role": "user", "content": "a dict of the user's own"}
    for c in (call(msgs), call([*msgs, KeptMessage(role="user", content="more")])):
        assert budget._input_tokens(c) == _counted_whole(c)
    assert len(budget._MEASURED[id(msgs[0])][1]) == 32  # remembered: the next turn measures what it adds
    edits: list[Any] = [
        lambda: msgs[3].__setitem__("content", "a much longer edit " * 40),  # a thread's message, in place
        lambda: msgs[7].__setitem__("content", "the user's dict edited " * 40),  # (no one counts this edit)
        lambda: msgs.__setitem__(9, KeptMessage(role="user", content="another message " * 40)),
        lambda: msgs.__delitem__(slice(20, None)),  # a branch back to an earlier turn
        lambda: msgs[5].__setitem__("content", [{"type": "text", "text": "blocks " * 40}]),
    ]
    for edit in edits:
        edit()
        c = call([*msgs, KeptMessage(role="user", content="next")])
        assert budget._input_tokens(c) == _counted_whole(c)
    msgs[5]["content"] = [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    c = call([*msgs, KeptMessage(role="user", content="next")])
    assert budget._input_tokens(c) == _counted_whole(c)
    assert budget._cache_write(c, budget._input_size(c)[1]) == "1h"  # a mark put in a kept turn is seen


def test_a_threads_estimate_follows_an_edit_of_its_earlier_turns(tmp_path: Path) -> None:
    with Session(mode="offline", store=tmp_path / "s") as s:
        for i in range(10):
            s.chat(f"question {i}", thread="t", stream=False)
        before = s.estimate("chat", "and now?", thread="t")
        s.threads.get("t").messages[2]["content"] = "a much longer question " * 200  # edited in place
        after = s.estimate("chat", "and now?", thread="t")
        assert before.usd is not None and after.usd is not None and after.usd > before.usd


def test_an_estimate_leaves_a_threads_kept_body_as_its_turns_left_it(tmp_path: Path) -> None:
    """The chat panel prices what is typed (an estimate, on the kernel's thread) while its worker may be running a
    turn of the same thread. The estimate took no turn but built its body on the thread's kept body, extending it
    with its own question: between a turn's look at the kept body and its use of it, the paid body carried the
    question only priced. An estimate builds on a body of its own."""
    with Session(mode="offline", store=tmp_path / "s") as s:
        for i in range(4):
            s.chat(f"question {i}", thread="t", stream=False)
        kept = s.threads.get("t").prefix
        assert kept is not None
        state = (list(kept.seen), bytes(kept.encoded), kept.key)
        assert s.estimate("chat", "a question typed in the panel", thread="t").usd is not None
        assert s.threads.get("t").prefix is kept and (list(kept.seen), bytes(kept.encoded), kept.key) == state
        s.chat("question 4", thread="t", stream=False)
        assert "a question typed in the panel" not in json.dumps(s.history[-1].request or {})
