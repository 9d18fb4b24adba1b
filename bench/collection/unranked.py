"""Candidate sets without a ranking: every candidate of a query has the same score.

ir_datasets' ``scoreddocs`` for ``msmarco-passage/trec-dl-2019``, ``trec-dl-2020`` and
``dev/small`` are the official top-1000 files, which carry no scores (ir_datasets gives
each 0); a local ``run.*.trec`` can be the same. Sorting such a set gives doc-id order,
which is not a ranking: its "top 20" is 20 arbitrary documents and its nDCG@10 is noise.

The rule, per candidate set (not per query): the set is *unranked* when every query with
two or more candidates has all-equal scores (and at least one query has two or more). A set
where only some queries are tied is ranked: a query whose candidates tie is ordered as
trec_eval orders ties (doc id, descending), and the log says how many queries that was.

An unranked set is an unordered set: a reranker must score all of it (``--top-k`` at least
the largest set), and only measures that cannot see the order are reported for it
(:func:`order_free`: recall, precision or success at a cut-off no smaller than the set).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

log = logging.getLogger(__name__)

ORDER_FREE_METRICS = ("recall", "precision", "hit_rate")


def _tied(docs: Mapping[str, float]) -> bool:
    return len(docs) >= 2 and len(set(docs.values())) == 1


def is_unranked(run: Mapping[str, Mapping[str, float]], qids: Iterable[str] | None = None) -> bool:
    """True when every query (of ``qids``, default all) with two or more candidates has all-equal scores."""
    sets = [run.get(q, {}) for q in qids] if qids is not None else list(run.values())
    sized = [docs for docs in sets if len(docs) >= 2]
    return bool(sized) and all(_tied(docs) for docs in sized)


def tied_queries(run: Mapping[str, Mapping[str, float]]) -> int:
    """How many queries have two or more candidates, all with one score (for the log of a partly tied run)."""
    return sum(_tied(docs) for docs in run.values())


def set_size(run: Mapping[str, Mapping[str, float]], qids: Iterable[str] | None = None) -> int:
    """The largest candidate set of any query (of ``qids``)."""
    sets = [run.get(q, {}) for q in qids] if qids is not None else list(run.values())
    return max((len(docs) for docs in sets), default=0)


def order_free(measure: object, size: int) -> bool:
    """Whether ``measure`` gives the same value for every order of a set of at most ``size`` per query."""
    cutoff = getattr(measure, "cutoff", None)
    return getattr(measure, "metric", None) in ORDER_FREE_METRICS and cutoff is not None and cutoff >= size


def describe(name: str, run: Mapping[str, Mapping[str, float]]) -> bool:
    """``is_unranked`` for a collection's candidates, logging what was found (ranked, unranked or partly tied)."""
    unranked = is_unranked(run)
    if unranked:
        log.info("candidates %s are unranked (every candidate of a query has the same score): an unordered set", name)
    else:
        tied = tied_queries(run)
        if tied:
            log.warning("candidates %s: %d of %d queries have all-equal scores; they are ordered by doc id as trec_eval does",
                        name, tied, len(run))
    return unranked
