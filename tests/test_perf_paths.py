"""Every fast path ranks as its reference path does (no timings asserted here: see BENCHMARKS.md).

* rerankers: the engines' pipelined ``Runner.stream`` equals ``score`` in a loop; the CPU bf16 default
  ranks as fp32 does on the real MiniLM model; batches are balanced and scattered back;
* rerank loop: per-query milliseconds account for the loop's wall time;
* metrics: the cheap ``ranx.metrics`` import is ranx's own code and leaves ``ranx`` usable;
* BM25: the streaming indexer writes bm25s's exact scores, and the numba top-k kernel returns
  exactly ``top_k`` over bm25s's dense scores (ties, padding, k beyond the corpus).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import collection as collections
from bench.first_stage.bm25 import Bm25Params, Bm25sIndex, RankBm25Index, Tokenizer, retrieve, top_k, write_index
from bench.rerankers import ModelSettings, create, locate
from bench.rerankers.base import Batches
from bench.trec import ranked

ROOT = Path(__file__).resolve().parents[1]

PASSAGES = [
    "goldfish grow to the size of the tank they live in",
    "a fish tank needs clean water and food and light " * 4,
    "wifi and bluetooth are both wireless radio technologies",
    "the us did enter the world war in 1917",
    "bluetooth has a shorter range than wifi",
    "",
]


def _reranker(folder: Path, **kw):
    settings = {"device": "cpu", "dtype": "float32", "batch_size": 32, "max_length": 512}
    settings.update(kw)
    r = create(locate(str(folder)), ModelSettings(**settings))
    r.load()
    return r


# -- rerankers -------------------------------------------------------------------------


def _request(qid: str, query: str, passages: list[str]):
    from bench.ranking import Request

    return Request(qid, query, tuple(f"{qid}-{i}" for i in range(len(passages))), tuple(passages))


def _runner(r):
    from bench.rerankers.pointwise import Pointwise
    from bench.rerankers.stage import RankWorker
    from bench.work import Runner

    return Runner(RankWorker(Pointwise(r)))


@pytest.mark.parametrize("model", ["tiny_cross_encoder", "tiny_bi_encoder"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("per_batch", [1, 3])
def test_pipelined_stream_equals_score_loop(model: str, dtype: str, per_batch: int, request: pytest.FixtureRequest):
    from bench.work import batched

    r = _reranker(request.getfixturevalue(model), dtype=dtype, batch_size=2)
    items = [("a", "what is wifi", PASSAGES[:5]), ("b", "goldfish", []), ("c", "war", PASSAGES[2:4]), ("d", "tank", PASSAGES[:1])]
    requests = [_request(*item) for item in items]
    rows = [row for batch in _runner(r).stream(batched(requests, per_batch)) for row in batch]
    assert [row["qid"] for row in rows] == ["a", "b", "c", "d"]
    assert [row["scores"] for row in rows] == [r.score(q, p) for _, q, p in items]  # bit-identical
    assert [row.get("cost", {}).get("pairs", 0) for row in rows] == [5, 0, 2, 1]


def test_stream_error_in_items_surfaces_after_the_finished_item(tiny_cross_encoder: Path):
    r = _reranker(tiny_cross_encoder)

    def batches():
        yield [_request("first", "q", PASSAGES[:2])]
        raise ValueError("broken second item")

    stream = _runner(r).stream(batches())
    rows = next(stream)  # the look-ahead already hit the error; the finished batch still arrives
    assert rows[0]["qid"] == "first" and len(rows[0]["scores"]) == 2
    with pytest.raises(ValueError, match="broken second item"):
        next(stream)


def test_batches_are_balanced_sorted_and_complete():
    features = [{"input_ids": [1] * n} for n in range(1, 101)]
    batches = Batches.build(features, pad_id=0, size=32)
    sizes = [len(chunk) for chunk, _ in batches.tensors]
    assert sizes == [25, 25, 25, 25]
    assert sorted(i for chunk, _ in batches.tensors for i in chunk) == list(range(100))
    for chunk, tensors in batches.tensors:
        lengths = [len(features[i]["input_ids"]) for i in chunk]
        assert lengths == sorted(lengths, reverse=True)  # longest first
        assert tensors["input_ids"].shape == (len(chunk), max(lengths))  # padded to its own longest only
        assert tensors["attention_mask"].sum(dim=1).tolist() == lengths
    assert [len(c) for c, _ in batches.cut(90, 4)] == [4, 3, 3]


def test_cpu_dtype_auto_is_bf16_only_with_bf16_units(monkeypatch: pytest.MonkeyPatch):
    from bench import device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    assert device.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    assert device.resolve_dtype("auto", "cpu") == "float32"
    assert device.resolve_dtype("float32", "cpu") == "float32"


def test_bf16_ranks_as_fp32_on_the_real_minilm(minilm: Path):
    query = "how does wifi differ from bluetooth"
    fp32 = _reranker(minilm).score(query, PASSAGES[:5])
    bf16 = _reranker(minilm, dtype="bfloat16").score(query, PASSAGES[:5])
    assert bf16 == pytest.approx(fp32, abs=0.02)
    assert np.argsort(bf16).tolist() == np.argsort(fp32).tolist()


def test_bf16_cross_encoder_close_to_fp32(tiny_cross_encoder: Path):
    fp32 = _reranker(tiny_cross_encoder).score("what is wifi", PASSAGES[:5])
    bf16 = _reranker(tiny_cross_encoder, dtype="bfloat16").score("what is wifi", PASSAGES[:5])
    spread = max(fp32) - min(fp32)
    assert max(abs(a - b) for a, b in zip(fp32, bf16, strict=True)) < 0.1 * spread + 1e-3


def test_rerank_per_query_ms_add_up_to_the_loop_wall_time(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path):
    from bench.engines.local import LocalEngine
    from bench.partial import PartialRun
    from bench.rerankers.stage import RerankStage
    from bench.stages import Job

    c = collections.load("tiny", tiny_collection.parent)
    r = _reranker(tiny_cross_encoder)
    qids = sorted(c.queries)
    stage = RerankStage("tiny", r.located, type(r), r.options, r.settings, 3, None)
    out = stage.run(Job(c, qids, tmp_path), c.candidates, PartialRun(tmp_path / "run.trec.partial", "h"), LocalEngine)
    assert set(out.latency_ms) == set(qids) and all(ms > 0 for ms in out.latency_ms.values())
    assert out.wall_s is not None and sum(out.latency_ms.values()) <= out.wall_s * 1000.0  # pipeline wall time per query: they tile the loop
    for qid in qids:
        ids = [d for d, _ in ranked(c.candidates[qid])[:3]]
        texts = c.docs.get_many(ids)
        expected = dict(zip(ids, r.score(c.queries[qid], [texts[d] for d in ids]), strict=True))
        assert {d: out.run[qid][d] for d in ids} == expected


# -- metrics ---------------------------------------------------------------------------


def test_fast_ranx_import_is_ranx_and_leaves_ranx_usable(dl19: Path):
    code = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from bench.measures import DL_MEASURES, parse_measures
from bench.evaluate import compute as evaluate, ranx_metric
from bench.trec import read_qrels, read_run
qrels, run = read_qrels({str(dl19 / 'qrels.txt')!r}), read_run({str(dl19 / 'run.bm25.trec')!r})
measures = parse_measures(list(DL_MEASURES))
ours = evaluate(qrels, run, measures).metrics
heavy = sorted(m for m in ("pandas", "matplotlib", "scipy.stats", "ranx.meta", "ranx.fusion") if m in sys.modules)
fast = {{m.metric: (ranx_metric(m.metric).__code__.co_filename, ranx_metric(m.metric).__name__) for m in measures if m.metric}}
import ranx
from ranx.metrics import metric_switch
plain = {{m.metric: (metric_switch(m.metric).__code__.co_filename, metric_switch(m.metric).__name__) for m in measures if m.metric}}
report = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(run), ["ndcg@10"])
print(json.dumps({{"ours": ours, "heavy": heavy, "same_functions": fast == plain, "ranx_ndcg10": float(report)}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []  # ranx's __init__ (fusion, plots, statistics) was not run for evaluation
    assert out["same_functions"] is True
    assert round(out["ours"]["nDCG@10"], 4) == 0.5058
    assert out["ranx_ndcg10"] == pytest.approx(out["ours"]["nDCG@10"], abs=1e-4)  # full ranx still works afterwards


# -- BM25 ------------------------------------------------------------------------------


def _bm25s_reference(texts: list[str], params: Bm25Params):
    import bm25s

    tok = Tokenizer(params)
    ref = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
    ref.index(bm25s.tokenize(texts, stopwords=tok.stopwords, stemmer=tok.stemmer, show_progress=False), show_progress=False)
    return ref


def _same_postings(ref, mine) -> int:
    """Terms whose postings (doc ids and float32 scores) differ between two bm25s-format indexes."""
    bad = 0
    for term, tid in ref.vocab_dict.items():
        if term == "":
            continue
        mid = mine.vocab_dict[term]
        a = slice(ref.scores["indptr"][tid], ref.scores["indptr"][tid + 1])
        b = slice(mine.scores["indptr"][mid], mine.scores["indptr"][mid + 1])
        same_docs = np.array_equal(ref.scores["indices"][a], mine.scores["indices"][b])
        bad += not (same_docs and np.array_equal(ref.scores["data"][a], mine.scores["data"][b]))
    return bad


def test_streaming_index_equals_bm25s_index_bit_for_bit(vaswani: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    c = collections.load("vaswani", vaswani.parent)
    docs = list(c.docs)
    params = Bm25Params()
    with caplog.at_level("INFO", logger="bench.first_stage.bm25"):
        write_index(tmp_path / "idx", docs, params, chunk=997, workers=2)  # many chunks (one odd-sized), two tokenising processes
    assert "tokenising in 2 processes" in caplog.text  # the worker count is the caller's, whatever threads are alive
    write_index(tmp_path / "one", docs, params, chunk=997, workers=1)
    for name in ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json", "doc_ids.npy"):
        assert (tmp_path / "idx" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()  # same files either way
    mine = Bm25sIndex.load(tmp_path / "idx", params)
    ref = _bm25s_reference([t for _, t in docs], params)
    assert len(mine.retriever.vocab_dict) == len(ref.vocab_dict)
    assert mine.retriever.scores["data"].size == ref.scores["data"].size
    assert _same_postings(ref, mine.retriever) == 0
    assert list(mine.doc_ids) == [d for d, _ in docs]
    assert not (tmp_path / "idx" / ".postings").exists()


def test_kernel_equals_dense_top_k_on_vaswani(vaswani: Path, tmp_path: Path):
    c = collections.load("vaswani", vaswani.parent)
    index = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), Bm25Params(), root=tmp_path)
    n = len(index.doc_ids)
    queries = list(c.queries.values()) + ["", "zzzunknownzzz", "the of and"]  # empty, unknown and stopword-only queries pad
    for text in queries:
        tokens = index.tokenizer.tokens([text])[0]
        dense = index.scores(tokens)
        for k in (1, 10, 1000, n + 5):
            assert index.search(tokens, k) == top_k(dense, index.doc_ids, k)


def test_kernel_tie_order_and_padding_on_duplicates(tmp_path: Path):
    # duplicated texts tie exactly; ids chosen so string order differs from numeric order
    texts = ["red car fast", "red car fast", "blue car", "red car fast", "green tree", "red red car", "blue car", "car"]
    ids = ["10", "9", "100", "2", "x", "1", "b", "a"]
    docs = list(zip(ids, texts, strict=True))
    params = Bm25Params()
    write_index(tmp_path / "idx", docs, params, chunk=3)
    index = Bm25sIndex.load(tmp_path / "idx", params)
    for query in ("red car", "car", "blue", "tree car", "nothing"):
        tokens = index.tokenizer.tokens([query])[0]
        for k in range(1, 10):
            got = index.search(tokens, k)
            assert got == top_k(index.scores(tokens), index.doc_ids, k)
    hits = index.search(index.tokenizer.tokens(["red car"])[0], 8)
    tied = [d for d, s in hits if s == hits[1][1]]
    assert tied == sorted(tied, reverse=True)  # equal scores: doc id descending, as trec_eval
    assert [d for d, s in hits if s == 0.0] == ["x"]  # the one unmatched document pads the list


def test_fast_path_same_rankings_as_rank_bm25(tiny_collection: Path, tmp_path: Path):
    c = collections.load("tiny", tiny_collection.parent)
    params = Bm25Params()
    fast = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), params, root=tmp_path)
    slow = RankBm25Index(list(c.docs), params)
    for k in (1, 3, 50):
        a, _ = retrieve(fast, c.queries, k)
        b, _ = retrieve(slow, c.queries, k)
        assert {q: [d for d, _ in ranked(a[q])] for q in a} == {q: [d for d, _ in ranked(b[q])] for q in b}


def test_threaded_retrieve_equals_sequential(vaswani: Path, tmp_path: Path):
    c = collections.load("vaswani", vaswani.parent)
    index = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), Bm25Params(), root=tmp_path)
    one, lat_one = retrieve(index, c.queries, 100)
    two, lat_two = retrieve(index, c.queries, 100, threads=2)
    assert list(one) == list(two) and one == two and set(lat_two) == set(lat_one)


# -- process start and exit ------------------------------------------------------------


def _python_m_bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, env=full_env, cwd=ROOT, check=False)


def test_python_m_bench_fast_exit_keeps_exit_codes_and_output(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path):
    common = ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder), "--output", str(tmp_path)]
    ok = _python_m_bench(*common, "--top-k", "3")
    assert ok.returncode == 0, ok.stderr
    assert "tiny-ce" in ok.stdout and ok.stdout.endswith("\n")  # the summary table, flushed before the fast exit
    record = json.loads(next(tmp_path.glob("reports/*/results.json")).read_text())
    assert [s["name"] for s in record["systems"]][1:] == ["tiny-ce"]
    bad = _python_m_bench(*common, "--top-k", "5000")  # fails after torch is loaded: the fast exit path
    assert bad.returncode == 2 and bad.stderr.strip().splitlines()[-1].startswith("bench: error:")
    slow = _python_m_bench(*common, "--top-k", "5000", env={"BENCH_FAST_START": "0"})
    assert slow.returncode == 2 and slow.stderr.strip().splitlines()[-1] == bad.stderr.strip().splitlines()[-1]


def test_prewarm_imports_in_the_background_and_can_be_disabled():
    code = """
import json, sys
import bench.experiment as startup
thread = startup.prewarm()
assert startup.prewarm() is thread  # once per process
thread.join(120)
wanted = ("scipy.stats", "matplotlib.figure", "numba", "ranx.metrics")
print(json.dumps({"alive": thread.is_alive(), "loaded": [m in sys.modules for m in wanted], "ranx_meta": "ranx.meta" in sys.modules}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout)
    assert out == {"alive": False, "loaded": [True, True, True, True], "ranx_meta": False}
    off = subprocess.run(
        [sys.executable, "-c", "import bench.experiment as p; print(p.prewarm())"],
        capture_output=True, text=True, env={**env, "BENCH_FAST_START": "0"}, check=True,
    )
    assert off.stdout.strip() == "None"
