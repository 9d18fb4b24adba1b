"""A PyTerrier pipeline as bench's first stage (``[first_stage] kind = "pyterrier"``).

The pipeline gets each batch of queries as PyTerrier's topics frame (``qid, query``) and its
result frame becomes the run, cut to the first stage's depth. It runs on bench's engines
like BM25 does, so it gets what every stage gets: load and warm-up timed apart, per-query
latency, a resume file (a killed run redoes at most the queries in flight), and a cache
entry keyed by the factory's import path, its args, its revision and the PyTerrier version.

:func:`bench.pyterrier.evaluate` runs pipelines given as objects through the same stage;
an object has no stable key, so those runs are always recomputed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

from ..errors import ModelError
from ..stages import Job
from ..trec import Run, ranked
from ..work import EngineStage
from . import factory as factory_mod
from .factory import PipelineOptions

log = logging.getLogger(__name__)

WARM_UP = {"qid": "bench-warm-up", "query": "warm up query"}


def checked(run: Run, asked: list[str], what: str) -> Run:
    """The pipeline's run, refusing queries it was not asked and scores trec_eval cannot rank."""
    extra = [q for q in run if q not in set(asked)]
    if extra:
        raise ModelError(f"{what} returned query {extra[0]!r}, which it was not given ({len(extra)} such); a pipeline must keep its input qids")
    for qid, docs in run.items():
        bad = next((d for d, s in docs.items() if not math.isfinite(s)), None)
        if bad is not None:
            raise ModelError(f"{what} gave document {bad!r} of query {qid!r} the score {docs[bad]!r}; scores must be finite numbers")
    return run


class PipelineWorker:
    """A built pipeline: a batch of ``{"qid", "query"}`` units in, one row of up to ``depth`` documents per query out."""

    device = "cpu"  # PyTerrier pipelines place their own models; nothing of bench's to synchronise

    def __init__(self, stage: PyTerrierStage):
        self.stage = stage
        self.pipeline: Any = None

    def load(self) -> None:
        self.pipeline = self.stage.build()

    def warmup(self) -> None:
        """One query through the pipeline, so lazy set-up (an index opened on first use) is not the first query's time."""
        import pandas as pd

        try:
            self.pipeline(pd.DataFrame([WARM_UP]))
        except Exception as exc:  # a pipeline may refuse an unknown qid (one made from a fixed run): then nothing is warmed
            log.info("%s: the warm-up query failed (%s); the first query's time includes the pipeline's set-up", self.stage.name, exc)

    def describe(self) -> dict[str, Any]:
        return {"kind": "pyterrier", **self.stage.describe()}

    def prepare(self, units: list[dict[str, str]]) -> list[dict[str, str]]:
        return units

    def process(self, units: list[dict[str, str]]) -> list[dict[str, Any]]:
        from .frames import to_run, topics_frame

        qids = [u["qid"] for u in units]
        result = self.pipeline(topics_frame({u["qid"]: u["query"] for u in units}, qids))
        run = checked(to_run(result), qids, f"pipeline {self.stage.name}")
        rows = []
        for qid in qids:
            top = ranked(run.get(qid, {}))[: self.stage.depth]  # depth None: all
            rows.append({"qid": qid, "docs": [d for d, _ in top], "scores": [float(s) for _, s in top]})
        return rows


class PyTerrierStage(EngineStage):
    """A PyTerrier pipeline that retrieves (from the factory's options, or an object :func:`evaluate` was given)."""

    Options = PipelineOptions

    def __init__(self, options: PipelineOptions | None, depth: int | None, name: str | None = None, pipeline: Any = None):
        self.options = options
        self.depth = depth
        self.pipeline = pipeline  # an object (from evaluate): not re-creatable, so never reused from the cache
        self.name = name or (factory_mod.name_of(options.factory) if options is not None else "pyterrier")

    @property
    def reusable(self) -> bool:
        """Whether a cached run of this stage can be trusted (only a factory's key says what the pipeline is)."""
        return self.pipeline is None

    @classmethod
    def unavailable(cls, collection: Any) -> str | None:
        return None  # the pipeline brings its own index

    @classmethod
    def from_config(cls, config: Any, collection: Any, options: PipelineOptions) -> PyTerrierStage:
        factory_mod.require()
        return cls(options, config.first_stage.depth)

    def build(self) -> Any:
        return self.pipeline if self.pipeline is not None else factory_mod.build(self.options)  # type: ignore[arg-type]

    def describe(self) -> dict[str, Any]:
        if self.options is None:
            return {"pipeline": repr(self.pipeline), "factory": None, "pyterrier": factory_mod.version()}
        return factory_mod.key(self.options)

    def key(self) -> dict[str, Any]:
        if self.options is None:  # keyed by what is known; evaluate() recomputes such a stage every time
            return {"kind": "pyterrier", "depth": self.depth, "pipeline": repr(self.pipeline), "pyterrier": factory_mod.version()}
        return {"kind": "pyterrier", "depth": self.depth, **factory_mod.key(self.options)}

    def units(self, job: Job, input_run: Run | None, qids: list[str]) -> Iterator[dict[str, str]]:
        for qid in qids:
            yield {"qid": qid, "query": job.collection.queries[qid]}

    def worker(self, device: str | None = None) -> PipelineWorker:
        return PipelineWorker(self)

    def run(self, job: Job, input_run: Run | None, partial: Any, engine: Any = None) -> Any:
        result = super().run(job, input_run, partial, engine)
        result.info.setdefault("kind", "pyterrier")
        result.info.update({k: v for k, v in self.describe().items() if k not in result.info})
        return result
