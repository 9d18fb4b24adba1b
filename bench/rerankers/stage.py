"""A reranker as a stage: the top-k of its input stage rescored by one model, the rest kept in input order.

The key holds the family, the model (spec, revision, content fingerprint), the corpus the
model reads, ``top_k``, the resolved inference settings and every family option; how the
work is spread (the engine, the number of workers) is not part of it, so a run started on
one worker can be finished on eight. The engine (``local`` in-process, or ``ray``) scores
the queries and appends each finished one to the partial run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from typing import Any

from ..errors import ConfigError, DataError
from ..options import as_dict
from ..partial import PartialRun
from ..stages import Job, Stage, StageResult
from ..trec import Run, ranked
from .base import ModelSettings, Reranker
from .locate import LocatedModel
from .passages import Passages, combine, expand

log = logging.getLogger(__name__)

Item = tuple[tuple[str, list[str]], str, list[str]]


def assemble(first: Mapping[str, float], docs: list[str], scores: list[float]) -> dict[str, float]:
    """Reranked top docs, then the rest in input order with scores below all reranked ones."""
    out = dict(zip(docs, scores))
    floor = min(scores) if scores else 0.0
    reranked = set(docs)
    tail = [d for d, _ in ranked(first) if d not in reranked]
    for position, doc in enumerate(tail, start=1):
        out[doc] = floor - position
    return out


class RerankStage(Stage):
    """One reranker of an experiment (what it needs to build its model anywhere, engine workers included)."""

    def __init__(self, name: str, located: LocatedModel, kind: str, options: Any, settings: ModelSettings, top_k: int,
                 corpus: str | None, engine: str = "local", engine_options: Any = None, passages: Passages | None = None):
        self.name = name
        self.model = located.spec
        self.located = located
        self.kind = kind
        self.options = options
        self.settings = settings
        self.top_k = top_k
        self.corpus = corpus
        self.engine = engine
        self.engine_options = engine_options
        self.passages = passages  # long documents: FirstP / MaxP windows (None: the whole text, truncated by the model)

    def key(self) -> dict[str, Any]:
        settings = {k: v for k, v in asdict(self.settings).items() if k not in ("trust_remote_code", "allow_pickle")}
        settings["device"] = self.settings.device.split(":")[0]  # cuda:0 and cuda:1 give the same scores
        key = {
            "kind": self.kind,
            "model": self.located.spec,
            "revision": self.located.revision,
            "fingerprint": self.located.fingerprint(),
            "corpus": self.corpus,  # the text the model reads
            "top_k": self.top_k,
            "settings": settings,
            "options": as_dict(self.options),
        }
        if self.passages is not None:  # only when set, so runs made before this option keep their hash
            key["passages"] = self.passages.describe()
        return key

    def create(self, device: str | None = None) -> Reranker:
        """An unloaded reranker (on ``device`` when an engine worker has its own)."""
        from dataclasses import replace

        from . import FAMILIES

        settings = self.settings if device is None else replace(self.settings, device=device)
        return FAMILIES.get(self.kind)(self.located, settings, self.options)

    def check_input(self, input_run: Run, qids: list[str]) -> None:
        from ..collection.unranked import is_unranked

        depth = max((len(input_run.get(q, {})) for q in qids), default=0)
        if self.top_k < depth and is_unranked(input_run, qids):  # its "top k" would be k documents chosen by doc id
            raise ConfigError(
                f"--top-k {self.top_k}: the input candidates are unranked (every score is equal; up to {depth} per query), "
                f"so they have no top {self.top_k}; rerank the whole set (--top-k {depth}) or use --first-stage bm25"
            )
        if self.top_k > depth:
            raise ConfigError(
                f"--top-k {self.top_k} is larger than the input stage's candidates (at most {depth} per query); "
                f"use --top-k {depth} or less"
            )

    def items(self, job: Job, input_run: Run, qids: list[str]) -> Iterator[Item]:
        """``((qid, doc ids), query, passages)`` for each query: the input's top_k and their text."""
        docs = job.collection.docs
        for qid in qids:
            ids = [d for d, _ in ranked(input_run.get(qid, {}))[: self.top_k]]
            texts = docs.get_many(ids)
            missing = [d for d in ids if not texts.get(d, "").strip()]
            if missing:
                raise DataError(
                    f"candidate document {missing[0]!r} for query {qid!r} has no text in the corpus "
                    f"({len(missing)} such); add the text or use a candidate run over this corpus"
                )
            if self.passages is None:
                yield (qid, ids), job.collection.queries[qid], [texts[d] for d in ids]
            else:  # every window is a pair; finish() keeps each document's best (MaxP) or only (FirstP) window
                window_ids, windows = expand(self.passages, ids, [texts[d] for d in ids])
                yield (qid, window_ids), job.collection.queries[qid], windows

    def run(self, job: Job, input_run: Run | None, partial: PartialRun) -> StageResult:
        from ..engines import ENGINES

        assert input_run is not None, "a reranker needs an input run"
        self.check_input(input_run, job.qids)
        result: StageResult = ENGINES.get(self.engine).run(self, job, input_run, partial)
        if self.passages is not None:
            result.info["passages"] = self.passages.describe()  # the record names the strategy
        return result

    @staticmethod
    def finish(input_run: Run, qids: list[str], done: dict[str, dict[str, Any]]) -> tuple[Run, dict[str, float], int]:
        """The run, per-query ms and pair count from every query's finished row."""
        run: Run = {}
        latency: dict[str, float] = {}
        pairs = 0
        for qid in qids:
            row = done[qid]
            docs, scores = combine(row["docs"], row["scores"])  # windows -> documents (a no-op without windows)
            run[qid] = assemble(input_run.get(qid, {}), docs, scores)
            latency[qid] = float(row["ms"])
            pairs += len(row["docs"])  # pairs scored: windows when documents are windowed
        return run, latency, pairs
