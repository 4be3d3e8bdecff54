"""What the package tells a user to do works when done literally: the ways it names to set a key."""

from __future__ import annotations

import shlex

from tokenhot_nb.errors import MissingKeyError
from tokenhot_nb.magics import _args


def test_the_missing_key_fix_keeps_the_key_out_of_the_notebook() -> None:
    """It said "Set it with `%env TOKENHOT_API_KEY=sk-…`": %env prints ``env: TOKENHOT_API_KEY=<the key>`` into
    the cell's output (and the cell's source holds it), and a session already made does not read the variable
    again, so the next call failed the same way. Every %th_config line it names parses."""
    hint = MissingKeyError().hint
    assert "%env" not in hint and "sk-" not in hint, hint
    commands = [part.split("`")[0] for part in hint.split("`%th_config ")[1:]]
    assert commands, hint
    for line in commands:
        _args.parser("th_config").parse_args(shlex.split(line))

