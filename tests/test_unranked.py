"""Candidate sets without a ranking, and download failures while a collection is read lazily."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from bench import collection as collections
from bench.cli import main
from bench.collection.unranked import is_unranked, order_free, set_size
from bench.errors import DataError
from bench.measures import parse_measure


def test_unranked_rule_per_set():
    assert is_unranked({"1": {"a": 0.0, "b": 0.0}, "2": {"c": 3.0, "d": 3.0}})
    assert not is_unranked({"1": {"a": 0.0, "b": 0.0}, "2": {"c": 3.0, "d": 2.0}})  # one ranked query: the set is ranked
    assert is_unranked({"1": {"a": 1.0, "b": 1.0}, "2": {"c": 5.0}})  # a lone candidate has no order to lose
    assert not is_unranked({"1": {"a": 1.0}, "2": {"c": 5.0}})  # nothing to tell either way: ranked
    assert not is_unranked({})
    assert is_unranked({"1": {"a": 0.0, "b": 0.0}, "2": {"c": 3.0, "d": 2.0}}, qids=["1"])
    assert set_size({"1": {"a": 0.0, "b": 0.0}, "2": {"c": 0.0}}) == 2


def test_only_order_free_measures_survive_an_unordered_set():
    assert order_free(parse_measure("R(rel=2)@1000"), 1000)
    assert order_free(parse_measure("P@100"), 100)
    assert not order_free(parse_measure("R@100"), 1000)  # which 100 of the 1000 is the order's choice
    assert not order_free(parse_measure("nDCG@10"), 5)
    assert not order_free(parse_measure("AP(rel=2)"), 5)


def _all_equal_run(folder: Path, score: str = "0") -> None:
    lines = [line.split() for line in (folder / "run.bm25.trec").read_text(encoding="utf-8").splitlines()]
    (folder / "run.bm25.trec").write_text("".join(f"{q} Q0 {d} {r} {score} t\n" for q, _, d, r, _, _ in lines), encoding="utf-8")


def test_local_run_with_equal_scores_is_unranked(tiny_collection: Path):
    assert not collections.load("tiny", tiny_collection.parent).candidates_unranked
    _all_equal_run(tiny_collection)
    c = collections.load("tiny", tiny_collection.parent)
    assert c.candidates_unranked and c.describe()["candidates_unranked"] is True


def test_dl19_local_bm25_run_stays_ranked(dl19: Path):
    c = collections.load("trec-dl-2019", dl19.parent)
    assert c.candidates is not None and not c.candidates_unranked


def test_unranked_local_run_end_to_end(tiny_collection: Path, tiny_cross_encoder: Path, tmp_path: Path, capsys):
    """A local all-equal run: --top-k below the set is one line; the whole set reranks; the row has null measures; the report shows '-'."""
    _all_equal_run(tiny_collection, "7.5")
    base = ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--model", str(tiny_cross_encoder), "--output", str(tmp_path / "out")]
    assert main([*base, "--top-k", "5"]) == 2
    err = capsys.readouterr().err
    assert err.count("bench: error:") == 1
    assert "bench: error: --top-k 5: the input candidates are unranked (every score is equal; up to 8 per query), so they have no top 5; " \
           "rerank the whole set (--top-k 8) or use --first-stage bm25" in err
    assert not (tmp_path / "out" / "reports").exists()

    assert main([*base, "--top-k", "8", "--measures", "nDCG@10", "R@8", "R@5"]) == 0
    out = capsys.readouterr().out
    record = json.loads((tmp_path / "out" / "reports" / "tiny" / "results.json").read_text(encoding="utf-8"))
    first, reranker = record["systems"]
    assert first["unranked"] is True and first["info"]["unranked"] is True
    assert first["metrics"]["nDCG@10"] is None and first["metrics"]["R@5"] is None and first["metrics"]["R@8"] == 1.0
    assert set(first["per_query"]) == {"R@8"}
    assert reranker["metrics"]["nDCG@10"] is not None and reranker["latency"]["stage"]["pairs"] == 24
    row = next(line for line in out.splitlines() if line.startswith("| bm25 "))
    assert row.split("|")[2].strip() == "-"  # nDCG@10 of the unranked row
    assert "unranked candidate set" in out

    from bench.report import build_report

    report = build_report(tmp_path / "out" / "reports" / "tiny" / "results.json")
    assert {c.measure for c in report.comparisons} == {"R@8"}  # nothing tested against a null
    from bench.reproduce import compare_metrics

    rows = compare_metrics(record, record)
    assert any(r.expected is None and r.got is None for r in rows)


def test_unranked_candidates_cut_by_depth_is_an_error(tiny_collection: Path, tmp_path: Path, capsys):
    _all_equal_run(tiny_collection)
    code = main(["run", "tiny", "--data-dir", str(tiny_collection.parent), "--depth", "3", "--output", str(tmp_path / "out")])
    assert code == 2
    assert "unranked (every score is equal), so --depth 3 would keep arbitrary documents; use --depth 8 or more" in capsys.readouterr().err


def _failing_docs(tmp_path: Path, download) -> collections.Documents:
    """ir_datasets' own TsvDocs over a download that cannot happen here, read through bench's wrapper."""
    from ir_datasets.formats import TsvDocs
    from ir_datasets.util import Cache

    from bench.collection.irds import IrDatasetsDocs

    class Dataset:  # the one handler a docs-only ir_datasets Dataset delegates to
        def __init__(self, docs):
            self.docs = docs

        def __getattr__(self, name):
            return getattr(self.docs, name)

    docs = TsvDocs(Cache(download, tmp_path / "irds" / "collection.tsv"), namespace="x", lang="en")
    return IrDatasetsDocs(Dataset(docs), "x-dataset", "x")


def test_download_failure_during_lazy_reads_is_the_loader_message(tmp_path: Path):
    from ir_datasets.util import RequestsDownload

    docs = _failing_docs(tmp_path, RequestsDownload("https://no-such-host.invalid/collection.tsv"))
    for read in (lambda: list(docs), lambda: docs.get_many(["1"])):  # index building; docstore lookups while reranking
        with pytest.raises(DataError) as info:
            read()
        message = str(info.value)
        assert "\n" not in message and "cannot write" not in message
        assert message.startswith("collection 'x' (ir_datasets 'x-dataset'): could not load documents (download failed: cannot reach no-such-host.invalid)")
        assert "--data-dir DIR" in message


def test_a_real_file_system_error_is_not_a_download_error(tmp_path: Path):
    from ir_datasets.util import LocalDownload

    from bench.collection.irds import download_errors, is_download_error
    from bench.errors import BenchError
    from bench.store import disk_errors

    folder = tmp_path / "a-folder"
    folder.mkdir()
    docs = _failing_docs(tmp_path, LocalDownload(folder))  # "collection.tsv" is a folder: EISDIR, a local error
    with pytest.raises(OSError) as info:
        list(docs)
    assert info.value.errno == errno.EISDIR and not is_download_error(info.value)
    with pytest.raises(BenchError, match=r"cannot write .*\(Permission denied\); choose a writable --output"):
        with disk_errors(tmp_path / "index"), download_errors("x", "x-dataset"):
            raise PermissionError(errno.EACCES, "Permission denied")
