from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import collection as collections
from bench.errors import ConfigError
from bench.first_stage.bm25 import Bm25Params, Bm25sIndex, RankBm25Index, retrieve, top_k
from bench.trec import ranked


def test_top_k_is_deterministic_under_ties_and_pads_with_zero_scores():
    scores = np.array([1.0, 3.0, 1.0, 0.0, 1.0, 0.0], dtype=np.float32)
    ids = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
    assert top_k(scores, ids, 3) == [("b", 3.0), ("e", 1.0), ("c", 1.0)]
    assert top_k(scores, ids, 6) == [("b", 3.0), ("e", 1.0), ("c", 1.0), ("a", 1.0), ("f", 0.0), ("d", 0.0)]


def test_backends_rank_alike_on_tiny_corpus(tiny_collection: Path, tmp_path: Path):
    c = collections.load("tiny", tiny_collection.parent)
    params = Bm25Params()
    fast = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), params, root=tmp_path)
    slow = RankBm25Index(list(c.docs), params)
    a, _ = retrieve(fast, c.queries, 5)
    b, _ = retrieve(slow, c.queries, 5)
    assert ranked(a["1"])[0][0] == "d1" and ranked(a["3"])[0][0] == "d4"
    for qid in c.queries:
        assert [d for d, _ in ranked(a[qid])] == [d for d, _ in ranked(b[qid])]
        for doc, score in a[qid].items():
            # Lucene drops BM25's constant (k1 + 1) factor; rank-bm25 keeps it
            assert score * (params.k1 + 1) == pytest.approx(b[qid][doc], rel=1e-5)


def test_index_is_persisted_and_reused(tiny_collection: Path, tmp_path: Path):
    c = collections.load("tiny", tiny_collection.parent)
    first = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), Bm25Params(), root=tmp_path)
    folders = [f for f in (tmp_path / "bm25").iterdir() if f.is_dir()]
    assert folders == [first.path] and (first.path / "meta.json").is_file()
    again = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), Bm25Params(), root=tmp_path)
    assert again.path == first.path
    other = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), Bm25Params(k1=1.2), root=tmp_path)
    assert other.path != first.path


def test_bad_parameters():
    with pytest.raises(ConfigError, match="unknown BM25 backend"):
        Bm25Params(backend="lucene")
    with pytest.raises(ConfigError, match="out of range"):
        Bm25Params(b=2.0)


def test_vaswani_bm25s_and_rank_bm25_agree(vaswani: Path, tmp_path: Path):
    c = collections.load("vaswani", vaswani.parent)
    params = Bm25Params()
    fast = Bm25sIndex.cached(c.docs, c.docs.fingerprint(), params, root=tmp_path)
    run, latency = retrieve(fast, c.queries, 1000)
    assert len(run) == 93 and all(len(docs) == 1000 for docs in run.values())
    assert set(latency) == set(run)
    reference, _ = retrieve(RankBm25Index(list(c.docs), params), c.queries, 10)
    same = sum([d for d, _ in ranked(run[q])[:10]] == [d for d, _ in ranked(reference[q])] for q in c.queries)
    assert same / len(c.queries) >= 0.95
