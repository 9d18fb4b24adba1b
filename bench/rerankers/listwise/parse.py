"""A window's answer read into a permutation, repaired as rank_llm 0.25.7 repairs it, and counted.

rank_llm (``ListwiseInferenceHandler._clean_response`` and ``ListwiseRankLLM.receive_permutation``):
the text after any ``</think>`` is kept, look-alike digits (superscripts, circled, full width)
become ASCII, every non-digit (letters: every non-letter, each letter becoming its position)
becomes a space, the numbers are read as 1-based ids, duplicates keep their first copy,
ids outside the window are dropped and the ids never named follow in input order. When a
number cannot be read, the window keeps its input order.

rank_llm repairs silently. Here every window also reports whether its text had the
preset's format (``well_formed``) and how many ids were ``missing``, ``duplicate`` or
``out_of_range``; a window that needed any of it is malformed, and the family counts it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

ALPHA_START = ord("A") - 1
_FAKE_DIGITS = str.maketrans(
    "⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉①②③④⑤⑥⑦⑧⑨❶❷❸❹❺❻❼❽❾０１２３４５６７８９🄀🄁🄂🄃🄄🄅🄆🄇🄈🄉",
    "0123456789012345678912345678912345678901234567890123456789",
)

OK, MALFORMED, UNPARSED = "ok", "malformed", "unparsed"


def answer(response: str) -> str:
    """The part of a response that holds the ranking: after the last ``</think>``, stripped."""
    return response.split("</think>")[-1].strip() if "</think>" in response else response


def clean(response: str, alpha: bool = False) -> str:
    """rank_llm's ``_clean_response``: the ids as space-separated numbers."""
    response = answer(response).translate(_FAKE_DIGITS)
    if alpha:
        out = "".join(str(ord(c) - ALPHA_START) if c.isalpha() else " " for c in response)
    else:
        out = "".join(c if c.isdigit() else " " for c in response)
    return out.strip()


@dataclass
class Parsed:
    """A window's permutation (0-based, complete) and what it took to get there."""

    permutation: list[int]
    status: str  # ok | malformed (repaired) | unparsed (input order kept)
    well_formed: bool  # the stripped answer matches the preset's format
    ids: list[int] = field(default_factory=list)  # the 1-based ids as read, before repair
    missing: int = 0
    duplicate: int = 0
    out_of_range: int = 0

    @property
    def malformed(self) -> bool:
        return self.status != OK

    def counts(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("permutation")
        return out


def parse(response: str, n: int, alpha: bool = False, regex: str | None = None) -> Parsed:
    """The permutation of ``n`` passages a response gives, repaired as rank_llm does, with its counts."""
    well_formed = bool(re.fullmatch(regex, answer(response).strip())) if regex else True
    try:
        ids = [int(x) for x in clean(response, alpha).split()]
    except ValueError:  # a character Python calls a digit but cannot read (rank_llm keeps the input order)
        return Parsed(list(range(n)), UNPARSED, False, [], n, 0, 0)
    unique: list[int] = []
    for i in ids:
        if i - 1 not in unique:
            unique.append(i - 1)
    kept = [i for i in unique if 0 <= i < n]
    permutation = kept + [i for i in range(n) if i not in kept]
    missing, duplicate, out_of_range = n - len(kept), len(ids) - len(unique), len(unique) - len(kept)
    if not kept:
        status = UNPARSED
    elif well_formed and not (missing or duplicate or out_of_range):
        status = OK
    else:
        status = MALFORMED
    return Parsed(permutation, status, well_formed, ids, missing, duplicate, out_of_range)


def from_logprobs(logprobs: dict[str, float], n: int) -> tuple[Parsed, str]:
    """FIRST: the first ``n`` identifiers ranked by their log-probability (ties: input order), and the answer text.

    rank_llm reads vLLM's top 30 log-probabilities only and appends the identifiers it did
    not see in input order; here every identifier has a log-probability, so none is missing.
    """
    letters = [chr(ALPHA_START + i + 1) for i in range(n)]
    order = sorted(range(n), key=lambda i: -logprobs[letters[i]])
    text = ">".join(f"[{letters[i]}]" for i in order)
    return Parsed(order, OK, True, [i + 1 for i in order]), text
