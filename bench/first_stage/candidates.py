"""The collection's given candidates (a local ``run.*.trec`` or ir_datasets' scoreddocs) as the first stage."""

from __future__ import annotations

import functools
from typing import Any

from ..collection.unranked import set_size
from ..errors import ConfigError
from ..partial import PartialRun
from ..stages import Job, Stage, StageResult
from ..store import stable_hash
from ..trec import Run, ranked


class CandidatesStage(Stage):
    """The given run cut to ``depth`` per query; it costs nothing at query time, so it has no latency."""

    def __init__(self, collection: Any, depth: int):
        self.collection = collection
        self.depth = depth
        name = (collection.candidates_name or "candidates").removeprefix("run.").removesuffix(".trec")
        self.name = name or "candidates"

    @classmethod
    def unavailable(cls, collection: Any) -> str | None:
        if collection.candidates is None:
            return f"collection {collection.name!r} has no candidate run; use --first-stage bm25"
        return None

    @classmethod
    def from_config(cls, config: Any, collection: Any, options: Any = None) -> CandidatesStage:
        return cls(collection, config.first_stage.depth)

    @functools.cached_property
    def _content(self) -> str:
        given = self.collection.candidates
        return stable_hash({q: sorted(given.get(q, {}).items()) for q in sorted(given)}, 16)

    def key(self) -> dict[str, Any]:
        return {"kind": "candidates", "depth": self.depth, "candidates": self.collection.candidates_name, "content": self._content}

    def run(self, job: Job, input_run: Run | None, partial: PartialRun, engine: Any = None) -> StageResult:
        given = self.collection.candidates
        info: dict[str, Any] = {"kind": "candidates", "candidates": self.collection.candidates_name}
        if getattr(self.collection, "candidates_unranked", False):
            size = set_size(given, job.qids)
            if self.depth < size:  # cutting an unordered set keeps arbitrary documents
                raise ConfigError(
                    f"the candidates {self.collection.candidates_name} are unranked (every score is equal), so --depth {self.depth} "
                    f"would keep arbitrary documents; use --depth {size} or more, or --first-stage bm25"
                )
            info["unranked"] = True
        run = {q: dict(ranked(given.get(q, {}))[: self.depth]) for q in job.qids}
        return StageResult(run, None, info=info)
