"""Fusion as a first stage: earlier first stages' runs fused by ranx's ``fuse`` (RRF, CombSUM, CombMNZ).

The stage reads several stages (``inputs = ["bm25", "dense"]``): the orchestration hands it
their runs (``{name: run}``) and hashes it with theirs, so a changed input refuses a stale
fusion. Normalisation and fusion are ranx's own (``ranx.fuse``); nothing is reimplemented
here. RRF ranks each input by score (ranx's order) and sums ``1 / (k + rank)``, so it needs
no normalisation (``norm = "auto"``: none); CombSUM and CombMNZ add scores on different
scales, so ``auto`` min-max normalises each input per query first. The fused run is cut to
the stage's ``depth``. Fusing takes milliseconds for a whole query set: its per-query time
is the fuse call's time shared equally by the queries (after a first, warm-up call in which
numba compiles ranx's kernels for the runs' types), and the cascade's cumulative latency
adds every input's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..partial import PartialRun
from ..stages import Job, Stage, StageResult
from ..trec import Run, ranked

METHODS = {"rrf": "rrf", "combsum": "sum", "combmnz": "mnz"}  # our name -> ranx's
NORMS = ("auto", "none", "min-max", "max", "sum", "zmuv", "rank", "borda")


@dataclass(frozen=True)
class FusionOptions:
    """``method``: rrf (``k``, default 60 as Cormack et al.), combsum or combmnz; ``norm``: ranx's normalisation (auto: see module)."""

    method: str = "rrf"
    k: int = 60
    norm: str = "auto"

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"fusion method {self.method!r} is not known; use one of {', '.join(METHODS)}")
        if self.norm not in NORMS:
            raise ConfigError(f"fusion norm {self.norm!r} is not known; use one of {', '.join(NORMS)}")
        if self.k < 0:
            raise ConfigError(f"fusion k must be 0 or more, got {self.k}")

    def ranx_norm(self) -> str | None:
        """The ``norm`` argument of ``ranx.fuse``."""
        if self.norm == "auto":
            return None if self.method == "rrf" else "min-max"
        return None if self.norm == "none" else self.norm

    def ranx_params(self) -> dict[str, Any]:
        return {"k": self.k} if self.method == "rrf" else {}


def fuse(runs: dict[str, Run], qids: list[str], options: FusionOptions) -> Run:
    """``ranx.fuse`` over the given runs for ``qids`` (ranx needs the same queries in every run)."""
    from ranx import Run as RanxRun
    from ranx import fuse as ranx_fuse

    inputs = [RanxRun({q: dict(run.get(q, {})) for q in qids}, name=name) for name, run in runs.items()]
    fused = ranx_fuse(inputs, norm=options.ranx_norm(), method=METHODS[options.method], params=options.ranx_params())
    out = fused.to_dict()
    return {q: {d: float(s) for d, s in out.get(q, {}).items()} for q in qids}


class FusionStage(Stage):
    """The fusion of earlier first stages, ``depth`` documents per query."""

    Options = FusionOptions

    def __init__(self, inputs: tuple[str, ...], options: FusionOptions, depth: int):
        if len(inputs) < 2:
            raise ConfigError(f"a fusion stage reads two or more earlier first stages, e.g. inputs = [\"bm25\", \"dense\"]; got {list(inputs)}")
        self.inputs = tuple(inputs)
        self.options = options
        self.depth = depth
        self.name = "fusion"

    @classmethod
    def unavailable(cls, collection: Any) -> str | None:
        return None

    @classmethod
    def from_config(cls, config: Any, collection: Any, options: FusionOptions) -> FusionStage:
        return cls(config.first_stage.inputs, options, config.first_stage.depth)

    def key(self) -> dict[str, Any]:
        from importlib.metadata import version

        return {"kind": "fusion", "method": self.options.method, "params": self.options.ranx_params(), "norm": self.options.ranx_norm(),
                "depth": self.depth, "ranx": version("ranx")}

    def run(self, job: Job, input_run: Any, partial: PartialRun, engine: Any = None) -> StageResult:
        if not isinstance(input_run, dict) or set(input_run) != set(self.inputs):
            raise ConfigError(f"{self.name}: a fusion stage needs the runs of {', '.join(self.inputs)}")
        runs = {name: input_run[name] for name in self.inputs}
        started = time.perf_counter()
        fuse(runs, job.qids, self.options)  # warm-up: numba compiles ranx's kernels for these runs' types (doc id widths) here
        warmup_s = time.perf_counter() - started
        started = time.perf_counter()
        fused = fuse(runs, job.qids, self.options)
        run = {q: dict(ranked(fused[q])[: self.depth]) for q in job.qids}
        wall_s = time.perf_counter() - started
        ms = wall_s * 1000.0 / max(1, len(job.qids))
        info = {"kind": "fusion", "inputs": list(self.inputs), "method": self.options.method, "norm": self.options.ranx_norm(),
                "params": self.options.ranx_params()}
        return StageResult(run, {q: ms for q in job.qids}, 0.0, warmup_s, wall_s, info=info)
