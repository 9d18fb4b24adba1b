"""``bench.pyterrier.evaluate``: pipelines run as ``pt.Experiment`` runs them, with a bench results record written beside.

Each pipeline runs as a bench first stage (:class:`~bench.pyterrier.stage.PyTerrierStage`)
on bench's local engine: per-query latency with load and warm-up apart, its run written as a
TREC file, and, for a pipeline given by its factory (``"module:function"`` or ``{"factory":
..., "args": ...}``), bench's cache and resume. The runs are evaluated by bench's results
module under the collection's official measures and rules, and the DataFrame returned is
``pt.Experiment``'s own, computed from the same result frames, so every ``pt.Experiment``
option (``baseline``, ``perquery``, ``correction`` ...) keeps its meaning. The record keeps
what ``bench reproduce`` needs: each pipeline's factory, the query ids, and the topics or
qrels themselves when they are not the named collection's (:mod:`.record`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .factory import PipelineOptions

log = logging.getLogger(__name__)

TOLERANCE = 1e-6  # pt.Experiment's means and the record's agree to this unless a collection rule applies


@dataclasses.dataclass
class Pipeline:
    """One system to evaluate: its name and either the factory options bench can rebuild it from, or the object."""

    name: str
    options: PipelineOptions | None = None
    obj: Any = None

    def describe(self) -> dict[str, Any]:
        if self.options is None:
            return {"name": self.name, "factory": None, "object": repr(self.obj)}
        return {"name": self.name, "factory": self.options.factory, "args": dict(self.options.args), "revision": self.options.revision}


def pipelines_from(given: Any, names: list[str] | None) -> list[Pipeline]:
    """Pipelines from a list or dict (as ``pt.Experiment`` takes them): objects, ``"module:function"``, or factory tables."""
    import pyterrier as pt

    from ..store import safe_name, slug
    from .factory import name_of

    items = list(given.items()) if isinstance(given, dict) else [(None, p) for p in given]
    if names is not None and len(names) != len(items):
        raise ConfigError(f"{len(names)} names for {len(items)} pipelines; give one name per pipeline")
    out = []
    for i, (key, spec) in enumerate(items):
        if isinstance(spec, str):
            spec = PipelineOptions(factory=spec)
        elif isinstance(spec, dict):
            spec = PipelineOptions(**spec)
        if isinstance(spec, PipelineOptions):
            default = name_of(spec.factory)
            pipeline = Pipeline(default, options=spec)
        elif isinstance(spec, pt.Transformer):
            default = slug(str(spec).lower(), f"pipeline-{i + 1}")[:60]
            pipeline = Pipeline(default, obj=spec)
        else:
            raise ConfigError(f"pipeline {i + 1} is a {type(spec).__name__}; give a pt.Transformer, \"module:function\" or "
                              "{'factory': ..., 'args': {...}}")
        wanted = names[i] if names is not None else key
        pipeline.name = safe_name(str(wanted), "pipeline name") if wanted is not None else default
        out.append(pipeline)
    seen = [p.name for p in out]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"two pipelines are named {next(n for n in seen if seen.count(n) > 1)!r}; pass names=[...] to tell them apart")
    return out


def measure_names(eval_metrics: Any, official: tuple[str, ...]) -> tuple[list[str], list[Any]]:
    """bench's measure names (ir_measures' spelling) and the measures for pt.Experiment.

    pt.Experiment reads a plain string as a trec_eval name, so bench's names go to it parsed
    by ir_measures; ``mrt`` (PyTerrier's mean response time) stays PyTerrier's alone.
    """
    import ir_measures

    from ..measures import parse_measures

    given = list(official) if eval_metrics is None else [eval_metrics] if isinstance(eval_metrics, str) else list(eval_metrics)
    names = [str(m) for m in given if str(m) != "mrt"]
    parse_measures(names)  # one line naming a measure bench cannot compute, before ir_measures' own error
    return names, [ir_measures.parse_measure(m) if isinstance(m, str) and m != "mrt" else m for m in given]


def evaluate(pipelines: Any, topics: Any = None, qrels: Any = None, eval_metrics: Any = None, names: list[str] | None = None, *,
             collection: Any = None, data_dir: str | os.PathLike[str] | None = None, collection_type: str | None = None,
             name: str | None = None, output: str | os.PathLike[str] | None = None, depth: int | None = None,
             queries_per_batch: int = 1, force: bool = False, report: bool = True, **experiment_kwargs: Any) -> Any:
    """Run ``pipelines`` over the judged ``topics`` like ``pt.Experiment``; write a bench record; return pt.Experiment's DataFrame.

    ``collection`` (a name, a local folder, or :func:`bench.pyterrier.dataset`) gives the
    official measures and rules, and the topics and qrels when they are not passed. Without
    it the topics and qrels are written beside the record as a local collection, so the
    record can be reproduced. ``depth`` cuts each run (None: as returned); ``queries_per_batch``
    queries go through a pipeline per call (1 keeps per-query latency exact).
    Records go to ``OUTPUT/reports/NAME/results.json`` (runs to ``OUTPUT/runs``), as ``bench run --output``.
    """
    from .factory import require
    from .frames import from_run, qrels_frame, qrels_from, topics_frame, topics_from

    pt = require()
    queries = topics_from(topics) if topics is not None else None
    judgments = qrels_from(qrels) if qrels is not None else None
    made = run(pipelines, queries, judgments, eval_metrics, names, collection=collection, data_dir=data_dir, collection_type=collection_type,
               name=name, output=output, depth=depth, queries_per_batch=queries_per_batch, force=force)
    if report:
        from ..report import report_for_run

        report_for_run(made.path)
    queries, qids = made.queries, made.qids
    results = [from_run(o.run, queries, qids) for o in made.outputs]
    _, for_pt = measure_names(eval_metrics, made.official)
    frame = pt.Experiment(results, topics_frame(queries, qids), qrels_frame(made.qrels), for_pt,
                          names=[o.name for o in made.outputs], **experiment_kwargs)
    check_against_record(frame, made.record)
    if hasattr(frame, "attrs"):
        frame.attrs["bench_record"] = str(made.path)
    log.info("bench record: %s", made.path)
    return frame


@dataclasses.dataclass
class Made:
    """What :func:`run` made: the record, where it is, each pipeline's stage output, the queries and qrels evaluated."""

    record: dict[str, Any]
    path: Path
    outputs: list[Any]
    queries: dict[str, str]
    qids: list[str]
    qrels: dict[str, dict[str, int]]
    official: tuple[str, ...]


def run(pipelines: Any, queries: dict[str, str] | None, qrels: dict[str, dict[str, int]] | None, eval_metrics: Any, names: list[str] | None,
        *, collection: Any, data_dir: Any, collection_type: str | None, name: str | None, output: Any, depth: int | None,
        queries_per_batch: int, force: bool, qids: list[str] | None = None) -> Made:
    """Run each pipeline as a cached first stage and write the record (what :func:`evaluate` and ``bench reproduce`` share).

    ``queries`` and ``qrels`` (None: the collection's) are plain dicts; ``qids`` keeps only those queries.
    """
    from .. import results
    from ..engines import ENGINES
    from ..experiment import Paths
    from ..measures import parse_measures
    from ..stages import Job, cached_stage
    from . import record as record_mod
    from .stage import PyTerrierStage

    started = time.perf_counter()
    git = results.git_commit()
    if depth is not None and depth <= 0:
        raise ConfigError(f"depth must be positive (or None: each run as the pipeline returns it), got {depth}")
    if queries_per_batch <= 0:
        raise ConfigError(f"queries_per_batch must be positive, got {queries_per_batch}")
    systems = pipelines_from(pipelines, names)
    if eval_metrics is not None:
        measure_names(eval_metrics, ())  # an unknown measure is refused before anything is written
    paths = Paths.for_output(output)
    source = record_mod.resolve_collection(collection, data_dir, collection_type, queries, qrels, name, paths.reports, qids)
    experiment = source.experiment
    from ..evaluate import family_of

    family = family_of(source.collection)  # its official measures and rules; the record names it
    source.collection.family = family.name
    bench_names, _ = measure_names(eval_metrics, family.measures)
    measures = parse_measures(bench_names)
    job = Job(dataclasses.replace(source.collection, queries=source.queries), source.qids, paths.runs, force)
    outputs = []
    for system in systems:
        stage = PyTerrierStage(system.options, depth, system.name, system.obj)
        stage.queries_per_batch = queries_per_batch
        stage_job = job if stage.reusable else dataclasses.replace(job, force=True)  # an object has no key to trust a cached run by
        outputs.append(cached_stage(stage, stage_job, None, ENGINES.get("local")))
    judged = {q: source.qrels[q] for q in source.qids}
    config = record_mod.config_for(source, experiment, bench_names, depth)
    record = results.build(config, source.collection, measures, outputs, judged, paths.runs, time.perf_counter() - started, git)
    record["experiment_file"] = None
    record["pyterrier"] = record_mod.section(source, systems, depth, queries_per_batch)
    path = results.write(record, paths.reports, experiment)
    return Made(record, path, outputs, source.queries, source.qids, judged, tuple(family.measures))


def check_against_record(frame: Any, record: dict[str, Any]) -> None:
    """Warn when a mean pt.Experiment computed differs from bench's (a collection's official rule, which pt.Experiment does not apply)."""
    from ..results import NOTES

    if not hasattr(frame, "columns") or "name" not in frame.columns:
        return
    rules = "; ".join(n for n in record.get("notes", []) if n not in NOTES) or "none noted"
    systems = {s["name"]: s["metrics"] for s in record["systems"]}
    for _, row in frame.iterrows():
        ours = systems.get(str(row["name"])) or {}
        for measure, value in ours.items():
            theirs = row.get(measure)
            if value is None or theirs is None or isinstance(theirs, str):
                continue
            if abs(float(theirs) - float(value)) > TOLERANCE:
                log.warning("%s %s: pt.Experiment %.6f, bench's record %.6f (bench's rules: %s)", row["name"], measure, float(theirs),
                            float(value), rules)
