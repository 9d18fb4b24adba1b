"""A collection made of parts evaluated apart and averaged: CQADupStack's 12 forums.

BEIR reports CQADupStack as the mean over its forums of each forum's mean. The parts are
loaded through ir_datasets' own loaders (``beir/cqadupstack/<forum>``) and merged with
``<forum>/`` in front of every query and document id, so ids from two forums never collide;
:attr:`Collection.groups` maps each query to its forum and evaluation takes the mean over forums
(:func:`bench.evaluate.group_mean`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from ..store import stable_hash
from .base import Collection

CQADUPSTACK_FORUMS = ("android", "english", "gaming", "gis", "mathematica", "physics", "programmers", "stats", "tex", "unix",
                      "webmasters", "wordpress")
COMPOSITES = {"beir/cqadupstack": ("beir/cqadupstack/{}", CQADUPSTACK_FORUMS)}


class PartedDocs:
    """Documents of several parts, each id written ``<part>/<id>``."""

    def __init__(self, parts: dict[str, Any]):
        self.parts = parts

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        wanted: dict[str, list[str]] = {}
        for doc_id in doc_ids:
            part, _, inner = doc_id.partition("/")
            wanted.setdefault(part, []).append(inner)
        out: dict[str, str] = {}
        for part, inner_ids in wanted.items():
            if part in self.parts:
                out.update({f"{part}/{d}": t for d, t in self.parts[part].get_many(inner_ids).items()})
        return out

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return itertools.chain.from_iterable((((f"{p}/{d}", t) for d, t in docs) for p, docs in self.parts.items()))

    def __len__(self) -> int:
        return sum(len(docs) for docs in self.parts.values())

    def fingerprint(self) -> str:
        return "parts:" + stable_hash({p: docs.fingerprint() for p, docs in self.parts.items()})


def load_composite(name: str, composite_id: str, collection_type: str | None = None) -> Collection:
    """Every part through ir_datasets, merged with prefixed ids; ``groups`` says which part each query is in."""
    from .irds import load_ir_datasets

    pattern, parts = COMPOSITES[composite_id]
    loaded = {part: load_ir_datasets(name, pattern.format(part), collection_type) for part in parts}
    queries = {f"{p}/{q}": t for p, c in loaded.items() for q, t in c.queries.items()}
    qrels = {f"{p}/{q}": {f"{p}/{d}": r for d, r in judged.items()} for p, c in loaded.items() for q, judged in c.qrels.items()}
    docs = PartedDocs({p: c.docs for p, c in loaded.items() if c.docs is not None}) if all(c.docs for c in loaded.values()) else None
    return Collection(
        name=name,
        source=f"ir_datasets:{composite_id}/*",
        queries=queries,
        qrels=qrels,
        docs=docs,
        rules_id=composite_id,
        type_hint=collection_type,
        groups={f"{p}/{q}": p for p, c in loaded.items() for q in c.queries},
    )
