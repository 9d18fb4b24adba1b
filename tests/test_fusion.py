"""Fusion and several first stages: ranx's own ``fuse`` is the reference, RRF by hand, reports test against each first stage.

The fusion stage must equal ``ranx.fuse`` called here on the same runs (RRF k=60, CombSUM
and CombMNZ over min-max normalised runs), and RRF must equal its formula worked by hand.
One experiment with BM25, a dense stage and their fusion, each reranked, checks the
orchestration: inputs, hashes, cumulative latency and the report's baselines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_resume import make_big_collection

from bench.errors import ConfigError
from bench.first_stage.fusion import FusionOptions, FusionStage
from bench.stages import Job


def _fused(runs: dict, options: FusionOptions, depth: int = 1000) -> dict:
    qids = sorted({q for run in runs.values() for q in run})
    job = Job(collection=None, qids=qids, runs_dir=Path("."))
    return FusionStage(tuple(runs), options, depth).run(job, runs, None).run


def test_rrf_equals_the_formula_worked_by_hand_on_three_documents():
    bm25 = {"1": {"d1": 12.0, "d2": 9.5, "d3": 3.0}}  # ranks d1 1, d2 2, d3 3
    dense = {"1": {"d3": 0.91, "d1": 0.40}}  # ranks d3 1, d1 2; d2 not retrieved
    fused = _fused({"bm25": bm25, "dense": dense}, FusionOptions())["1"]
    assert fused == pytest.approx({"d1": 1 / 61 + 1 / 62, "d2": 1 / 62, "d3": 1 / 63 + 1 / 61}, abs=1e-15)
    assert sorted(fused, key=fused.get, reverse=True) == ["d1", "d3", "d2"]
    fused_k0 = _fused({"bm25": bm25, "dense": dense}, FusionOptions(k=0))["1"]
    assert fused_k0 == pytest.approx({"d1": 1 + 1 / 2, "d2": 1 / 2, "d3": 1 / 3 + 1}, abs=1e-15)


def _random_runs(seed: int = 0) -> dict:
    import random

    rng = random.Random(seed)
    runs = {}
    for name in ("bm25", "dense", "splade"):
        run = {}
        for q in ("1", "2", "3"):
            docs = rng.sample([f"d{i}" for i in range(80)], 40)
            run[q] = {d: round(rng.uniform(0, 30) if name == "bm25" else rng.uniform(-1, 1), 6) for d in docs}
        runs[name] = run
    return runs


@pytest.mark.parametrize("method,norm,ranx_method,params", [
    ("rrf", None, "rrf", {"k": 60}),
    ("combsum", "min-max", "sum", {}),
    ("combmnz", "min-max", "mnz", {}),
])
def test_fusion_equals_ranx_fuse_called_here(method, norm, ranx_method, params):
    from ranx import Run
    from ranx import fuse as ranx_fuse

    runs = _random_runs()
    for names in (("bm25", "dense"), ("bm25", "dense", "splade")):
        chosen = {n: runs[n] for n in names}
        ours = _fused(chosen, FusionOptions(method=method))
        theirs = ranx_fuse([Run(chosen[n], name=n) for n in names], norm=norm, method=ranx_method, params=params).to_dict()
        assert ours == {q: pytest.approx(docs, abs=0) for q, docs in theirs.items()}
        assert all(len(ours[q]) == len(set().union(*(chosen[n][q] for n in names))) for q in ours)  # the union of the inputs


def test_fusion_is_cut_to_its_depth_in_trec_eval_order():
    runs = _random_runs(1)
    full = _fused({"bm25": runs["bm25"], "dense": runs["dense"]}, FusionOptions())
    cut = _fused({"bm25": runs["bm25"], "dense": runs["dense"]}, FusionOptions(), depth=10)
    from bench.trec import ranked

    assert all(cut[q] == dict(ranked(full[q])[:10]) for q in full)


def _config(data: Path, model: Path, extra_first: list | None = None, rerank: bool = True) -> dict:
    firsts = [{"kind": "dense", "model": str(model), "depth": 30, "options": {"dtype": "float32", "device": "cpu", "shard_size": 64}},
              {"kind": "fusion", "name": "rrf", "inputs": ["bm25", "dense"], "depth": 30}]
    rerankers = [{"model": str(model), "name": f"bi-{src}", "input": src, "top_k": 10, "dtype": "float32", "device": "cpu"}
                 for src in ("bm25", "dense", "rrf")] if rerank else []
    return {"collection": "big", "data_dir": str(data), "measures": ["nDCG@10", "R@100"],
            "first_stage": {"kind": "bm25", "depth": 30}, "first_stages": extra_first if extra_first is not None else firsts,
            "rerankers": rerankers}


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fusiondata")
    make_big_collection(root / "big", queries=20, docs_per_query=6)
    (root / "big" / "run.bm25.trec").unlink()
    return root


def test_bm25_dense_and_their_fusion_each_reranked_in_one_experiment(big, tiny_bi_encoder, tmp_path, caplog):
    from ranx import Run
    from ranx import fuse as ranx_fuse

    from bench import experiment
    from bench.config import from_dict
    from bench.report import build_report, render_md
    from bench.trec import ranked, read_run

    outcome = experiment.run(from_dict(_config(big, tiny_bi_encoder)), output=tmp_path / "out")
    systems = {s["name"]: s for s in outcome.record["systems"]}
    assert list(systems) == ["bm25", "dense", "rrf", "bi-bm25", "bi-dense", "bi-rrf"]
    assert systems["rrf"]["input"] is None and systems["rrf"]["inputs"] == ["bm25", "dense"]
    assert [systems[f"bi-{s}"]["input"] for s in ("bm25", "dense", "rrf")] == ["bm25", "dense", "rrf"]
    # the fused run file is ranx's fusion of the two run files on disk, cut to depth 30
    bm25, dense = read_run(systems["bm25"]["run_file"]), read_run(systems["dense"]["run_file"])
    expected = ranx_fuse([Run(bm25, name="bm25"), Run(dense, name="dense")], norm=None, method="rrf", params={"k": 60}).to_dict()
    fused = read_run(systems["rrf"]["run_file"])
    assert fused == {q: pytest.approx(dict(ranked(expected[q])[:30]), abs=1e-15) for q in expected}
    # a query through the fusion costs both inputs and the fusion itself
    lat = {n: s["latency"] for n, s in systems.items()}
    for q in fused:
        own = lat["rrf"]["stage_ms"][q]
        assert lat["rrf"]["per_query_ms"][q] == pytest.approx(lat["bm25"]["per_query_ms"][q] + lat["dense"]["per_query_ms"][q] + own)
        assert lat["bi-rrf"]["per_query_ms"][q] == pytest.approx(lat["rrf"]["per_query_ms"][q] + lat["bi-rrf"]["stage_ms"][q])
    # the report tests each reranker against the first stage it reads, the first stages against BM25
    report = build_report(outcome.path)
    against = {(c.row.system, c.base.system) for c in report.comparisons}
    assert against == {("dense", "bm25"), ("rrf", "bm25"), ("bi-bm25", "bm25"), ("bi-dense", "dense"), ("bi-rrf", "rrf")}
    assert "Baseline: the first stage each reranker reads; first stages against bm25." in render_md.render(report)
    # run again: every stage reused; another dense option gives another dense run and so another fusion
    caplog.clear()
    again = experiment.run(from_dict(_config(big, tiny_bi_encoder)), output=tmp_path / "out")
    assert all(s["latency"]["cached"] for s in again.record["systems"])
    changed = _config(big, tiny_bi_encoder, rerank=False)
    changed["first_stages"][0]["options"]["storage"] = "float16"
    third = {s["name"]: s for s in experiment.run(from_dict(changed), output=tmp_path / "out").record["systems"]}
    assert third["bm25"]["hash"] == systems["bm25"]["hash"] and third["dense"]["hash"] != systems["dense"]["hash"]
    assert third["rrf"]["hash"] != systems["rrf"]["hash"]


@pytest.mark.parametrize("firsts,message", [
    ([{"kind": "fusion", "inputs": ["bm25"]}], "a fusion stage reads two or more earlier first stages"),
    ([{"kind": "fusion", "inputs": ["bm25", "dense"]}], "input 'dense' is not an earlier first stage; earlier ones: bm25"),
    ([{"kind": "bm25"}], "two first stages are named 'bm25'; give this one name"),
    ([{"kind": "bm25", "inputs": ["bm25"], "name": "b2"}], "inputs are for a fusion first stage"),
    ([{"kind": "bm25", "model": "x", "name": "b2"}], "is for a dense first stage"),
    ([{"kind": "fusion", "inputs": ["bm25", "b2"], "options": {"method": "borda"}}], "fusion method 'borda' is not known"),
])
def test_bad_first_stage_lists_are_one_line_errors(big, firsts, message):
    from bench import collection, experiment
    from bench.config import from_dict

    config = from_dict({"collection": "big", "data_dir": str(big), "first_stage": {"kind": "bm25"}, "first_stages": firsts})
    with pytest.raises(ConfigError, match=message):
        experiment.plan(config, collection.load("big", str(big)))


def test_first_stages_read_from_toml(tmp_path):
    from bench.config import load_toml, to_dict

    path = tmp_path / "exp.toml"
    path.write_text('collection = "x"\n[first_stage]\nkind = "bm25"\n[[first_stages]]\nkind = "dense"\nmodel = "m"\n'
                    '[first_stages.options]\nstorage = "float16"\n[[first_stages]]\nkind = "fusion"\ninputs = ["bm25", "dense"]\n',
                    encoding="utf-8")
    config = load_toml(path)
    assert [f.kind for f in config.first_stages] == ["dense", "fusion"]
    assert config.first_stages[1].inputs == ("bm25", "dense") and config.first_stages[0].options == {"storage": "float16"}
    assert to_dict(config)["first_stages"][1]["inputs"] == ["bm25", "dense"]
    path.write_text('collection = "x"\n[[first_stages]]\nkind = "fusion"\ninputs = "bm25"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"first_stages\[0\].inputs: expected a list"):
        load_toml(path)
