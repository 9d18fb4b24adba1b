"""The mission command through ir_datasets' own msmarco-passage loaders, with no registration trick.

An ir_datasets home is built in the layout ir_datasets caches (``msmarco-passage/collection.tsv``
with its ``irds_version.txt`` marker, ``trec-dl-2019/queries.tsv``, ``trec-dl-2019/qrels``,
``trec-dl-2019/ms.run``: the official top-k as bare ``qid<TAB>pid`` lines, so every score is 0),
from ``../shared/data/trec-dl-2019`` when present, else from the tiny made-up collection. The
literal ``python -m bench run trec-dl-2019`` then runs in a fresh process (ir_datasets reads
``IR_DATASETS_HOME`` once, at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import DOCS, QRELS, QUERIES
from reference import trec_eval_mean

from bench.measures import parse_measures
from bench.trec import read_qrels, read_run

ROOT = Path(__file__).resolve().parents[1]
SHARED_DL19 = Path(os.environ.get("BENCH_SHARED_DATA", ROOT.parent / "shared" / "data")) / "trec-dl-2019"


def _clean(text: str) -> str:
    return " ".join(text.split())  # collection.tsv: one line per passage, no tabs


def build_irds_home(home: Path, source: Path | None) -> int:
    """Write the files ir_datasets caches for msmarco-passage/trec-dl-2019; return the candidate set size."""
    base = home / "msmarco-passage"
    (base / "trec-dl-2019").mkdir(parents=True)
    (base / "irds_version.txt").write_text("v2", encoding="utf-8")  # the Migrator's marker: no re-download
    if source is not None:
        with open(source / "corpus.jsonl", encoding="utf-8") as fh, open(base / "collection.tsv", "w", encoding="utf-8") as out:
            for line in fh:
                row = json.loads(line)
                out.write(f"{row['doc_id']}\t{_clean(row['text'])}\n")
        (base / "trec-dl-2019" / "queries.tsv").write_bytes((source / "queries.tsv").read_bytes())
        (base / "trec-dl-2019" / "qrels").write_bytes((source / "qrels.txt").read_bytes())
        run = read_run(source / "run.bm25.trec")
    else:
        (base / "collection.tsv").write_text("".join(f"{d}\t{t}\n" for d, t in DOCS.items()), encoding="utf-8")
        (base / "trec-dl-2019" / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in QUERIES.items()), encoding="utf-8")
        (base / "trec-dl-2019" / "qrels").write_text("".join(f"{q} 0 {d} {r}\n" for q, d, r in QRELS), encoding="utf-8")
        run = {q: dict.fromkeys(DOCS, 0.0) for q in QUERIES}
    # the official top-1000 files as ir_datasets caches them: "qid<TAB>pid", no score
    (base / "trec-dl-2019" / "ms.run").write_text("".join(f"{q}\t{d}\n" for q, docs in run.items() for d in docs), encoding="utf-8")
    return max(len(docs) for docs in run.values())


@pytest.fixture
def irds_home(tmp_path: Path) -> tuple[Path, int, Path]:
    """(IR_DATASETS_HOME, candidate set size, where its qrels are)."""
    source = SHARED_DL19 if (SHARED_DL19 / "corpus.jsonl").is_file() else None
    home = tmp_path / "irds"
    size = build_irds_home(home, source)
    return home, size, home / "msmarco-passage" / "trec-dl-2019" / "qrels"


def bench(args: list[str], home: Path, tmp_path: Path, timeout: int = 600, **extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), IR_DATASETS_HOME=str(home), HF_HUB_OFFLINE="1", **extra)
    env.pop("BENCH_DATA_DIR", None)  # no local copy: ir_datasets' loaders, as a new user runs it
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def test_mission_command_bm25_through_ir_datasets_equals_trec_eval(irds_home, tmp_path):
    home, _, qrels_path = irds_home
    done = bench(["run", "trec-dl-2019", "--output", str(tmp_path / "out")], home, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "first stage: bm25 (auto: an ir_datasets collection with documents" in done.stderr
    # the log says why BM25, and that the official candidates are unranked
    assert "official candidates (scoreddocs) are unranked (every score is equal)" in done.stderr
    record = json.loads((tmp_path / "out" / "reports" / "trec-dl-2019" / "results.json").read_text(encoding="utf-8"))
    assert record["collection"]["source"] == "ir_datasets:msmarco-passage/trec-dl-2019/judged"
    assert record["collection"]["candidates_unranked"] is True
    (system,) = record["systems"]
    assert system["name"] == "bm25" and "unranked" not in system
    qrels = read_qrels(qrels_path)
    run = read_run(system["run_file"])
    assert record["measures"][:2] == ["nDCG@10", "RR(rel=2)"]
    for measure in parse_measures(record["measures"]):
        assert system["metrics"][measure.name] == pytest.approx(trec_eval_mean(qrels, run, measure), abs=1e-9), measure.name
    if SHARED_DL19.is_dir():
        assert len(record["systems"][0]["per_query"]["nDCG@10"]) == 43


def test_mission_command_on_unranked_official_candidates(irds_home, tmp_path, tiny_cross_encoder):
    home, size, _ = irds_home
    common = ["-q", "run", "trec-dl-2019", "--first-stage", "candidates", "--model", str(tiny_cross_encoder),
              "--limit-queries", "3", "--output", str(tmp_path / "out")]
    started = time.monotonic()
    failed = bench([*common, "--top-k", str(size - 1)], home, tmp_path)
    assert failed.returncode == 2 and failed.stdout == ""
    assert failed.stderr.count("\n") == 1, failed.stderr
    assert failed.stderr.startswith(f"bench: error: --top-k {size - 1}: the input candidates are unranked")
    assert f"rerank the whole set (--top-k {size}) or use --first-stage bm25" in failed.stderr
    assert time.monotonic() - started < 120
    assert not list((tmp_path / "out").rglob("results.json"))

    done = bench([*common, "--top-k", str(size)], home, tmp_path)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "out" / "reports" / "trec-dl-2019" / "results.json").read_text(encoding="utf-8"))
    first, reranker = record["systems"]
    assert first["name"] == "scoreddocs" and first["unranked"] is True
    # no effectiveness measure for an unordered set; R@k with k >= the set size does not depend on order
    kept = {m for m in record["measures"] if m.startswith("R(") and int(m.split("@")[1]) >= size}
    assert {m for m, v in first["metrics"].items() if v is not None} == kept
    assert first["metrics"]["nDCG@10"] is None and "nDCG@10" not in first["per_query"]
    assert any("unranked candidate set" in note for note in record["notes"])
    # every candidate was reranked: the reranker's pairs are the whole set of every query
    candidates = read_run(first["run_file"])
    assert reranker["latency"]["stage"]["pairs"] == sum(len(candidates[q]) for q in candidates)
    reranked = read_run(reranker["run_file"])
    assert {q: set(d) for q, d in reranked.items()} == {q: set(d) for q, d in candidates.items()}
    assert all(v is not None for v in reranker["metrics"].values())
    # the report shows "-" for the null cells and tests nothing against them
    report = (tmp_path / "out" / "reports" / "trec-dl-2019" / "report.md")
    shown = done.stdout
    assert "| scoreddocs " in shown and "unranked candidate set" in shown, shown
    assert not report.exists() or report.read_text(encoding="utf-8") == shown


def test_offline_bm25_build_gives_the_download_message_not_the_disk_message(irds_home, tmp_path):
    home, _, _ = irds_home
    (home / "msmarco-passage" / "collection.tsv").unlink()  # the corpus is not cached: iterating it downloads
    started = time.monotonic()
    args = ["-q", "run", "trec-dl-2019", "--first-stage", "bm25", "--output", str(tmp_path / "out")]
    done = bench(args, home, tmp_path, BENCH_CACHE_DIR=str(tmp_path / "cache"))  # no index built earlier
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert elapsed < 30
    lines = done.stderr.splitlines()
    errors = [line for line in lines if line.startswith("bench:")]
    assert len(errors) == 1, done.stderr
    message = errors[0]
    assert "cannot write" not in message and "writable" not in message
    assert message.startswith("bench: error: collection 'trec-dl-2019' (ir_datasets 'msmarco-passage/trec-dl-2019/judged'): "
                              "could not load documents (download failed: cannot reach ")
    assert "--data-dir" in message
    assert not list((tmp_path / "out").rglob("results.json"))
