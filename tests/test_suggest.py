"""The one "did you mean" every refusal of a mistyped name appends (tokenhot_nb._suggest)."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhot_nb._suggest import did_you_mean, nearest, phrase


def test_one_close_name_is_one_question_after_the_refusal() -> None:
    assert did_you_mean("imgae", ["image", "chat", "video"]) == " Did you mean 'image'?"


def test_no_close_name_adds_nothing() -> None:
    assert did_you_mean("zzzz", ["image", "chat"]) == ""
    assert did_you_mean("x", []) == ""
    assert nearest("image", ["image"], n=0) == []


def test_the_cutoff_decides_what_is_close() -> None:
    assert nearest("imag", ["image"], cutoff=0.75) == ["image"]
    assert nearest("im", ["image"], cutoff=0.75) == []
    assert nearest("im", ["image"], cutoff=0.5) == ["image"]


def test_several_close_names_closest_first_and_each_once() -> None:
    found = nearest("seedanse", ["seedream", "seedance", "openai-chat", "seedance"], n=3, cutoff=0.4)
    assert found[0] == "seedance" and found.count("seedance") == 1 and "openai-chat" not in found
    assert phrase(["a", "b"]) == " Did you mean 'a' or 'b'?"
    assert phrase(["a", "b", "c"]) == " Did you mean 'a', 'b' or 'c'?"
    assert phrase([]) == ""


def test_case_and_blanks_are_ignored_and_the_choice_is_given_as_spelled() -> None:
    assert nearest("koree ", ["Kore", "Charon"]) == ["Kore"]
    assert did_you_mean("IMGAE", ["image"]) == " Did you mean 'image'?"


def test_each_site_writes_the_name_as_it_would_be_typed() -> None:
    assert did_you_mean("sed", ["seed"], show="{}=".format) == " Did you mean seed=?"
    assert phrase(["--size"], show=str) == " Did you mean --size?"
    assert did_you_mean(5, ["5x"], cutoff=0.5) == " Did you mean '5x'?"  # a non-text value is compared as text


def test_a_page_of_text_given_as_a_name_is_compared_with_no_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable holding a page, passed as a model name by mistake, went through difflib against every id (seconds a
    megabyte) to find what its length alone rules out: no choice can be close to it."""
    import difflib

    real = difflib.get_close_matches
    compared: list[str] = []

    def counted(word: str, *args: Any, **kwargs: Any) -> list[str]:
        compared.append(word)
        return real(word, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    assert nearest("once upon a time " * 1000, ["gpt-image-2", "dall-e-3"], cutoff=0.45) == []
    assert compared == []
    assert nearest("gpt-imge-2", ["gpt-image-2", "dall-e-3"]) == ["gpt-image-2"] and compared == ["gpt-imge-2"]


def test_a_name_the_catalogue_does_not_know_is_normalised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalogue's fallback normalised the unknown name again for each of its hundreds of ids: 20 s for a name of
    3 MB."""
    from tokenhot_nb import catalog

    real = catalog._norm
    lengths: list[int] = []

    def counted(name: str) -> str:
        lengths.append(len(name))
        return real(name)

    monkeypatch.setattr(catalog, "_norm", counted)
    assert catalog.builtin().suggest("zq" * 3000, "chat") == []
    assert lengths.count(6000) == 1
