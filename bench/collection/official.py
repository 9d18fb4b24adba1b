"""The official measures and evaluation rules of each collection family, in one table.

``bench run``, ``bench evaluate --collection`` and ``bench datasets`` all read
:data:`FAMILIES` (through :attr:`Collection.measures`), so a number made by bench uses the
measures, relevance levels and rules of the published tables it is compared with. A family is
chosen from the ir_datasets id (or alias, or local folder name) by its ``pattern``, or named
with ``--collection-type`` / a ``collection.toml`` (``type = "beir"``) in a local folder.

Sources (also in ``bench datasets``):

* ``dl``: TREC Deep Learning 2019-2023 overviews (Craswell et al.): graded nDCG@10, and
  RR/AP/R with label >= 2 relevant. ``RR(rel=2)@10`` is kept as an extra so records made
  before this table (the committed DL19 record) still reproduce measure for measure.
* ``msmarco``: the MS MARCO passage leaderboard: MRR@10 on dev (small), and R@1000.
* ``beir``: Thakur et al., BEIR (NeurIPS 2021 datasets track): nDCG@10 and R@100; its
  evaluation drops a document whose id equals the query id (``ignore_identical_ids``, which
  matters for ArguAna and Quora) and CQADupStack is the mean over its 12 forums.
* ``robust04``: TREC 2004 Robust Track overview (Voorhees), AP and P@20; nDCG@20 as reported
  by the neural reranking papers on Robust04 (e.g. MacAvaney et al., CEDR, SIGIR 2019).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..measures import DEFAULT_MEASURES, DL_MEASURES

if TYPE_CHECKING:
    from ..metrics import Evaluation


@dataclass(frozen=True)
class Family:
    """One row of the table: which collections, their measures, where they come from and their rules."""

    name: str
    pattern: str  # regex searched in the ir_datasets id, alias or folder name
    measures: tuple[str, ...]
    source: str
    drop_self_hits: bool = False  # a document whose id is the query id is not an answer (BEIR)
    cite: str = ""  # the source in a few words, for one-line listings

    def matches(self, collection_id: str) -> bool:
        return bool(self.pattern) and re.search(self.pattern, collection_id, re.IGNORECASE) is not None


DL = Family(
    "dl",
    r"trec-dl|(^|[/_-])dl-?(19|20|21|22|23)($|[/_-])",
    DL_MEASURES,
    "TREC Deep Learning track overviews 2019-2023 (Craswell et al.); RR(rel=2)@10 kept so earlier records reproduce",
    cite="TREC DL overviews",
)
MSMARCO = Family(
    "msmarco",
    r"msmarco-passage/dev/small|msmarco-dev-small|(^|/)dev-small$",
    ("RR@10", "R@1000"),
    "MS MARCO passage ranking leaderboard (MRR@10 on dev small)",
    cite="MS MARCO leaderboard",
)
BEIR = Family(
    "beir",
    r"^beir[/_-]|(^|/)beir$",
    ("nDCG@10", "R@100"),
    "BEIR, Thakur et al., NeurIPS 2021 datasets track (identical ids dropped; CQADupStack: mean over 12 forums)",
    drop_self_hits=True,
    cite="BEIR paper",
)
ROBUST04 = Family(
    "robust04",
    r"robust-?(04|2004)",
    ("AP", "P@20", "nDCG@20"),
    "TREC 2004 Robust track overview (Voorhees): AP, P@20; nDCG@20 as in neural reranking papers (CEDR, SIGIR 2019)",
    cite="TREC 2004 Robust overview; CEDR",
)
DEFAULT = Family("default", "", DEFAULT_MEASURES, "bench's generic set (no official rule known)", cite="bench default")

FAMILIES: tuple[Family, ...] = (DL, MSMARCO, BEIR, ROBUST04)
TYPES = {f.name: f for f in (*FAMILIES, DEFAULT)}


def family_for(collection_id: str, collection_type: str | None = None) -> Family:
    """The family named by ``collection_type``, else the first whose pattern matches ``collection_id``, else the default."""
    if collection_type:
        if collection_type not in TYPES:
            raise ConfigError(f"unknown collection type {collection_type!r}; use one of {', '.join(TYPES)}")
        return TYPES[collection_type]
    return next((f for f in FAMILIES if f.matches(collection_id)), DEFAULT)


def drop_self_hits(run: dict[str, dict[str, float]]) -> tuple[dict[str, dict[str, float]], int]:
    """The run without documents whose id equals their query's id (BEIR's ``ignore_identical_ids``), and how many went."""
    removed = sum(1 for q, docs in run.items() if q in docs)
    if not removed:
        return run, 0
    return {q: {d: s for d, s in docs.items() if d != q} for q, docs in run.items()}, removed


def group_mean(per_query: dict[str, float], groups: dict[str, str]) -> float:
    """The mean over groups of each group's mean (CQADupStack: the mean over its 12 forums, not over all queries)."""
    sums: dict[str, list[float]] = {}
    for qid, value in per_query.items():
        sums.setdefault(groups.get(qid, ""), []).append(value)
    return sum(sum(v) / len(v) for v in sums.values()) / len(sums) if sums else 0.0


def evaluate(collection: Any, qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measures: Sequence[Any],
             system: str) -> tuple[Evaluation, list[str]]:
    """Evaluate ``run`` under the collection's family rules; the notes say what a rule changed."""
    from ..metrics import evaluate as ranx_evaluate

    family = TYPES.get(getattr(collection, "family", "default"), DEFAULT)
    notes = []
    if family.drop_self_hits:
        run, removed = drop_self_hits(run)
        if removed:
            notes.append(f"{system}: {removed} document(s) whose id equals the query id removed before evaluation, "
                         f"as BEIR's evaluation does (the run file keeps them).")
    evaluation = ranx_evaluate(qrels, run, measures)
    groups = getattr(collection, "groups", None)
    if groups:
        for name, values in evaluation.per_query.items():
            evaluation.metrics[name] = group_mean(values, groups)
        notes.append(f"Each measure is the mean over the collection's {len(set(groups.values()))} parts "
                     f"(each part's mean over its queries), as its official tables report it.")
    return evaluation, notes
