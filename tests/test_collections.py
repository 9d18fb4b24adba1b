from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench import collection as collections
from bench.errors import ConfigError, DataError


def test_local_folder_layout(tiny_collection: Path):
    c = collections.load("tiny", tiny_collection.parent)
    assert c.source == f"local:{tiny_collection}"
    assert c.queries["1"] == "do goldfish grow"
    assert c.qrels["1"] == {"d1": 3, "d2": 1, "d8": 0}
    assert c.candidates is not None and len(c.candidates["2"]) == 8
    assert c.docs is not None and c.docs.get_many(["d3"]) == {"d3": "wifi is a wireless network and bluetooth is a short range radio signal"}
    assert c.docs.fingerprint().startswith("sha256:")


def test_data_dir_from_environment(tiny_collection: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BENCH_DATA_DIR", str(tiny_collection.parent))
    assert collections.load("tiny").name == "tiny"


def test_title_is_joined_to_text(tmp_path: Path, tiny_collection: Path):
    (tiny_collection / "corpus.jsonl").write_text('{"doc_id": "d1", "title": "Goldfish", "text": "grow big"}\n', encoding="utf-8")
    c = collections.load("tiny", tiny_collection.parent)
    assert c.docs.get_many(["d1"]) == {"d1": "Goldfish grow big"}


def test_dl19_local_copy(dl19: Path):
    c = collections.load("trec-dl-2019", dl19.parent)
    assert len(c.queries) == 43 and len(c.qrels) == 43
    from bench.evaluate import family_of

    measures = family_of(c).measures
    assert measures[0] == "nDCG@10" and "AP(rel=2)" in measures and "Judged@10" in measures
    assert sum(len(d) for d in c.candidates.values()) == 4300


def test_alias_resolves_to_local_copy_by_ir_datasets_id(dl19: Path):
    c = collections.load("msmarco-passage/trec-dl-2019/judged", dl19.parent)
    assert c.source.startswith("local:") and len(c.qrels) == 43


def test_unknown_collection_suggests_close_names():
    with pytest.raises(ConfigError, match=r"unknown collection 'trec-dl-2091'; did you mean [^?]*trec-dl-2019"):
        collections.load("trec-dl-2091")


def test_path_escape_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match="not allowed"):
        collections.load("../../x", tmp_path)


def test_offline_ir_datasets_fails_fast_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "irds"))
    started = time.monotonic()
    with pytest.raises(DataError) as info:
        collections.load("vaswani")  # ir_datasets id; downloading is impossible here
    assert time.monotonic() - started < 60
    message = str(info.value)
    assert "\n" not in message
    assert "collection 'vaswani' (ir_datasets 'vaswani'): could not load" in message
    assert "--data-dir" in message


def test_ir_datasets_code_path_on_local_files(tiny_collection: Path):
    """The real ir_datasets loader (formats, docstore, scoreddocs) over a dataset registered from local files."""
    import ir_datasets
    from ir_datasets.formats import JsonlDocs, TrecQrels, TrecScoredDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    dataset_id = "bench-test/tiny"
    if dataset_id not in ir_datasets.registry._registered:
        from ir_datasets.datasets.base import Dataset
        from ir_datasets.formats import GenericDoc

        docs = JsonlDocs(LocalDownload(tiny_collection / "corpus.jsonl"), doc_cls=GenericDoc, mapping={"doc_id": "doc_id", "text": "text"})
        ir_datasets.registry.register(
            dataset_id,
            Dataset(
                docs,
                TsvQueries(LocalDownload(tiny_collection / "queries.tsv")),
                TrecQrels(LocalDownload(tiny_collection / "qrels.txt"), {0: "not", 1: "rel"}),
                TrecScoredDocs(LocalDownload(tiny_collection / "run.bm25.trec")),
            ),
        )
    c = collections.load(dataset_id)
    assert c.source == f"ir_datasets:{dataset_id}"
    assert c.queries["2"] == "what is wifi vs bluetooth"
    assert c.qrels["1"]["d1"] == 3
    assert c.candidates["1"]["d8"] == 9.0
    assert c.docs.get_many(["d4"]) == {"d4": "the us did enter the world war"}
    assert len(c.docs) == 8 and dict(iter(c.docs))["d6"] == "a fast red car engine"


def test_disjoint_ids_and_empty_queries_are_errors(tiny_collection: Path):
    (tiny_collection / "qrels.txt").write_text("77 0 d1 1\n", encoding="utf-8")
    with pytest.raises(DataError, match="no query id in the queries is judged"):
        collections.load("tiny", tiny_collection.parent)
    (tiny_collection / "qrels.txt").write_text("1 0 d1 1\n", encoding="utf-8")
    (tiny_collection / "queries.tsv").write_text("1\t  \n", encoding="utf-8")
    with pytest.raises(DataError, match="query '1' has empty text"):
        collections.load("tiny", tiny_collection.parent)


def test_bad_corpus_line_names_line(tiny_collection: Path):
    (tiny_collection / "corpus.jsonl").write_text('{"doc_id": "d1", "text": "x"}\n{"doc_id": "d2"}\n', encoding="utf-8")
    c = collections.load("tiny", tiny_collection.parent)
    with pytest.raises(DataError, match=r"corpus.jsonl:2: document 'd2' has no \"text\""):
        c.docs.get_many(["d1"])
