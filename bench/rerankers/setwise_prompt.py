"""The setwise prompt (Zhuang et al., SIGIR 2024; llm-rankers 0.0.2 ``SetwiseLlmRanker.compare``), its labels and how an answer is read.

Shared by the family (:mod:`.setwise`) and its judges (:mod:`.setwise_t5`, :mod:`.setwise_llm`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LABELS = tuple("ABCDEFGHIJKLMNOPQRSTUVW")  # llm-rankers' CHARACTERS: "Passage X" and "Passage Y" tokenise differently


def prompt(query: str, passages: Sequence[str]) -> str:
    """llm-rankers' setwise prompt for one set (labels A, B, ... in set order)."""
    body = "\n\n".join(f'Passage {LABELS[i]}: "{text}"' for i, text in enumerate(passages))
    return (f'Given a query "{query}", which of the following passages is the most relevant one to the query?\n\n'
            + body + "\n\nOutput only the passage label of the most relevant passage:")


@dataclass
class Choice:
    """A judge's answer for one set: the winner's index (0 when malformed), what it read and produced."""

    best: int
    output: str
    prompt_tokens: int
    output_tokens: int = 0
    malformed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def parse_label(text: str, size: int, last: bool) -> tuple[int, bool]:
    """The label a generated text names: its last character (seq2seq) or the whole stripped text (causal), as llm-rankers reads them."""
    text = text.strip()
    label = text[-1:] if last else text.upper()
    if label in LABELS[:size]:
        return LABELS.index(label), False
    return 0, True
