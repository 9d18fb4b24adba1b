"""Reranking a first-stage run, resumably.

Each finished query is appended to ``<run>.partial`` as one JSON line (flushed at once,
fsynced every few queries), after a header naming the run's hash. A rerun of the same
configuration reads that file back and continues where it stopped: after Ctrl-C or a
SIGKILL at most the query in flight is redone. A torn last line (killed mid-write) is
dropped, and the file is rewritten (atomically) without it before new lines are appended,
so a second interruption loses nothing either. Scores round-trip exactly through JSON,
so the final run file is byte-identical to an uninterrupted run's. A full disk while
appending is a one-line error; the queries already written are kept for the rerun.

Latency: the model scores query i while a background thread tokenises query i+1
(``Reranker.score_stream``), so a query's time is pipeline wall time: from the previous
query's scores being ready to this query's (device synchronised). Per-query milliseconds
therefore sum to the rerank loop's wall time (model load and warm-up excluded), and
tokenisation that is not hidden behind the forward pass is still counted.

The reranked run keeps the first stage's order below ``top_k``: those documents get
scores below every reranked score, so depth-based measures (R@1000) compare like with
like with the first stage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from . import prewarm
from .collection import Documents
from .errors import DataError
from .progress import progress
from .rerankers import Reranker
from .rerankers.device import synchronize
from .store import disk_errors, write_text
from .trec import Run, ranked

log = logging.getLogger(__name__)

FSYNC_EVERY = 5
KEPT = "free space and run the same command again; the finished queries are kept"


@dataclass
class RerankOutput:
    run: Run
    latency_ms: dict[str, float]
    pairs: int
    resumed: int


def partial_path(run_file: Path) -> Path:
    return run_file.with_name(run_file.name + ".partial")


def read_partial(path: Path, run_hash: str) -> dict[str, dict[str, Any]]:
    """Finished queries from an earlier, interrupted run of the same hash."""
    done: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return done
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().split("\n")
    try:
        header = json.loads(lines[0])
    except (json.JSONDecodeError, IndexError):
        return done
    if not isinstance(header, dict) or header.get("hash") != run_hash:
        log.warning("ignoring %s: it belongs to another configuration", path)
        return done
    for line in lines[1:]:
        try:
            row = json.loads(line)
            if len(row["docs"]) == len(row["scores"]) and isinstance(row["ms"], (int, float)):
                done[row["qid"]] = row
        except (json.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line from a kill mid-write
    return done


def _header(run_hash: str) -> str:
    return json.dumps({"hash": run_hash}) + "\n"


@contextlib.contextmanager
def open_partial(path: Path, run_hash: str, done: dict[str, dict[str, Any]]) -> Iterator[IO[str]]:
    """The partial file, ready for appending: fresh (header only) or rewritten with exactly the rows in ``done``.

    Rewriting drops a torn last line, so the next line does not land on the end of it.
    """
    with disk_errors(path, KEPT):
        if done:
            write_text(path, _header(run_hash) + "".join(json.dumps(row) + "\n" for row in done.values()))
            fh = open(path, "a", encoding="utf-8")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(path, "w", encoding="utf-8")
    try:
        if not done:
            with disk_errors(path, KEPT):
                fh.write(_header(run_hash))
                fh.flush()
        yield fh
    finally:
        with contextlib.suppress(OSError):  # after a failed write (disk full) closing fails too; that error is already raised
            fh.close()


def assemble(first: Mapping[str, float], docs: list[str], scores: list[float]) -> dict[str, float]:
    """Reranked top docs, then the rest in first-stage order with scores below all reranked ones."""
    out = dict(zip(docs, scores))
    floor = min(scores) if scores else 0.0
    reranked = set(docs)
    tail = [d for d, _ in ranked(first) if d not in reranked]
    for position, doc in enumerate(tail, start=1):
        out[doc] = floor - position
    return out


def rerank(
    reranker: Reranker,
    queries: Mapping[str, str],
    first_stage: Run,
    qids: list[str],
    top_k: int,
    docs: Documents,
    run_file: Path,
    run_hash: str,
    desc: str,
) -> RerankOutput:
    """Rerank each query's top_k candidates, appending finished queries to the partial file."""
    part = partial_path(run_file)
    done = read_partial(part, run_hash)
    if done:
        log.info("%s: resuming, %d of %d queries already done (%s)", desc, len(done), len(qids), part)
    todo = [q for q in qids if q not in done]
    with open_partial(part, run_hash, done) as fh:

        def candidates() -> Iterator[tuple[tuple[str, list[str]], str, list[str]]]:
            for qid in todo:
                ids = [d for d, _ in ranked(first_stage.get(qid, {}))[:top_k]]
                texts = docs.get_many(ids)
                missing = [d for d in ids if not texts.get(d, "").strip()]
                if missing:
                    raise DataError(
                        f"candidate document {missing[0]!r} for query {qid!r} has no text in the corpus "
                        f"({len(missing)} such); add the text or use a candidate run over this corpus"
                    )
                yield (qid, ids), queries[qid], [texts[d] for d in ids]

        prewarm.start()  # evaluation's and the report's imports overlap the forward passes
        synchronize(reranker.settings.device)
        last = time.perf_counter()
        scored = reranker.score_stream(candidates())
        for count, ((qid, ids), scores) in enumerate(progress(scored, len(todo), desc), start=1):
            synchronize(reranker.settings.device)
            now = time.perf_counter()
            row: dict[str, Any] = {"qid": qid, "docs": ids, "scores": scores, "ms": (now - last) * 1000.0}
            last = now
            done[qid] = row
            with disk_errors(part, KEPT):
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                if count % FSYNC_EVERY == 0:
                    os.fsync(fh.fileno())
        with disk_errors(part, KEPT):
            os.fsync(fh.fileno())
    run: Run = {}
    latency: dict[str, float] = {}
    pairs = 0
    for qid in qids:
        row = done[qid]
        run[qid] = assemble(first_stage.get(qid, {}), row["docs"], row["scores"])
        latency[qid] = float(row["ms"])
        pairs += len(row["docs"])
    return RerankOutput(run=run, latency_ms=latency, pairs=pairs, resumed=len(qids) - len(todo))
