"""trec_eval itself (via pytrec_eval) as the reference every measure is checked against."""

from __future__ import annotations

from bench.measures import Measure
from bench.trec import ranked


def _cut(run: dict[str, dict[str, float]], k: int) -> dict[str, dict[str, float]]:
    return {q: dict(ranked(docs)[:k]) for q, docs in run.items()}


def _evaluate(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], names: set[str], level: int) -> dict[str, dict[str, float]]:
    import pytrec_eval

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, names, relevance_level=level)
    return evaluator.evaluate({q: docs for q, docs in run.items() if q in qrels and docs})  # type: ignore[no-any-return]


def trec_eval(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measure: Measure) -> dict[str, float]:
    """Per-query values as ``trec_eval -c`` computes them: every judged query, missing ones 0.

    Measures trec_eval has under another name are mapped by hand (``RR@k``: ``recip_rank`` on
    the run cut to k; ``Judged@k``: ``num_rel_ret + num_nonrel_judged_ret`` on the run cut to
    k, over k).
    """
    family, k, level = measure.family, measure.cutoff, measure.rel
    if family == "Judged":
        values = _evaluate(qrels, _cut(run, k or 0), {"num_rel_ret", "num_nonrel_judged_ret"}, 1)
        return {q: (values[q]["num_rel_ret"] + values[q]["num_nonrel_judged_ret"]) / k if q in values else 0.0 for q in qrels}
    if family == "RR" and k:  # trec_eval's recip_rank has no cut-off: cut the run first
        run, k = _cut(run, k), None
    names = {
        "nDCG": ("ndcg_cut" if k else "ndcg", f"ndcg_cut_{k}" if k else "ndcg"),
        "RR": ("recip_rank", "recip_rank"),
        "AP": ("map_cut" if k else "map", f"map_cut_{k}" if k else "map"),
        "R": ("recall", f"recall_{k}"),
        "P": ("P", f"P_{k}"),
        "Rprec": ("Rprec", "Rprec"),
        "Success": ("success", f"success_{k}"),
        "Bpref": ("bpref", "bpref"),
    }
    if family not in names:  # pragma: no cover
        raise ValueError(f"no trec_eval name for {measure}")
    name, key = names[family]
    requested = f"{name}.{k}" if k and name in ("ndcg_cut", "map_cut", "recall", "P", "success") else name
    if family == "nDCG":
        level = 1  # graded gains; the level is not a parameter of nDCG
    values = _evaluate(qrels, run, {requested}, level)
    return {q: float(values[q][key]) if q in values else 0.0 for q in qrels}


def trec_eval_mean(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], measure: Measure) -> float:
    values = trec_eval(qrels, run, measure)
    return sum(values.values()) / len(values)
