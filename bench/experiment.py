"""Running an experiment: collection -> stages in order -> metrics -> results record.

Orchestration only. :func:`plan` turns the config into stages (the first stage, then each
reranker reading the stage named by its ``input``, default the first stage), checking every
model, family option and input name before any long work starts. Each stage then goes
through :func:`bench.stages.cached_stage` (hash -> lock -> reuse | compute -> atomic write),
and :mod:`bench.results` evaluates the runs and writes the record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import collection as collection_mod
from . import results, startup
from .config import ExperimentConfig, RerankerConfig
from .errors import ConfigError
from .measures import parse_measures
from .stages import Job, Stage, StageOutput, cached_stage
from .trec import qid_order

log = logging.getLogger(__name__)


@dataclass
class Paths:
    """Where runs and reports go (``--output DIR`` puts both under DIR)."""

    runs: Path
    reports: Path

    @classmethod
    def for_output(cls, output: str | Path | None) -> Paths:
        if output is None:
            return cls(Path("runs"), Path("reports"))
        return cls(Path(output) / "runs", Path(output) / "reports")


@dataclass
class Planned:
    """A stage and the name of the stage it reads (None for the first stage)."""

    stage: Stage
    input: str | None


def _query_ids(config: ExperimentConfig, collection: collection_mod.Collection) -> list[str]:
    qids = [q for q in qid_order(collection.qrels) if q in collection.queries]
    unjudged = len(collection.queries) - len(qids)
    if unjudged:
        log.info("%d queries have no judgments and are skipped", unjudged)
    if config.limit_queries:
        qids = qids[: config.limit_queries]
    return qids


def _settings(reranker: RerankerConfig, config: ExperimentConfig) -> Any:
    from .rerankers import ModelSettings
    from .rerankers.device import resolve_device, resolve_dtype

    device = resolve_device(reranker.device)
    return ModelSettings(
        device=device,
        dtype=resolve_dtype(reranker.dtype, device),
        batch_size=reranker.batch_size,
        max_length=reranker.max_length,
        trust_remote_code=config.trust_remote_code,
        allow_pickle=config.allow_pickle,
    )


def _stage_name(name: str) -> str:
    return name.lower().replace("/", "-")


def _explicit_names(config: ExperimentConfig, first: str) -> set[str]:
    """The names given with ``name = ...``: each must be unique (an ``input`` must mean one stage); names derived from models avoid them."""
    owner: dict[str, str] = {_stage_name(first): "the first stage"}
    for i, cfg in enumerate(config.rerankers):
        if not cfg.name:
            continue
        name, where = _stage_name(cfg.name), f"rerankers[{i}] (model {cfg.model})"
        if name in owner:
            raise ConfigError(f"{owner[name]} and {where} are both named {name!r}; give each a unique name")
        owner[name] = where
    return set(owner)


def _unique_name(wanted: str, seen: set[str]) -> str:
    """A name derived from a model id: ``-2``, ``-3`` ... appended while it is taken."""
    name, n = wanted, 2
    while name in seen:
        name, n = f"{wanted}-{n}", n + 1
    seen.add(name)
    return name


def reranker_stage(cfg: RerankerConfig, config: ExperimentConfig, collection: Any, located: Any, name: str, where: str) -> Stage:
    """A reranker's stage: family chosen, options checked, settings resolved (one-line errors for each)."""
    from .options import build_options
    from .rerankers import family
    from .rerankers.passages import Passages
    from .rerankers.stage import RerankStage

    cls = family(cfg.kind, located)
    options = build_options(cls.Options, cfg.options, f"{where}.options ({cls.kind})")
    corpus = collection.docs.fingerprint() if collection.docs is not None else None
    passages = Passages(cfg.passages, cfg.window, cfg.stride) if cfg.passages else None
    execution = config.execution  # how the stage runs: not part of its key
    return RerankStage(name, located, cls.kind, options, _settings(cfg, config), cfg.top_k, corpus, execution.engine_name(), execution,
                       passages=passages)


def plan(config: ExperimentConfig, collection: Any) -> list[Planned]:
    """Every stage in order, each reranker after the stage it reads; all checked before anything runs."""
    from . import first_stage
    from .rerankers import locate

    if config.rerankers and collection.docs is None:
        raise ConfigError(f"collection {collection.name!r} has no document text; rerankers need a corpus")
    if config.rerankers:  # e.g. Ray installed when --workers asks for it, before any long work
        from .engines import ENGINES

        check = getattr(ENGINES.get(config.execution.engine_name()), "check", None)
        if check is not None:
            check(config.execution)
    first = first_stage.create(config, collection)
    planned = [Planned(first, None)]
    seen = _explicit_names(config, first.name)
    for i, cfg in enumerate(config.rerankers):
        where = f"rerankers[{i}] ({cfg.model})"
        located = locate(cfg.model, cfg.revision)
        name = _stage_name(cfg.name) if cfg.name else _unique_name(_stage_name(located.default_name()), seen)
        source = cfg.input or first.name
        earlier = [p.stage.name for p in planned]
        if source not in earlier:
            raise ConfigError(f"{where}: input {source!r} is not an earlier stage; use one of {', '.join(earlier)}")
        planned.append(Planned(reranker_stage(cfg, config, collection, located, name, where), source))
    return planned


@dataclass
class Outcome:
    """What ``run`` gives back: the record and where it was written."""

    record: dict[str, Any]
    path: Path
    outputs: list[StageOutput]


def run(
    config: ExperimentConfig,
    output: str | Path | None = None,
    force: bool = False,
    experiment_file: str | Path | None = None,
) -> Outcome:
    """Run an experiment end to end and write its results record.

    ``experiment_file`` (when the config came from one) anchors a relative ``data_dir``
    and is recorded so ``bench reproduce`` finds the data again on another checkout.
    """
    from . import waits
    from .config import resolve_data_dir

    waits.configure(**config.execution.deadlines())  # every wait below (locks, downloads, Ray, model loads) uses them
    started = time.perf_counter()
    git = results.git_commit()  # the code that runs is the code checked out now, not after a long run
    paths = Paths.for_output(output)
    base_dir = Path(experiment_file).parent if experiment_file else None
    data_dir = resolve_data_dir(config.data_dir, base_dir)
    collection = collection_mod.load(config.collection, data_dir, config.first_stage.candidates_file, config.collection_type)
    measures = parse_measures(list(config.measures or collection.measures))
    qids = _query_ids(config, collection)
    log.info("collection %s: %d judged queries (%s)", collection.name, len(qids), collection.source)
    stages = plan(config, collection)  # every model found, every option checked, before the first stage's long work
    job = Job(collection, qids, paths.runs, force)
    outputs: dict[str, StageOutput] = {}
    for planned in stages:
        if planned.input is not None:
            startup.prewarm()  # evaluation's and the report's imports overlap the model's forward passes
        upstream = outputs[planned.input] if planned.input is not None else None
        outputs[planned.stage.name] = cached_stage(planned.stage, job, upstream)
    judged = {q: collection.qrels[q] for q in qids}
    record = results.build(config, collection, measures, list(outputs.values()), judged, paths.runs, time.perf_counter() - started, git)
    record["experiment_file"] = str(experiment_file) if experiment_file else None
    path = results.write(record, paths.reports, config.experiment_name)
    return Outcome(record, path, list(outputs.values()))
