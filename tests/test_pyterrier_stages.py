"""PyTerrier pipelines inside ``bench run`` (``kind = "pyterrier"``), with Java hidden.

Toy ``pt.apply.doc_score`` pipelines (tests/pyterrier_toys.py) run as the first stage and as a
reranker. Their runs are derived again here from the toys' rules, written out; the stages are
cached (a second run builds no pipeline), keyed by the factory, its args and the PyTerrier
version, and a SIGKILL in either stage resumes to the same bytes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pt = pytest.importorskip("pyterrier")

import pyterrier_toys as toys  # noqa: E402

from bench.cli import main  # noqa: E402
from bench.trec import ranked, read_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUERIES, DOCS, DEPTH, TOP_K = 12, 40, 10, 5


@pytest.fixture(scope="module", autouse=True)
def no_java(tmp_path_factory: pytest.TempPathFactory):
    """Java hidden for the whole module; afterwards PyTerrier must not have started (or even loaded) a JVM."""
    with toys.java_kept_out(tmp_path_factory.mktemp("shims")):
        yield


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return toys.make_collection(tmp_path_factory.mktemp("ptdata") / "pipes", QUERIES, DOCS).parent


def _experiment(data: Path, path: Path, scale: float = 2.0, retriever: str = "overlap_retriever", reranker: str = "pyterrier_toys:shortness_reranker") -> Path:
    corpus = data / "pipes" / "corpus.jsonl"
    path.write_text(f"""
collection = "pipes"
data_dir = "{data}"
[first_stage]
kind = "pyterrier"
depth = {DEPTH}
[first_stage.options]
factory = "pyterrier_toys:{retriever}"
args = {{ corpus = "{corpus}", depth = {DEPTH} }}
[[rerankers]]
model = "shortness"
kind = "pyterrier"
top_k = {TOP_K}
queries_per_batch = 2
[rerankers.options]
factory = "{reranker}"
args = {{ scale = {scale} }}
""", encoding="utf-8")
    return path


def _record(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / "reports" / name / "results.json").read_text(encoding="utf-8"))


def _by_hand(data: Path, scale: float) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """The two runs from the toys' rules: PyTerrier's % keeps the top DEPTH by score, ties in frame (corpus) order;
    the reranker rescores the top TOP_K (trec_eval order) and the rest keep their order below the lowest new score."""
    queries = dict(line.split("\t") for line in (data / "pipes" / "queries.tsv").read_text().splitlines())
    corpus = [(row["doc_id"], row["text"]) for row in map(json.loads, (data / "pipes" / "corpus.jsonl").read_text().splitlines())]
    texts = dict(corpus)
    first, second = {}, {}
    for qid, query in queries.items():
        scored = sorted(((-toys.overlap(query, t), i, d) for i, (d, t) in enumerate(corpus)))[:DEPTH]
        first[qid] = {d: -s for s, _, d in scored}
        order = [d for d, _ in ranked(first[qid])]
        new = {d: scale / (1.0 + len(texts[d].split())) for d in order[:TOP_K]}
        floor = min(new.values())
        second[qid] = {**new, **{d: floor - i for i, d in enumerate(order[TOP_K:], start=1)}}
    return first, second


def test_pipelines_as_first_stage_and_reranker_cached_by_factory(data: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    experiment = _experiment(data, tmp_path / "pipes.toml")
    assert main(["-q", "run", str(experiment), "--output", str(out)]) == 0, capsys.readouterr().err
    record = _record(out, "pipes")
    first, second = record["systems"]
    expected_first, expected_second = _by_hand(data, 2.0)
    assert read_run(first["run_file"]) == expected_first
    assert read_run(second["run_file"]) == expected_second
    # timed, billed and evaluated like any stage
    assert first["info"]["kind"] == "pyterrier" and first["latency"]["stage"]["queries"] == QUERIES and first["latency"]["load_s"] >= 0
    assert second["input"] == first["name"] == "overlap_retriever" and second["cost"]["total"] == {"pairs": QUERIES * TOP_K}
    assert second["latency"]["stage"]["pairs_per_s"] > 0 and set(second["metrics"]) == set(record["measures"])
    meta = json.loads(Path(second["run_file"]).with_suffix(".meta.json").read_text())
    assert meta["key"]["options"] == {"factory": "pyterrier_toys:shortness_reranker", "args": {"scale": 2.0}, "revision": None,
                                      "pyterrier": pt.__version__}
    # a second run reuses both stages without building a pipeline
    toys.CALLS.update(retriever=0, reranker=0)
    assert main(["-q", "run", str(experiment), "--output", str(out)]) == 0
    assert [s["latency"]["cached"] for s in _record(out, "pipes")["systems"]] == [True, True]
    assert toys.CALLS == {"retriever": 0, "reranker": 0}
    # other args are another pipeline: the reranker runs again, the first stage is still reused
    assert main(["-q", "run", str(_experiment(data, tmp_path / "pipes.toml", scale=3.0)), "--output", str(out)]) == 0
    assert [s["latency"]["cached"] for s in _record(out, "pipes")["systems"]] == [True, False]
    assert read_run(_record(out, "pipes")["systems"][1]["run_file"]) == _by_hand(data, 3.0)[1]


@pytest.mark.parametrize(("factory", "message"), [
    ("nope", "is not an import path"),
    ("pyterrier_toys:nope", "has no 'nope'"),
    ("no_such_module_here:f", "cannot import 'no_such_module_here'"),
    ("pyterrier_toys:no_args", "cannot take args ['scale']"),
])
def test_a_bad_factory_is_one_line_before_any_work(data: Path, tmp_path: Path, capsys, factory: str, message: str):
    experiment = _experiment(data, tmp_path / "pipes.toml", reranker=factory)
    toys.CALLS.update(retriever=0)
    assert main(["-q", "run", str(experiment), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert toys.CALLS["retriever"] == 0, "refused before the first stage ran"


@pytest.mark.parametrize(("reranker", "message"), [
    ("not_a_transformer", "returned str, not a pt.Transformer"),
    ("inventing_reranker", "'invented'"),
])
def test_a_misbehaving_pipeline_is_one_line(data: Path, tmp_path: Path, capsys, reranker: str, message: str):
    experiment = _experiment(data, tmp_path / "pipes.toml", reranker=f"pyterrier_toys:{reranker}")
    assert main(["-q", "run", str(experiment), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


_KILLER = r"""
import os, signal, sys
from bench.work import Runner
target = int(os.environ.get("BENCH_KILL_AFTER", "0"))
real = Runner.stream
count = 0
def stream(self, batches):
    global count
    for rows in real(self, batches):
        count += 1
        if count == target:
            os.kill(os.getpid(), signal.SIGKILL)  # batch `target` (counted over both stages) finished, not written
        yield rows
Runner.stream = stream
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(("kill_after", "stage", "written"), [(5, "overlap_retriever", 4), (QUERIES + 3, "shortness", 4)])
def test_a_sigkill_in_a_pipeline_stage_resumes_to_the_same_bytes(data: Path, tmp_path: Path, kill_after: int, stage: str, written: int):
    paths = [str(ROOT), str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    experiment = str(_experiment(data, tmp_path / "pipes.toml"))
    whole, killed = tmp_path / "whole", tmp_path / "killed"

    def bench(out: Path, kill: int = 0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _KILLER, "-q", "run", experiment, "--output", str(out)], timeout=300, text=True,
                              capture_output=True, env={**env, "BENCH_KILL_AFTER": str(kill)})

    done = bench(whole)
    assert done.returncode == 0, done.stderr[-2000:]
    proc = bench(killed, kill_after)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    partial = list((killed / "runs" / "pipes").glob(f"{stage}-*.partial"))
    assert len(partial) == 1 and len(partial[0].read_text().splitlines()) == 1 + written
    again = bench(killed)
    assert again.returncode == 0, again.stderr[-2000:]
    got, want = _record(killed, "pipes")["systems"], _record(whole, "pipes")["systems"]
    assert [s["latency"]["resumed_queries"] for s in got if s["name"] == stage] == [written]
    for mine, theirs in zip(got, want):
        assert Path(mine["run_file"]).read_bytes() == Path(theirs["run_file"]).read_bytes()


def test_a_pipeline_reranker_from_the_command_line(data: Path, tmp_path: Path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "run", "pipes", "--data-dir", str(data), "--first-stage", "bm25", "--depth", "20", "--model", "short",
                 "--kind", "pyterrier", "--option", "factory=pyterrier_toys:shortness_reranker", "--option", "args={scale=3.0}",
                 "--top-k", str(TOP_K), "--output", str(out)]) == 0, capsys.readouterr().err
    bm25, short = _record(out, "pipes")["systems"]
    texts = {row["doc_id"]: row["text"] for row in map(json.loads, (data / "pipes" / "corpus.jsonl").read_text().splitlines())}
    for qid, docs in read_run(bm25["run_file"]).items():
        top = [d for d, _ in ranked(docs)][:TOP_K]
        got = read_run(short["run_file"])[qid]
        assert {d: got[d] for d in top} == {d: 3.0 / (1.0 + len(texts[d].split())) for d in top}
    assert short["name"] == "short" and short["info"]["kind"] == "pyterrier"
