"""What an experiment needs from a test collection: queries, qrels, documents, candidates, measures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from ..trec import Qrels, Run


class Documents(Protocol):
    """Document text by id, plus iteration for indexing."""

    def get_many(self, doc_ids: list[str]) -> dict[str, str]: ...

    def __iter__(self) -> Iterator[tuple[str, str]]: ...

    def __len__(self) -> int: ...

    def fingerprint(self) -> str: ...


@dataclass
class Collection:
    """Everything an experiment needs from a test collection."""

    name: str
    source: str  # "local:<path>" or "ir_datasets:<id>"
    queries: dict[str, str]
    qrels: Qrels
    docs: Documents | None
    candidates: Run | None = None
    candidates_name: str | None = None
    rules_id: str = ""  # what bench.evaluate's family patterns are matched against: the ir_datasets id, alias or folder name
    type_hint: str | None = None  # the family named by --collection-type or the folder's collection.toml
    family: str = "default"  # the row of bench.evaluate.FAMILIES (measures, source, rules), set when its rules are applied
    groups: dict[str, str] | None = None  # qid -> part, when the official mean is over parts (CQADupStack's forums)
    candidates_unranked: bool = False  # every candidate of a query has one score: a set, not a ranking (see unranked.py)

    def describe(self) -> dict[str, object]:
        """The record of what was loaded, for results files."""
        return {
            "name": self.name,
            "source": self.source,
            "queries": len(self.queries),
            "judged_queries": len(self.qrels),
            "documents": len(self.docs) if self.docs is not None else None,
            "candidates": self.candidates_name,
            "candidates_unranked": self.candidates_unranked,
            "family": self.family,
            **({"groups": len(set(self.groups.values()))} if self.groups else {}),
        }


def doc_text(title: str | None, text: str) -> str:
    """Title + text, joined as ir_datasets' ``default_text`` joins them."""
    return f"{title} {text}" if title else text
