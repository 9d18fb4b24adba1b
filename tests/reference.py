"""trec_eval itself (via pytrec_eval) as the reference the ranx path is checked against."""

from __future__ import annotations

from bench.measures import Measure
from bench.trec import ranked


def _cut(run: dict[str, dict[str, float]], k: int) -> dict[str, dict[str, float]]:
    return {q: dict(ranked(docs)[:k]) for q, docs in run.items()}


def trec_eval(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measure: Measure) -> dict[str, float]:
    """Per-query values as ``trec_eval -c`` computes them: every judged query, missing ones 0."""
    import pytrec_eval

    if measure.metric == "ndcg":
        name = f"ndcg_cut_{measure.cutoff}" if measure.cutoff else "ndcg"
        key, level = name, 1
    elif measure.metric == "mrr":
        name = key = "recip_rank"
        level = measure.rel
        if measure.cutoff:  # trec_eval's recip_rank has no cut-off: cut the run first
            run = _cut(run, measure.cutoff)
    elif measure.metric == "map":
        name = key = "map"
        level = measure.rel
        if measure.cutoff:
            name, key = f"map_cut_{measure.cutoff}", f"map_cut_{measure.cutoff}"
    elif measure.metric == "recall":
        name = key = f"recall_{measure.cutoff}"
        level = measure.rel
    elif measure.metric == "precision":
        name = key = f"P_{measure.cutoff}"
        level = measure.rel
    elif measure.metric == "r-precision":
        name = key = "Rprec"
        level = measure.rel
    elif measure.metric == "hit_rate":
        name = key = f"success_{measure.cutoff}"
        level = measure.rel
    else:  # pragma: no cover
        raise ValueError(measure)
    if name.startswith(("recall_", "P_", "success_", "ndcg_cut_", "map_cut_")):
        family = name.rsplit("_", 1)[0]
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {family}, relevance_level=level)
    else:
        evaluator = pytrec_eval.RelevanceEvaluator(qrels, {name}, relevance_level=level)
    present = {q: docs for q, docs in run.items() if q in qrels and docs}
    values = evaluator.evaluate(present)
    return {q: float(values[q][key]) if q in values else 0.0 for q in qrels}


def trec_eval_mean(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measure: Measure) -> float:
    values = trec_eval(qrels, run, measure)
    return sum(values.values()) / len(values)
