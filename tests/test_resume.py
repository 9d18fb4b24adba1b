"""Interrupted reranking resumes without losing finished work, and concurrent runs share one result.

Real processes (``python -m bench run``) are killed mid-rerank with SIGKILL and SIGINT;
the same command is run again and its run file is compared byte for byte with an
uninterrupted run's. The partial run is written per query, so "at most the batch in
flight" means at most the query in flight: every query whose line reached the partial
file is reused (``latency.resumed_queries`` in the results record).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import WORDS

from bench.cli import main
from bench.partial import PartialRun

ROOT = Path(__file__).resolve().parents[1]
QUERIES = 60
TOP_K = 5
HINT = "bench: interrupted; finished queries are kept, run the same command again to resume"


def make_big_collection(folder: Path, queries: int = QUERIES, docs_per_query: int = 6, words: int = 30, seed: int = 0) -> Path:
    """The tiny collection's layout scaled up: enough queries that reranking takes a few seconds."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    query_lines, qrels, run, corpus = [], [], [], []
    for q in range(1, queries + 1):
        query_lines.append(f"{q}\t{' '.join(rng.choices(WORDS, k=5))}\n")
        for rank in range(1, docs_per_query + 1):
            doc = f"q{q}d{rank}"
            corpus.append(json.dumps({"doc_id": doc, "text": " ".join(rng.choices(WORDS, k=words))}) + "\n")
            run.append(f"{q} Q0 {doc} {rank} {float(100 - rank)} bm25\n")
            if rank <= 3:
                qrels.append(f"{q} 0 {doc} {rng.randint(0, 3)}\n")
    (folder / "queries.tsv").write_text("".join(query_lines), encoding="utf-8")
    (folder / "qrels.txt").write_text("".join(qrels), encoding="utf-8")
    (folder / "corpus.jsonl").write_text("".join(corpus), encoding="utf-8")
    (folder / "run.bm25.trec").write_text("".join(run), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the collection ``big``."""
    root = tmp_path_factory.mktemp("bigdata")
    make_big_collection(root / "big")
    return root


def _args(data: Path, model: Path, out: Path, *extra: str) -> list[str]:
    return ["run", "big", "--data-dir", str(data), "--model", str(model), "--top-k", str(TOP_K), "--output", str(out), *extra]


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        BENCH_CACHE_DIR=str(tmp / "cache"),
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp / "hf"),
    )
    return env


def _start(args: list[str], tmp: Path, tag: str, runner: str | None = None, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    env = _env(tmp)
    env.update(extra_env or {})
    cmd = [sys.executable, "-c", runner, *args] if runner else [sys.executable, "-m", "bench", *args]
    with open(tmp / f"{tag}.out", "w") as stdout, open(tmp / f"{tag}.err", "w") as stderr:
        return subprocess.Popen(cmd, cwd=tmp, env=env, stdout=stdout, stderr=stderr)


def _partial(out: Path) -> Path | None:
    found = sorted((out / "runs" / "big").glob("tiny-ce-*.trec.partial"))
    return found[0] if found else None


def _complete_lines(out: Path) -> int:
    """Rows whose line is complete (newline written); the header is not a row."""
    part = _partial(out)
    if part is None:
        return 0
    try:
        return max(0, part.read_bytes().count(b"\n") - 1)
    except FileNotFoundError:
        return 0


def _wait_for_rows(proc: subprocess.Popen, out: Path, rows: int, tmp: Path, tag: str) -> None:
    """Poll the partial file until ``rows`` queries are finished (the run must still be going)."""
    deadline = time.monotonic() + 600
    while _complete_lines(out) < rows:
        if proc.poll() is not None:
            pytest.fail(f"run ended (exit {proc.returncode}) before {rows} queries were done: {(tmp / f'{tag}.err').read_text()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("run made no progress for 10 minutes")
        time.sleep(0.005)


def _run_hash(out: Path) -> str:
    part = _partial(out)
    assert part is not None
    return json.loads(part.read_text(encoding="utf-8").split("\n")[0])["hash"]


def _done_rows(out: Path) -> int:
    part = _partial(out)
    assert part is not None
    return len(PartialRun(part, _run_hash(out)).rows())


def _finish(data: Path, model: Path, out: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> dict:
    """Run the same command again (in this process) to completion; returns the reranker's results row."""
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(_args(data, model, out)) == 0
    capsys.readouterr()
    record = json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))
    return record["systems"][1]


def _assert_clean(out: Path) -> None:
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".partial", ".tmp-")) or ".tmp-" in p.name]
    assert leftovers == [], leftovers


@pytest.fixture(scope="module")
def reference(big: Path, tiny_cross_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The reranker's run file from an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(out / "cache"))
        assert main(_args(big, tiny_cross_encoder, out)) == 0
    record = json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))
    system = record["systems"][1]
    assert system["name"] == "tiny-ce" and system["latency"]["resumed_queries"] == 0
    data = Path(system["run_file"]).read_bytes()
    assert data.count(b"\n") == QUERIES * 6
    return data


def test_sigint_then_sigkill_then_resume_is_byte_identical(big, tiny_cross_encoder, reference, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    # 1. Ctrl-C mid-rerank: exit 130, one line saying how to resume, no traceback
    proc = _start(["-q", *_args(big, tiny_cross_encoder, out)], tmp_path, "sigint")
    _wait_for_rows(proc, out, 3, tmp_path, "sigint")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = (tmp_path / "sigint.err").read_text()
    assert err.splitlines() == [HINT], err
    after_sigint = _done_rows(out)
    assert 3 <= after_sigint < QUERIES
    assert not list((out / "runs" / "big").glob("tiny-ce-*.trec")), "no final run file from an interrupted run"
    assert not (out / "reports").exists()

    # 2. the same command resumes; SIGKILL it a few queries later
    proc = _start(_args(big, tiny_cross_encoder, out), tmp_path, "sigkill")
    _wait_for_rows(proc, out, after_sigint + 3, tmp_path, "sigkill")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    assert f"tiny-ce: resuming, {after_sigint} of {QUERIES} queries already done" in (tmp_path / "sigkill.err").read_text()
    after_sigkill = _done_rows(out)
    assert after_sigint + 3 <= after_sigkill < QUERIES

    # 3. the same command again finishes: only unfinished queries were scored, same bytes as never interrupted
    system = _finish(big, tiny_cross_encoder, out, capsys, caplog)
    assert system["latency"]["resumed_queries"] == after_sigkill
    assert f"resuming, {after_sigkill} of {QUERIES} queries already done" in caplog.text
    assert Path(system["run_file"]).read_bytes() == reference
    _assert_clean(out)


def test_sigterm_stops_cleanly_like_ctrl_c_and_resumes(big, tiny_cross_encoder, reference, tmp_path, capsys, caplog):
    """Schedulers pre-empt jobs with SIGTERM: same clean stop and hint as Ctrl-C, exit 143."""
    out = tmp_path / "out"
    proc = _start(["-q", *_args(big, tiny_cross_encoder, out)], tmp_path, "sigterm")
    _wait_for_rows(proc, out, 2, tmp_path, "sigterm")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM
    err = (tmp_path / "sigterm.err").read_text()
    assert err.splitlines() == [HINT], err
    done = _done_rows(out)
    system = _finish(big, tiny_cross_encoder, out, capsys, caplog)
    assert system["latency"]["resumed_queries"] == done >= 2
    assert Path(system["run_file"]).read_bytes() == reference
    _assert_clean(out)


def _interrupting_progress(queries: int):
    """The progress iterator, plus a real SIGINT (Ctrl-C) to this process once ``queries`` queries are finished."""
    import bench.work as engine

    real = engine.progress

    def progress(items, total, desc, unit="queries"):
        for count, item in enumerate(real(items, total, desc, unit)):
            if count == queries:
                signal.raise_signal(signal.SIGINT)
            yield item

    return progress


def test_torn_last_line_is_dropped_and_the_next_line_not_glued_to_it(big, tiny_cross_encoder, reference, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("bench.work.progress", _interrupting_progress(5))
        assert main(_args(big, tiny_cross_encoder, out)) == 130
        assert capsys.readouterr().err.splitlines()[-1] == HINT
        assert _done_rows(out) == 5
        # a SIGKILL in the middle of writing the fifth line leaves it torn
        part = _partial(out)
        part.write_bytes(part.read_bytes()[:-20])
        assert _done_rows(out) == 4
        # resume, interrupted again three queries later: the torn line was replaced, not appended to
        mp.setattr("bench.work.progress", _interrupting_progress(3))
        assert main(_args(big, tiny_cross_encoder, out)) == 130
        capsys.readouterr()
    lines = part.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 + 4 + 3 and all(json.loads(line) for line in lines)
    assert _done_rows(out) == 7
    system = _finish(big, tiny_cross_encoder, out, capsys, caplog)
    assert system["latency"]["resumed_queries"] == 7
    assert Path(system["run_file"]).read_bytes() == reference
    _assert_clean(out)


def test_force_discards_the_partial_run(big, tiny_cross_encoder, reference, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("bench.work.progress", _interrupting_progress(4))
        assert main(_args(big, tiny_cross_encoder, out)) == 130
    assert _done_rows(out) == 4
    caplog.clear()
    assert main([*_args(big, tiny_cross_encoder, out), "--force"]) == 0
    capsys.readouterr()
    system = json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))["systems"][1]
    assert system["latency"]["resumed_queries"] == 0 and "resuming" not in caplog.text
    assert Path(system["run_file"]).read_bytes() == reference
    _assert_clean(out)


# Kill at exact moments: a runner that SIGKILLs its own process at one point, then runs the real CLI.
_KILLER = r"""
import os, signal, sys

point = os.environ["BENCH_TEST_KILL_AT"]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


if point.startswith("replace:"):
    suffix, real_replace = point.split(":", 1)[1], os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.basename(str(dst)).startswith("tiny-ce-") and str(dst).endswith(suffix):
            die()
        return real_replace(src, dst, *args, **kwargs)

    os.replace = replace
elif point == "unlink:partial":
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if str(path).endswith(".partial"):
            die()
        return real_unlink(path, *args, **kwargs)

    os.unlink = unlink
elif point.startswith("stream:"):
    # the local engine runs batches through Runner.stream (preparing the next batch in the
    # background); die as its N-th batch's rows are handed to the driver, before they are written
    from bench.work import Runner

    real_stream, target = Runner.stream, int(point.split(":")[1])

    def stream(self, batches):
        for count, out in enumerate(real_stream(self, batches), start=1):
            if count == target:
                die()
            yield out

    Runner.stream = stream
from bench.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "point,resumed,state",
    [
        ("stream:1", 0, "header only"),  # the first query is scored, not yet written
        ("replace:.trec", QUERIES, "final run still a temp file"),
        ("replace:.meta.json", QUERIES, "run file without its metadata"),
        ("unlink:partial", None, "everything saved, partial not yet deleted"),
    ],
    ids=["header-only", "run-still-temp", "run-without-meta", "partial-not-deleted"],
)
def test_sigkill_at_exact_moments(big, tiny_cross_encoder, reference, tmp_path, capsys, caplog, point, resumed, state):
    out = tmp_path / "out"
    proc = _start(_args(big, tiny_cross_encoder, out), tmp_path, "killed", _KILLER, {"BENCH_TEST_KILL_AT": point})
    assert proc.wait(timeout=600) == -signal.SIGKILL, (tmp_path / "killed.err").read_text()[-2000:]
    runs = out / "runs" / "big"
    assert _partial(out) is not None, state
    if point == "stream:1":
        assert _done_rows(out) == 0
    if point == "replace:.trec":
        assert list(runs.glob(".tiny-ce-*.trec.*.tmp-")) and not list(runs.glob("tiny-ce-*.trec"))
    if point == "replace:.meta.json":
        assert list(runs.glob("tiny-ce-*.trec")) and not list(runs.glob("tiny-ce-*.meta.json"))
    system = _finish(big, tiny_cross_encoder, out, capsys, caplog)
    if resumed is None:
        assert system["latency"]["cached"] is True
    else:
        assert system["latency"]["resumed_queries"] == resumed and system["latency"]["cached"] is False
    assert Path(system["run_file"]).read_bytes() == reference
    _assert_clean(out)


@pytest.mark.slow
def test_sigkill_real_model_on_dl19_resumes_byte_identical(dl19, minilm, tmp_path, capsys, caplog):
    """The real MiniLM bi-encoder over DL19's official BM25 top-100, killed at a random moment."""
    args = ["run", "trec-dl-2019", "--data-dir", str(dl19.parent), "--model", "sentence-transformers/all-MiniLM-L6-v2",
            "--limit-queries", "8", "--top-k", "100"]
    ref = tmp_path / "ref"
    assert main([*args, "--output", str(ref)]) == 0
    ref_record = json.loads((ref / "reports" / "trec-dl-2019" / "results.json").read_text())
    out = tmp_path / "out"
    proc = _start([*args, "--output", str(out)], tmp_path, "dl19")
    part_glob = "all-minilm-l6-v2-*.trec.partial"
    deadline = time.monotonic() + 600
    while True:
        found = list((out / "runs" / "trec-dl-2019").glob(part_glob))
        if found and found[0].read_bytes().count(b"\n") >= 1 + 3:
            break
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "dl19.err").read_text()[-2000:]
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=120) == -signal.SIGKILL
    part = found[0]
    header = json.loads(part.read_text().split("\n")[0])
    done = len(PartialRun(part, header["hash"]).rows())
    assert 2 <= done < 8
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main([*args, "--output", str(out)]) == 0
    capsys.readouterr()
    record = json.loads((out / "reports" / "trec-dl-2019" / "results.json").read_text())
    assert record["systems"][1]["latency"]["resumed_queries"] == done
    assert Path(record["systems"][1]["run_file"]).read_bytes() == Path(ref_record["systems"][1]["run_file"]).read_bytes()
    assert record["systems"][1]["metrics"] == ref_record["systems"][1]["metrics"]
    _assert_clean(out)


def _stage_logs(errs: list[str], text: str) -> int:
    return sum(err.count(text) for err in errs)


def test_two_concurrent_runs_compute_once(big, tiny_cross_encoder, tmp_path):
    """Same experiment, same output folder, started together: both succeed, each stage is computed once."""
    out = tmp_path / "out"
    args = [*_args(big, tiny_cross_encoder, out), "--first-stage", "bm25", "--depth", "6"]
    procs = [_start(args, tmp_path, f"p{i}") for i in range(2)]
    codes = [p.wait(timeout=600) for p in procs]
    errs = [(tmp_path / f"p{i}.err").read_text() for i in range(2)]
    assert codes == [0, 0], errs
    assert _stage_logs(errs, "building BM25 index") == 1
    assert sum("tiny-ce: " in line and "loaded in" in line for err in errs for line in err.splitlines()) == 1, "model run once"
    assert _stage_logs(errs, "tiny-ce: reusing") == 1
    runs = out / "runs" / "big"
    assert len(list(runs.glob("tiny-ce-*.trec"))) == 1 and len(list(runs.glob("bm25-*.trec"))) == 1
    record = json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))
    assert len(record["systems"]) == 2 and record["systems"][1]["metrics"]["nDCG@10"] >= 0
    _assert_clean(out)
    _assert_clean(tmp_path / "cache")
    assert sorted(p.name for p in runs.iterdir() if not p.name.startswith(".")) == sorted(
        [p.name for p in runs.glob("*.trec")] + [p.name for p in runs.glob("*.meta.json")]
    )


@pytest.mark.slow
def test_concurrent_first_stages_build_the_bm25_index_once(big, tmp_path):
    """Two different first stages over one corpus need the same index: one builds it, the other waits and reuses it."""
    procs = [
        _start(["run", "big", "--data-dir", str(big), "--first-stage", "bm25", "--depth", str(depth), "--output", str(tmp_path / "out")],
               tmp_path, f"d{depth}")
        for depth in (4, 5)
    ]
    codes = [p.wait(timeout=600) for p in procs]
    errs = [(tmp_path / f"d{depth}.err").read_text() for depth in (4, 5)]
    assert codes == [0, 0], errs
    assert _stage_logs(errs, "building BM25 index") == 1 and _stage_logs(errs, "reusing BM25 index") == 1
    indexes = [p for p in (tmp_path / "cache" / "bm25").iterdir() if not p.name.startswith(".")]
    assert len(indexes) == 1 and (indexes[0] / "meta.json").is_file()
    _assert_clean(tmp_path / "cache")
