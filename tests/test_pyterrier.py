"""bench's rankers inside PyTerrier (``bench.pyterrier.Reranker``), with Java hidden throughout.

The Reranker is checked against ``bench run`` itself: same scores, same run bytes, for the
tiny cross-encoder on the tiny collection (default suite) and for the real all-MiniLM-L6-v2 on
Vaswani's BM25 top 100 (slow), where ``pt.Experiment``'s nDCG@10 and AP (ir_measures) also
equal bench's record. It composes with ``>>``, ``%``, ``pt.text.get_text`` and
pyterrier-caching's ScorerCache, and PyTerrier never starts a JVM.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

pt = pytest.importorskip("pyterrier")

import pyterrier_toys as toys  # noqa: E402

from bench.cli import main  # noqa: E402
from bench.trec import format_run, ranked, read_run  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def no_java(tmp_path_factory: pytest.TempPathFactory):
    """Java hidden for the whole module; afterwards PyTerrier must not have started (or even loaded) a JVM."""
    with toys.java_kept_out(tmp_path_factory.mktemp("shims")):
        yield


def _record(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / "reports" / name / "results.json").read_text(encoding="utf-8"))


def _frame(run: dict[str, dict[str, float]], queries: dict[str, str]) -> Any:
    from bench.pyterrier.frames import from_run

    return from_run(run, queries)


def test_reranker_gives_bench_runs_scores_and_bytes(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    import bench.pyterrier as bpt
    from bench.pyterrier.frames import to_run

    data = tiny_collection.parent
    assert main(["-q", "run", "tiny", "--data-dir", str(data), "--first-stage", "candidates", "--model", str(tiny_cross_encoder),
                 "--top-k", "5", "--output", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    system = _record(tmp_path / "out", "tiny")["systems"][1]
    expected = Path(system["run_file"])

    ds = bpt.dataset("tiny", data_dir=data)
    queries = dict(zip(ds.get_topics()["qid"], ds.get_topics()["query"]))
    candidates = _frame(read_run(tiny_collection / "run.bm25.trec"), queries)
    reranker = bpt.Reranker(str(tiny_cross_encoder), top_k=5)
    out = (pt.Transformer.from_df(candidates) >> pt.text.get_text(ds, "text") >> reranker)(ds.get_topics())
    # the same floats, hence the same bytes as bench run's run file (ranks, tail below the top 5 and all)
    assert format_run(to_run(out), system["name"]) == expected.read_text(encoding="utf-8")
    # PyTerrier's shape: every input column kept, best first, rank recomputed from 0
    assert {"qid", "query", "docno", "text", "score", "rank"} <= set(out.columns)
    for qid, group in out.groupby("qid"):
        assert list(group["rank"]) == list(range(len(group)))
        assert list(group["docno"]) == [d for d, _ in ranked(read_run(expected)[qid])]
    # the figures bench records, for this call
    assert reranker.latency["queries"] == 3 and reranker.latency["pairs"] == 15 and reranker.cost == {"pairs": 15}
    assert reranker.latency["pairs_per_s"] > 0 and reranker.latency["load_s"] >= 0 and set(reranker.latency["per_query_ms"]) == set(queries)
    # % cuts after reranking: the top 2 of bench's run
    top2 = (pt.Transformer.from_df(candidates) >> pt.text.get_text(ds) >> reranker % 2)(ds.get_topics())
    assert {q: list(g["docno"]) for q, g in top2.groupby("qid")} == {q: [d for d, _ in ranked(read_run(expected)[q])][:2] for q in queries}


def test_reranker_scores_do_not_depend_on_batching_or_input_order(tiny_collection: Path, tiny_cross_encoder: Path):
    import bench.pyterrier as bpt

    ds = bpt.dataset("tiny", data_dir=tiny_collection.parent)
    frame = pt.text.get_text(ds)(_frame(read_run(tiny_collection / "run.bm25.trec"), dict(zip(*ds.get_topics().values.T))))
    one = bpt.Reranker(str(tiny_cross_encoder), batch_size=32)(frame)
    other = bpt.Reranker(str(tiny_cross_encoder), batch_size=3, queries_per_batch=2)(frame.sample(frac=1.0, random_state=1))
    assert one.sort_values(["qid", "docno"])["score"].tolist() == other.sort_values(["qid", "docno"])["score"].tolist()


def test_reranker_refuses_missing_text_and_reports_input_columns(tiny_collection: Path, tiny_cross_encoder: Path):
    import bench.pyterrier as bpt
    from bench.errors import DataError

    reranker = bpt.Reranker(str(tiny_cross_encoder))
    frame = _frame(read_run(tiny_collection / "run.bm25.trec"), {"1": "q", "2": "q", "3": "q"})
    with pytest.raises(pt.validate.InputValidationError):
        reranker(frame)  # no text column: PyTerrier's own validation error, which pt.inspect reads
    assert pt.inspect.transformer_inputs(reranker) == [["qid", "docno", "query", "text"]]
    with pytest.raises(DataError, match="get_text"):
        reranker(frame.assign(text=""))
    empty = reranker(frame.head(0).assign(text=[]))
    assert len(empty) == 0 and {"score", "rank"} <= set(empty.columns)


def test_reranker_composes_with_pyterrier_caching(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path):
    caching = pytest.importorskip("pyterrier_caching")
    import bench.pyterrier as bpt

    ds = bpt.dataset("tiny", data_dir=tiny_collection.parent)
    frame = pt.text.get_text(ds)(_frame(read_run(tiny_collection / "run.bm25.trec"), dict(zip(*ds.get_topics().values.T))))
    reranker = bpt.Reranker(str(tiny_cross_encoder))
    direct = reranker(frame)
    cache = caching.ScorerCache(tmp_path / "cache", reranker)
    first = cache(frame)
    reranker.latency = None
    second = cache(frame)
    assert reranker.latency is None, "the second call was answered from the cache"
    key = ["qid", "docno"]
    for cached in (first, second):  # sqlite keeps float64: the cached scores are bench's scores
        assert cached.sort_values(key)["score"].tolist() == direct.sort_values(key)["score"].tolist()


def _minilm_parity(vaswani: Path, minilm: Path, out: Path, limit: int | None) -> None:
    """bench run's BM25 top 100 of Vaswani reranked by all-MiniLM-L6-v2, in PyTerrier and in bench: same bytes, same numbers."""
    from ir_measures import AP, nDCG

    import bench.pyterrier as bpt
    from bench.pyterrier.frames import qrels_frame, to_run

    data = vaswani.parent
    limited = ["--limit-queries", str(limit)] if limit else []
    assert main(["-q", "run", "vaswani", "--data-dir", str(data), "--depth", "100", "--model", str(minilm), "--top-k", "100",
                 "--output", str(out), *limited]) == 0
    record = _record(out, "vaswani")
    bm25, model = record["systems"]
    ds = bpt.dataset("vaswani", data_dir=data)
    topics = ds.get_topics().head(limit or None)
    assert len(topics) == record["queries"]
    frame = _frame(read_run(bm25["run_file"]), dict(zip(topics["qid"], topics["query"])))
    # bench's BM25 as a PyTerrier first stage (no Java) retrieves bench run's BM25 run
    assert format_run(to_run(bpt.BM25(ds, depth=100)(topics)), bm25["name"]) == Path(bm25["run_file"]).read_text(encoding="utf-8")
    reranker = bpt.Reranker(str(minilm))
    reranked = (pt.text.get_text(ds, "text") >> reranker)(frame)
    assert format_run(to_run(reranked), model["name"]) == Path(model["run_file"]).read_text(encoding="utf-8")
    assert reranker.latency["queries"] == len(topics) and reranker.latency["pairs"] == model["latency"]["stage"]["pairs"]
    got = pt.Experiment([frame, reranked], topics, qrels_frame(ds.collection.qrels), [nDCG @ 10, AP], names=["bm25", "minilm"])
    for (_, row), system in zip(got.iterrows(), (bm25, model)):
        assert row["nDCG@10"] == pytest.approx(system["metrics"]["nDCG@10"], abs=1e-6)
        assert row["AP"] == pytest.approx(system["metrics"]["AP"], abs=1e-6)


def test_minilm_on_five_vaswani_queries_equals_bench_run(vaswani: Path, minilm: Path, tmp_path: Path):
    _minilm_parity(vaswani, minilm, tmp_path / "out", 5)


@pytest.mark.slow
def test_minilm_on_vaswani_bm25_top100_equals_bench_run(vaswani: Path, minilm: Path, tmp_path: Path):
    """The issue's parity on all 93 queries (about 9,300 pairs: over a minute on 2 CPUs, twice)."""
    _minilm_parity(vaswani, minilm, tmp_path / "out", None)


def test_frames_follow_trec_eval_order_and_refuse_duplicates():
    import pandas as pd

    from bench.errors import DataError
    from bench.pyterrier.frames import from_run, input_order, requests, to_run

    frame = pd.DataFrame({"qid": ["2", "2", "2", "1"], "query": ["b"] * 3 + ["a"], "docno": ["x", "z", "y", "w"],
                          "text": ["t1", "t2", "t3", "t4"], "score": [1.0, 1.0, 3.0, 0.5]})
    # score descending, ties by docno descending (trec_eval's strcmp(b, a)); queries in order of appearance
    assert input_order(frame[frame.qid == "2"]) == [("y", 3.0), ("z", 1.0), ("x", 1.0)]
    assert [r.doc_ids for r, _ in requests(frame, top_k=2)] == [("y", "z"), ("w",)]
    # without scores: rank, else row order, become n - position
    assert to_run(frame.drop(columns="score").assign(rank=[2, 0, 1, 0])) == {"2": {"z": 3.0, "y": 2.0, "x": 1.0}, "1": {"w": 1.0}}
    assert to_run(frame.drop(columns="score")) == {"2": {"x": 3.0, "z": 2.0, "y": 1.0}, "1": {"w": 1.0}}
    back = from_run(to_run(frame), {"1": "a", "2": "b"}, ["1", "2"])
    assert list(back["docno"]) == ["w", "y", "z", "x"] and list(back["rank"]) == [0, 0, 1, 2]
    with pytest.raises(DataError, match="appears twice"):
        to_run(pd.concat([frame, frame.head(1)]))


def test_importing_the_interop_and_its_registry_entries_loads_neither_pyterrier_nor_torch():
    import subprocess

    code = ("import sys, bench.pyterrier, bench.pyterrier.stage, bench.pyterrier.ranker, bench.pyterrier.frames\n"
            "from bench.first_stage import FIRST_STAGES\nfrom bench.rerankers import FAMILIES\n"
            "FIRST_STAGES.get('pyterrier'); FAMILIES.get('pyterrier')\n"
            "print([m for m in ('pyterrier', 'torch', 'transformers', 'pandas') if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
