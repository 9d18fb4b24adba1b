"""The dense first stage: parity with sentence-transformers, exact search's order, FAISS, storage dtypes, the index cache.

Models are tiny random-weight sentence-transformers folders built at test time (the real
all-MiniLM-L6-v2 parity on Vaswani is in tests/test_dense_vaswani.py, slow). The reference
is sentence-transformers' own ``encode`` and ``util.semantic_search``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers_dense import assert_same_top, dense_toml
from test_resume import make_big_collection

from bench.errors import ConfigError

DEPTH = 20


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("densedata")
    make_big_collection(root / "big", queries=30, docs_per_query=8)
    return root


def _run(tmp: Path, data: Path, model: Path, tag: str = "out", depth: int = DEPTH, **options) -> dict:
    """The results record of an experiment file with one dense first stage (run in this process, no report rendered)."""
    from bench import experiment
    from bench.config import load_toml

    exp = dense_toml(tmp / f"{tag}.toml", data, model, depth=depth, **options)
    return experiment.run(load_toml(exp), output=tmp / tag, experiment_file=exp).record


def _collection(data: Path) -> tuple[list[str], list[str], dict[str, str]]:
    docs = [json.loads(line) for line in (data / "big" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    queries = dict(line.split("\t", 1) for line in (data / "big" / "queries.tsv").read_text(encoding="utf-8").splitlines())
    return [d["doc_id"] for d in docs], [d["text"] for d in docs], queries


def _st_reference(model: Path, data: Path, k: int) -> dict[str, dict[str, float]]:
    """Brute force with sentence-transformers itself: ``encode`` the corpus and queries, ``util.semantic_search`` (cosine)."""
    st = pytest.importorskip("sentence_transformers")
    encoder = st.SentenceTransformer(str(model), device="cpu")
    ids, texts, queries = _collection(data)
    corpus = encoder.encode(texts, convert_to_tensor=True, batch_size=32)
    qids = list(queries)
    found = st.util.semantic_search(encoder.encode([queries[q].strip() for q in qids], convert_to_tensor=True), corpus, top_k=k)
    return {q: {ids[h["corpus_id"]]: float(h["score"]) for h in hits} for q, hits in zip(qids, found)}


def test_dense_top_k_equals_sentence_transformers_brute_force(big, tiny_bi_encoder, tmp_path):
    record = _run(tmp_path, big, tiny_bi_encoder, shard_size=37, batch_size=16)
    system = record["systems"][0]
    assert system["name"] == "dense" and system["model"] == str(tiny_bi_encoder)
    from bench.trec import read_run

    run = read_run(system["run_file"])
    reference = _st_reference(tiny_bi_encoder, big, DEPTH)
    assert set(run) == set(reference)
    for qid in reference:
        assert_same_top(run[qid], reference[qid])
    encode = system["latency"]["encode"]
    assert encode["shards"] == -(-240 // 37) and encode["passages"] == 240 and encode["resumed_shards"] == 0
    assert encode["engine"] == "local" and encode["passages_per_s"] > 0 and encode["wall_s"] > 0
    assert system["latency"]["stage"]["queries"] == 30 and system["latency"]["load_s"] > 0  # search apart from encoding
    assert system["info"]["index"] == "exact" and system["info"]["similarity"] == "cosine"


def _index(ids: list[str], vectors: np.ndarray):
    import torch

    from bench.first_stage.dense.index import DenseIndex

    return DenseIndex(Path("."), {"storage": "float32"}, np.asarray(ids, dtype=str), torch.from_numpy(vectors.astype(np.float32)))


def _trec_top(ids: list[str], scores: np.ndarray, k: int) -> list[tuple[str, float]]:
    """The reference order: every document, score descending, ties by doc id descending (trec_eval), cut at k."""
    return sorted(zip(ids, scores.tolist()), key=lambda x: (x[1], x[0]), reverse=True)[:k]


def test_exact_search_keeps_trec_eval_order_at_the_cut_whatever_the_blocks(monkeypatch):
    from bench.first_stage.dense import search

    rng = np.random.default_rng(0)
    base = rng.integers(-3, 4, size=(12, 8)).astype(np.float32)  # small integers: exact scores, many ties
    vectors = base[rng.integers(0, 12, size=500)]
    ids = [f"d{rng.integers(0, 10**6):06d}x{i}" for i in range(500)]
    queries = rng.integers(-2, 3, size=(21, 8)).astype(np.float32)
    index = _index(ids, vectors)
    whole = search.exact_search(index, queries, 30)
    for qi, (docs, scores) in enumerate(whole):
        expected = _trec_top(ids, vectors @ queries[qi], 30)
        assert list(zip(docs, scores)) == [(d, float(s)) for d, s in expected]
    monkeypatch.setattr(search, "DOC_BLOCK", 7)  # ties split over many blocks
    assert search.exact_search(index, queries, 30) == whole
    assert [search.exact_search(index, queries[i : i + 1], 30)[0] for i in range(len(queries))] == whole  # one query at a time


def test_exact_search_scores_do_not_depend_on_how_queries_are_batched():
    """Float vectors (no ties): the same bits for a query alone as inside a block of 16 or spread over two blocks."""
    from bench.first_stage.dense import search

    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3000, 48)).astype(np.float32)
    queries = rng.standard_normal((19, 48)).astype(np.float32)
    index = _index([f"d{i}" for i in range(3000)], vectors)
    together = search.exact_search(index, queries, 50)
    alone = [search.exact_search(index, queries[i : i + 1], 50)[0] for i in range(len(queries))]
    assert together == alone
    assert together[0][1][0] == pytest.approx(float(np.max(vectors @ queries[0])), abs=1e-4)


def test_faiss_flat_equals_exact_and_hnsw_ivf_recall(big, tiny_bi_encoder, tmp_path, capsys):
    pytest.importorskip("faiss")
    from bench.trec import read_run

    exact = read_run(_run(tmp_path, big, tiny_bi_encoder, "exact")["systems"][0]["run_file"])
    flat = read_run(_run(tmp_path, big, tiny_bi_encoder, "flat", index="flat")["systems"][0]["run_file"])
    for qid in exact:
        assert_same_top(flat[qid], exact[qid])
    recalls = {}
    for kind in ("hnsw", "ivf"):
        extra = {"nlist": 8, "nprobe": 8} if kind == "ivf" else {"hnsw_m": 8, "ef_search": 64}
        approx = read_run(_run(tmp_path, big, tiny_bi_encoder, kind, index=kind, **extra)["systems"][0]["run_file"])
        recalls[kind] = float(np.mean([len(set(approx[q]) & set(exact[q])) / len(exact[q]) for q in exact]))
    capsys.readouterr()
    print(f"\nrecall@{DEPTH} against exact search (240 vectors): {recalls}")
    assert recalls["ivf"] == 1.0  # nprobe = nlist visits every list: exact
    assert recalls["hnsw"] >= 0.9


def test_fp16_and_bf16_storage_halve_the_index_and_keep_the_ranking(big, tiny_bi_encoder, tmp_path, capsys):
    from bench.trec import read_run

    sizes, runs = {}, {}
    for storage in ("float32", "float16", "bfloat16"):
        system = _run(tmp_path, big, tiny_bi_encoder, storage, storage=storage)["systems"][0]
        folder = Path(system["latency"]["encode"]["index_folder"])
        sizes[storage] = sum(p.stat().st_size for p in (folder / "shards").glob("*.npy"))
        runs[storage] = read_run(system["run_file"])
    capsys.readouterr()
    payload = 240 * 32 * 4
    assert sizes["float32"] - payload == sizes["float16"] - payload // 2 > 0  # the same .npy headers, half the payload
    assert sizes["bfloat16"] == sizes["float16"]
    for storage, tol in (("float16", 2e-3), ("bfloat16", 2e-2)):
        for qid, docs in runs["float32"].items():
            common = set(docs) & set(runs[storage][qid])
            assert len(common) >= 0.8 * len(docs)
            assert all(abs(docs[d] - runs[storage][qid][d]) <= tol for d in common)


def test_the_index_is_reused_across_depths_and_rebuilt_for_another_storage(big, tiny_bi_encoder, tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))  # not the session's cache, where other tests built this index
    first = _run(tmp_path, big, tiny_bi_encoder, "a")["systems"][0]["latency"]["encode"]
    with caplog.at_level("INFO"):
        second = _run(tmp_path, big, tiny_bi_encoder, "b", depth=5)["systems"][0]["latency"]["encode"]
    assert second["index_folder"] == first["index_folder"] and second["reused"] and not first["reused"]
    assert "reusing dense index" in caplog.text
    third = _run(tmp_path, big, tiny_bi_encoder, "c", storage="float16")["systems"][0]["latency"]["encode"]
    assert third["index_folder"] != first["index_folder"] and not third["reused"]
    assert Path(first["index_folder"]).parent == tmp_path / "cache" / "dense"


def test_a_plain_hugging_face_encoder_folder_is_mean_pooled_like_sentence_transformers(big, tmp_path, capsys):
    from helpers import make_plain_bert

    from bench.trec import read_run

    model = make_plain_bert(tmp_path / "plain")
    run = read_run(_run(tmp_path, big, model, "plain", similarity="cosine")["systems"][0]["run_file"])
    capsys.readouterr()
    reference = _st_reference(model, big, DEPTH)  # sentence-transformers wraps a plain folder in Transformer + mean Pooling
    for qid in reference:
        assert_same_top(run[qid], reference[qid])


def test_prompts_and_similarity_come_from_the_folder(tmp_path):
    from helpers import make_bi_encoder

    from bench.first_stage.dense.encoder import folder_defaults
    from bench.rerankers import locate

    model = make_bi_encoder(tmp_path / "e5like")
    cfg = {"prompts": {"query": "query: ", "passage": "passage: "}, "similarity_fn_name": "dot"}
    (model / "config_sentence_transformers.json").write_text(json.dumps(cfg), encoding="utf-8")
    found = folder_defaults(locate(str(model)))
    assert (found.query_prefix, found.document_prefix, found.similarity) == ("query: ", "passage: ", "dot")


@pytest.mark.parametrize("options,message", [
    ({"index": "annoy"}, "dense index 'annoy' is not known; use one of exact, flat, hnsw, ivf"),
    ({"storage": "int8"}, "dense storage 'int8' is not known"),
    ({"shard_size": 0}, "dense option shard_size must be positive"),
    ({"bogus": 1}, "unknown option 'bogus'"),
])
def test_bad_dense_options_are_one_line_errors(big, tiny_bi_encoder, tmp_path, options, message):
    from bench import collection, experiment
    from bench.config import load_toml

    config = load_toml(dense_toml(tmp_path / "bad.toml", big, tiny_bi_encoder, **options))
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        experiment.plan(config, collection.load("big", str(big)))


def test_a_dense_stage_without_a_model_is_refused(big, tmp_path):
    from bench import collection, experiment
    from bench.config import from_dict

    config = from_dict({"collection": "big", "data_dir": str(big), "first_stage": {"kind": "dense"}})
    with pytest.raises(ConfigError, match="the dense first stage needs a model"):
        experiment.plan(config, collection.load("big", str(big)))
