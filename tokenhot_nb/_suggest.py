"""One "did you mean" for every mistyped name: the same matching and the same words wherever a name is refused.

Each refusal ends its own sentence with a full stop and appends :func:`did_you_mean` (or :func:`phrase`, when the
site picked its own candidates): `` Did you mean 'image'?``, `` Did you mean 'a' or 'b'?``,
`` Did you mean 'a', 'b' or 'c'?``, or nothing when no name is close.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

__all__ = ["did_you_mean", "nearest", "phrase"]


def nearest(word: object, choices: Iterable[object], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """At most ``n`` choices close to ``word``, closest first, spelled as in ``choices``.

    Case and surrounding blanks are ignored ('koree ' finds 'Kore'): a name that differs from a choice only in case is
    the same name mistyped. ``cutoff`` is difflib's similarity ratio (0-1); sites with many plausible names of their own
    (option names, where a near miss may be a real body field) use a higher one.
    """
    import difflib  # (only when a name is refused)

    if n < 1:
        return []
    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(str(choice).casefold(), str(choice))
    typed = str(word).strip().casefold()
    longest = max(map(len, folded), default=0)
    if 2 * longest < cutoff * (len(typed) + longest):  # (difflib's best ratio for any choice is under the cutoff)
        return []  # a page of text passed as a name: difflib took seconds a megabyte to say so
    hits = difflib.get_close_matches(typed, list(folded), n=n, cutoff=cutoff)
    return [folded[h] for h in hits]


def phrase(found: Sequence[str], show: Callable[[str], str] = repr) -> str:
    """`` Did you mean 'a', 'b' or 'c'?`` for these names (written by ``show``), or "" when there are none."""
    if not found:
        return ""
    shown = [show(f) for f in found]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    return f" Did you mean {listed}?"


def did_you_mean(word: object, choices: Iterable[object], *, n: int = 1, cutoff: float = 0.6,
                 show: Callable[[str], str] = repr) -> str:
    """The hint to append to a refusal of ``word``: the closest of ``choices`` as a question, or "".

    ``show`` writes a name as the user would type it: ``repr`` for values, ``'{}='.format`` for a keyword argument,
    ``str`` for a magic's ``--option``.
    """
    return phrase(nearest(word, choices, n=n, cutoff=cutoff), show)
