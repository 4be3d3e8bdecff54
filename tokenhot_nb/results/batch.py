"""BatchResult (many prompts, one model) and CompareResult (one prompt, many models)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .._config import redact
from .._safe import text_html as escape
from ..errors import clean_text
from ._base import Result, error_html
from .image import ImageResult
from .media import AudioResult, VideoResult
from .rerank import RerankResult
from .text import ChatResult

if TYPE_CHECKING:
    from .._session import Session
    from ..catalog import ModelInfo
    from ..cost import Cost


def paid(item: Item) -> Result | None:
    """The result ``item`` holds a cost for: itself, or what a failed call made before it failed (``err.partial``:
    images paid for whose files did not arrive, a video task as far as its wait went), else None."""
    if isinstance(item, Result):
        return item
    partial = getattr(item, "partial", None)
    return partial if isinstance(partial, Result) else None


def _total(items: Iterable[Item]) -> Cost:
    """The sum of what the results among ``items`` cost, with what a failed call made before it failed (paid images
    whose files did not arrive read $0 before); unknown as soon as one's cost is. Any other error holds no cost:
    see the history for a refused or failed call."""
    from ..cost import total

    return total(r.cost for r in map(paid, items) if r is not None)

Item = Any  # a Result or the exception that call raised
Rerun = Callable[[dict[int, BaseException]], Awaitable[list[Item]]]  #: failed index → its error → fresh items


def _cell(item: Item, label: str) -> str:
    head = f'<div style="font:11px sans-serif;color:#555;margin-bottom:2px">{escape(label)}</div>'
    if isinstance(item, BaseException):
        made = paid(item)  # what it made before failing (the images that did arrive) is shown, not only the error
        return head + error_html(item) + (_body(made) if made is not None else "")
    return head + _body(item)


def _body(item: Item) -> str:
    if isinstance(item, ImageResult):
        body = item.html(caption=False)
    elif isinstance(item, (VideoResult, AudioResult)):
        body = item.html()
    elif isinstance(item, ChatResult):
        body = f'<div style="white-space:pre-wrap;font:13px sans-serif">{escape(item.text)}</div>'
    elif isinstance(item, RerankResult):  # its own table (every text escaped there)
        body = item.html()
    elif isinstance(item, Result):
        body = f"<pre>{escape(repr(item))}</pre>"
    else:
        body = escape(str(item))
    return body


def _position(index: Any, count: int, what: str, example: str) -> int:
    """``index`` as a position among ``count``: one line (still an IndexError / TypeError) when it is none."""
    import operator

    from ..errors import OutOfRangeError, WrongTypeError

    try:
        i = operator.index(index)
    except TypeError:
        raise WrongTypeError(f"Positions are whole numbers, not {type(index).__name__} ({index!r:.40}).",
                             hint=f"e.g. {example}.") from None
    if not -count <= i < count:
        raise OutOfRangeError(f"There is no {what} {i}: this result has {count}"
                              + (f" (0 to {count - 1})." if count else "."), hint=f"Count from 0: {example}.")
    return i


class BatchResult(Result):
    """Results of one call per input, in input order; a failed input holds its exception.

    ``batch.failed`` maps index → error, ``batch.ok`` lists the successes, ``batch.retry()`` reruns only the
    failed inputs and fills them in place.
    """

    def __init__(self, items: list[Item], inputs: Sequence[Any], *, kind: str, model: str = "",
                 rerun: Rerun | None = None, session: Session | None = None) -> None:
        super().__init__(model=model, session=session)
        self.items = items
        self.inputs = list(inputs)
        self.kind = kind
        self._rerun = rerun
        #: told the inputs that failed again at each retry (the session records those refused before sending)
        self.on_failed: Callable[[dict[int, BaseException]], None] | None = None

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Item:
        if isinstance(index, slice):
            return self.items[index]  # type: ignore[return-value]  # (a list of items, as it always was)
        return self.items[_position(index, len(self.items), "input", "batch[0] (the first input's result)")]

    def __iter__(self) -> Iterator[Item]:
        return iter(self.items)

    @property
    def failed(self) -> dict[int, BaseException]:
        return {i: it for i, it in enumerate(self.items) if isinstance(it, BaseException)}

    @property
    def ok(self) -> list[Result]:
        return [it for it in self.items if not isinstance(it, BaseException)]

    @property
    def errors(self) -> list[BaseException]:
        return list(self.failed.values())

    @property
    def cost(self) -> Cost:
        """What the successful calls cost together, with what failed calls made before failing (unknown if any one's
        cost is)."""
        return _total(self.items)

    @property
    def entry_ids(self) -> list[int | None]:
        return [None if isinstance(it, BaseException) else it.entry_id for it in self.items]

    def raise_for_errors(self) -> BatchResult:
        """Raise the first error (after the whole batch ran), for scripts that want all-or-nothing."""
        from ..errors import shortened

        for err in self.failed.values():  # from here, not through a dozen of the call's internal frames
            raise shortened(err)  # (they stay on it: err.details(), %th_config --last-error)
        return self

    def _rerunnable(self) -> None:
        """Refuse a retry that has no session to call with, in one line that says how to rerun the failed inputs
        (it was a bare ``RuntimeError`` through the event loop's frames)."""
        if self._rerun is not None or not self.failed:
            return
        from ..errors import TokenhotError

        model = f", model={self.model!r}" if self.model else ""
        n = len(self.failed)
        raise TokenhotError(f"This batch has no session to rerun its {n} failed input{'s' if n > 1 else ''} with "
                            f"(it was not made by one).",
                            hint=f"Run them again on a session: session.{self.kind}([batch.inputs[i] for i in "
                                 f"batch.failed]{model}).")

    async def aretry(self) -> BatchResult:
        self._rerunnable()
        failed = self.failed
        if failed and self._rerun is not None:
            fresh = await self._rerun(failed)
            for i, item in zip(failed, fresh, strict=True):
                self.items[i] = item
            if self.on_failed is not None:
                self.on_failed({i: self.items[i] for i in failed if isinstance(self.items[i], BaseException)})
        return self

    def retry(self) -> BatchResult:
        """Rerun only the failed inputs (same options); returns this batch, updated. An input whose call was paid
        but whose files could not be fetched is resumed from its kept links instead (no new call, no new charge).
        """
        self._rerunnable()  # (before the event loop: its frames are no part of the answer)
        if self.session is not None:  # a Ctrl-C says which calls it ended, as the batch's own does (it was a bare
            return self.session._sync(self.aretry())  # KeyboardInterrupt, the rows left without its words)
        from ..client import run_sync

        return run_sync(self.aretry())

    def _plain(self) -> str:
        lines = [f"<BatchResult {self.kind}: {len(self.ok)} ok, {len(self.failed)} failed of {len(self.items)}>"]
        for i, err in self.failed.items():
            lines.append(f"  [{i}] {type(err).__name__}: {redact(clean_text(str(err)))[:200]}")
        return "\n".join(lines)

    def _bundle(self) -> dict[str, Any]:
        summary = (f'<div style="font:12px sans-serif">{len(self.ok)} ok, {len(self.failed)} failed'
                   + (" — <code>.retry()</code> reruns the failed ones" if self.failed else "") + "</div>")
        if self.kind in ("image", "edit"):
            cells = "".join(
                f'<div style="margin:4px;max-width:260px">{_cell(it, f"[{i}] {self._label(i)}")}</div>'
                for i, it in enumerate(self.items)
            )
            return {"text/html": summary + f'<div style="display:flex;flex-wrap:wrap">{cells}</div>'}
        rows = "".join(
            f'<tr><td style="vertical-align:top">{i}</td><td style="vertical-align:top;text-align:left">'
            f'{escape(self._label(i))}</td><td style="text-align:left">{_cell(it, "")}</td></tr>'
            for i, it in enumerate(self.items)
        )
        return {"text/html": summary + f"<table>{rows}</table>"}

    def _label(self, i: int) -> str:
        value = self.inputs[i] if i < len(self.inputs) else ""
        text = redact(value) if isinstance(value, str) else type(value).__name__  # before the cut, as a whole
        return text if len(text) <= 80 else text[:77] + "…"

    def provenance(self) -> dict[str, Any]:
        return {"tokenhot": {"kind": self.kind, "model": self.model, "entry_ids": self.entry_ids}}


class CompareResult(Result):
    """One prompt across several models: ``cmp[model]``, ``cmp.results`` (model → result or error)."""

    kind = "compare"

    def __init__(self, prompt: Any, results: dict[str, Item], *, of: str,
                 session: Session | None = None, names: dict[str, str] | None = None) -> None:
        super().__init__(model=", ".join(results), session=session)
        self.prompt = prompt
        self.results = results
        self.of = of  # the kind compared: image | chat | speak | video | rerank
        #: each name the models were asked by (an alias, a display name) → the model id its result is under
        self.names = names or {}

    def __getitem__(self, key: str | int | ModelInfo) -> Item:
        if not isinstance(key, (str, int)) and isinstance(getattr(key, "id", None), str):  # a ModelInfo it was
            key = key.id  # asked as (it said "Positions are whole numbers, not ModelInfo")
        if isinstance(key, str):
            found = key if key in self.results else self.names.get(key, self.names.get(key.strip()))
            if found is None or found not in self.results:
                from ..errors import NoEntryError

                raise NoEntryError(f"No model {key!r} in this comparison; it compared {', '.join(self.results)}.",
                                   hint="Index it by one of those ids, a name it was asked by, or a position: cmp[0].")
            return self.results[found]
        return list(self.results.values())[_position(key, len(self.results), "model", "cmp['<model id>'] or cmp[0]")]

    def __iter__(self) -> Iterator[str]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def items(self) -> list[tuple[str, Item]]:
        return list(self.results.items())

    @property
    def failed(self) -> dict[str, BaseException]:
        return {m: r for m, r in self.results.items() if isinstance(r, BaseException)}

    @property
    def cost(self) -> Cost:
        """What the successful calls cost together, with what failed calls made before failing (unknown if any one's
        cost is)."""
        return _total(self.results.values())

    def _plain(self) -> str:
        lines = [f"<CompareResult {self.of}: {len(self.results)} models>"]
        for m, r in self.results.items():
            if isinstance(r, BaseException):
                lines.append(f"--- {m}: {type(r).__name__}: {redact(clean_text(str(r)))[:200]}")
            elif isinstance(r, ChatResult):
                lines.append(f"--- {m}:\n{r.text}")
            else:
                lines.append(f"--- {m}: {r!r}")
        return "\n".join(lines)

    def _bundle(self) -> dict[str, Any]:
        width = "260px" if self.of in ("image", "edit") else f"{max(20, 100 // max(1, len(self.results)) - 2)}%"
        cols = "".join(
            f'<div style="flex:1 1 {width};max-width:{width if self.of in ("image", "edit") else "none"};'
            f'margin:4px;min-width:180px">{_cell(r, m)}</div>'
            for m, r in self.results.items()
        )
        return {"text/html": f'<div style="display:flex;flex-wrap:wrap;align-items:flex-start">{cols}</div>'}

    def provenance(self) -> dict[str, Any]:
        ids = {m: (None if isinstance(r, BaseException) else r.entry_id) for m, r in self.results.items()}
        return {"tokenhot": {"kind": "compare", "of": self.of, "models": list(self.results), "entry_ids": ids}}
