"""Metrics: hand-derived values, then trec_eval (pytrec_eval) equality on real runs."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from reference import trec_eval, trec_eval_mean

from bench.evaluate import compute as evaluate
from bench.measures import DL_MEASURES, parse_measures
from bench.trec import read_qrels, read_run

QRELS = {
    "q1": {"d1": 3, "d2": 1, "d3": 0},
    "q2": {"d4": 2},
    "q3": {"d9": 1},  # judged, absent from the run: scores 0
    "q4": {"a": 1},
}
RUN = {
    "q1": {"d2": 0.9, "d1": 0.8, "d3": 0.7},
    "q2": {"d5": 1.0, "d4": 0.5},
    "q4": {"a": 1.0, "b": 1.0},  # tie: trec_eval ranks "b" first (doc id descending)
    "q99": {"x": 1.0},  # not judged: ignored
}


def test_hand_derived_values():
    ev = evaluate(QRELS, RUN, parse_measures(["nDCG@10", "RR@10", "RR(rel=2)", "AP", "AP(rel=2)", "R@1", "P@2"]))
    ndcg_q1 = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    ndcg_q2 = (2 / math.log2(3)) / 2
    ndcg_q4 = (1 / math.log2(3)) / 1
    assert ev.per_query["nDCG@10"] == pytest.approx({"q1": ndcg_q1, "q2": ndcg_q2, "q3": 0.0, "q4": ndcg_q4})
    assert ev.metrics["nDCG@10"] == pytest.approx((ndcg_q1 + ndcg_q2 + ndcg_q4) / 4)
    assert ev.per_query["RR@10"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.5}
    assert ev.per_query["RR(rel=2)"] == {"q1": 0.5, "q2": 0.5, "q3": 0.0, "q4": 0.0}
    assert ev.per_query["AP"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.5}
    assert ev.per_query["AP(rel=2)"] == {"q1": 0.5, "q2": 0.5, "q3": 0.0, "q4": 0.0}
    assert ev.per_query["R@1"] == {"q1": 0.5, "q2": 0.0, "q3": 0.0, "q4": 0.0}
    assert ev.per_query["P@2"] == {"q1": 1.0, "q2": 0.5, "q3": 0.0, "q4": 0.5}
    assert ev.metrics["RR@10"] == 0.5


def test_relevance_level_does_not_shift_ndcg_gains():
    ev = evaluate(QRELS, RUN, parse_measures(["nDCG@10", "AP(rel=2)"]))
    # nDCG keeps labels 1..3 as gains even when another measure uses rel=2
    assert ev.per_query["nDCG@10"]["q1"] == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))


ALL = ["nDCG@10", "nDCG@5", "nDCG", "RR@10", "RR", "AP", "R@100", "R@1000", "P@10", "Rprec", "Success@10"]
ALL_L2 = ["RR(rel=2)", "RR(rel=2)@10", "AP(rel=2)", "R(rel=2)@100", "R(rel=2)@1000", "P(rel=2)@10", "Rprec(rel=2)"]


def _check_equal(qrels, run, names):
    ev = evaluate(qrels, run, parse_measures(names))
    for measure in parse_measures(names):
        expected = trec_eval(qrels, run, measure)
        for qid, value in expected.items():
            assert ev.per_query[measure.name][qid] == pytest.approx(value, abs=1e-9), (measure.name, qid)
        assert ev.metrics[measure.name] == pytest.approx(trec_eval_mean(qrels, run, measure), abs=1e-9)


def test_equal_to_trec_eval_on_synthetic_runs_with_ties_and_missing_queries():
    rng = random.Random(7)
    qrels, run = {}, {}
    for q in range(30):
        qid = str(q)
        docs = [f"d{i}" for i in range(60)]
        qrels[qid] = {d: rng.choice([0, 0, 1, 2, 3]) for d in rng.sample(docs, 25)}
        if q % 7 == 3:
            continue  # judged, missing from the run
        # few distinct scores: many ties that trec_eval breaks by doc id
        run[qid] = {d: float(rng.randint(0, 4)) for d in rng.sample(docs, 40)}
    _check_equal(qrels, run, ALL + ALL_L2)


def test_dl19_bm25_official_numbers(dl19: Path):
    qrels = read_qrels(dl19 / "qrels.txt")
    run = read_run(dl19 / "run.bm25.trec")
    ev = evaluate(qrels, run, parse_measures(DL_MEASURES))
    assert round(ev.metrics["nDCG@10"], 4) == 0.5058
    assert round(ev.metrics["R(rel=2)@100"], 4) == 0.4910
    _check_equal(qrels, run, list(DL_MEASURES) + [m for m in ALL if m not in DL_MEASURES])


def test_dl19_with_ties_and_dropped_queries_equals_trec_eval(dl19: Path):
    qrels = read_qrels(dl19 / "qrels.txt")
    run = read_run(dl19 / "run.bm25.trec")
    tied = {q: {d: float(round(s)) for d, s in docs.items()} for q, docs in sorted(run.items())[5:]}
    _check_equal(qrels, tied, list(DL_MEASURES))


def test_rr_at_10_is_the_cut_run_not_ir_measures_uncut_value(dl19: Path):
    """ir_measures' pytrec_eval provider returns uncut recip_rank for RR@10; we cut first."""
    qrels = read_qrels(dl19 / "qrels.txt")
    run = read_run(dl19 / "run.bm25.trec")
    ev = evaluate(qrels, run, parse_measures(["RR(rel=2)", "RR(rel=2)@10"]))
    assert ev.metrics["RR(rel=2)@10"] < ev.metrics["RR(rel=2)"]
    assert round(ev.metrics["RR(rel=2)@10"], 4) == round(trec_eval_mean(qrels, run, parse_measures(["RR(rel=2)@10"])[0]), 4)


def test_agrees_with_ir_measures(dl19: Path):
    ir_measures = pytest.importorskip("ir_measures")
    qrels = read_qrels(dl19 / "qrels.txt")
    run = read_run(dl19 / "run.bm25.trec")
    ev = evaluate(qrels, run, parse_measures(["nDCG@10", "AP(rel=2)", "R(rel=2)@100"]))
    agg = ir_measures.calc_aggregate(
        [ir_measures.parse_measure(n) for n in ("nDCG@10", "AP(rel=2)", "R(rel=2)@100")], qrels, run
    )
    for measure, value in agg.items():
        assert ev.metrics[str(measure)] == pytest.approx(value, abs=1e-4)


IR_MEASURES_ONLY = ["Judged@10", "Judged@5", "Bpref", "Bpref(rel=2)"]


def test_measures_ranx_lacks_come_from_ir_measures_and_equal_trec_eval_with_ties_and_missing_queries():
    rng = random.Random(11)
    qrels, run = {}, {}
    for q in range(20):
        docs = [f"d{i}" for i in range(40)]
        qrels[str(q)] = {d: rng.choice([0, 1, 2]) for d in rng.sample(docs, 15)}
        if q % 5 != 2:
            run[str(q)] = {d: float(rng.randint(0, 3)) for d in rng.sample(docs, 30)}
    assert [m.provider for m in parse_measures(IR_MEASURES_ONLY)] == ["ir_measures"] * 4
    _check_equal(qrels, run, IR_MEASURES_ONLY + ["P@10", "nDCG@20"])


def test_judged_p10_bpref_ndcg20_equal_trec_eval_on_dl19_bm25(dl19: Path):
    """The issue's must-show: Judged@10, P@10, bpref and nDCG@20 on the DL19 BM25 run, each against trec_eval."""
    qrels = read_qrels(dl19 / "qrels.txt")
    run = read_run(dl19 / "run.bm25.trec")
    _check_equal(qrels, run, ["Judged@10", "P@10", "Bpref", "nDCG@20"])
    ev = evaluate(qrels, run, parse_measures(["Judged@10"]))
    assert ev.metrics["Judged@10"] == 1.0  # DL19's pools were built from runs like this one: every top-10 passage is judged
