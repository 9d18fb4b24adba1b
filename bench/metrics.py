"""Evaluation with ranx under trec_eval's rules (``trec_eval -c``).

ranx computes every number; this module only prepares its inputs so the numbers equal
trec_eval's:

* ties: trec_eval orders tied scores by doc id, descending; ranx sorts ties unstably.
  Each query's ranking is fixed here in trec_eval's order and handed to ranx with
  strictly decreasing scores, so ranx sees exactly trec_eval's ranking.
* missing queries: a judged query absent from a run scores 0 (``-c``); queries without
  judgments are ignored, as trec_eval ignores them.
* relevance levels are per measure (``AP(rel=2)`` -> ranx ``map-l2``); graded nDCG gains
  are never shifted.
* cut-offs: ``RR@10`` is trec_eval's ``recip_rank`` on the run cut to 10, which is what
  ranx's ``mrr@10`` computes.

Doc ids are numbered per query rather than hashed (ranx hashes strings to floats),
which also skips ranx's slow dict conversion.

Start-up: ranx's metric functions are imported without ranx's heavy package ``__init__``
(:func:`bench.startup.import_ranx_metrics`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .measures import Measure
from .trec import Qrels, ranked

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Mean and per-query values of each measure for one run (keys: ir_measures names)."""

    metrics: dict[str, float]
    per_query: dict[str, dict[str, float]]


@functools.cache
def ranx_metric(metric: str) -> Callable[..., Any]:
    """ranx's function for a metric name (``ranx.metrics.metric_switch``), imported cheaply."""
    from .startup import import_ranx_metrics

    return import_ranx_metrics().metric_switch(metric)  # type: ignore[no-any-return]


def warm_up() -> None:
    """Import ranx's metric functions and compile numba's typed list once (see bench.prewarm)."""
    import numpy as np
    from numba.typed import List as TypedList

    for metric in ("ndcg", "mrr", "map", "recall", "precision", "r-precision", "hit_rate"):
        ranx_metric(metric)
    TypedList([np.zeros((1, 2), dtype=np.float64)])


def _as_arrays(qrels: Qrels, run: Mapping[str, Mapping[str, float]]) -> tuple[list[str], Any, Any]:
    import numpy as np
    from numba.typed import List as TypedList

    qids = sorted(qrels)
    qrels_arrays = []
    run_arrays = []
    for qid in qids:
        judged = qrels[qid]
        ids = {doc: i for i, doc in enumerate(judged)}
        labels = sorted(((ids[doc], float(label)) for doc, label in judged.items()), key=lambda x: -x[1])
        qrels_arrays.append(np.array(labels, dtype=np.float64).reshape(-1, 2))
        docs = ranked(run.get(qid, {}))
        next_id = len(ids)
        rows = []
        for position, (doc, _) in enumerate(docs):
            doc_id = ids.get(doc)
            if doc_id is None:
                doc_id = next_id
                next_id += 1
            rows.append((float(doc_id), float(len(docs) - position)))
        run_arrays.append(np.array(rows, dtype=np.float64).reshape(-1, 2))
    return qids, TypedList(qrels_arrays), TypedList(run_arrays)


def evaluate(qrels: Qrels, run: Mapping[str, Mapping[str, float]], measures: Sequence[Measure]) -> Evaluation:
    """Score one run on the judged queries; judged queries missing from the run score 0."""
    qids, qrels_list, run_list = _as_arrays(qrels, run)
    missing = [q for q in qids if not run.get(q)]
    if missing:
        log.info("%d judged queries have no results in the run and score 0", len(missing))
    metrics: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    for measure in measures:
        values = ranx_metric(measure.metric)(qrels_list, run_list, measure.cutoff or 0, measure.rel)
        per_query[measure.name] = {qid: float(v) for qid, v in zip(qids, values, strict=True)}
        metrics[measure.name] = float(sum(per_query[measure.name].values()) / len(qids)) if qids else 0.0
    return Evaluation(metrics=metrics, per_query=per_query)


def evaluate_many(
    qrels: Qrels, runs: Mapping[str, Mapping[str, Mapping[str, float]]], measures: Sequence[Measure]
) -> dict[str, Evaluation]:
    """Score several runs against the same qrels."""
    return {name: evaluate(qrels, run, measures) for name, run in runs.items()}
