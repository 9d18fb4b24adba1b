"""Running an experiment: collection -> stages in order -> metrics -> results record.

Orchestration only. :func:`plan` turns the config (plain data) into stages (the first stage,
then each ranker reading the stage named by its ``input``, default the first stage), checking
every model, every plug-in's options through its registry, the engine and each input name
before any long work starts. It also picks the engine each stage runs on (stages never import
engines). Each stage then goes through :func:`bench.stages.cached_stage` (hash -> lock ->
reuse | compute -> atomic write), and :mod:`bench.results` evaluates the runs and writes the
record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import collection as collection_mod
from . import orders, results, startup
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
    """A stage, the name of the stage it reads (None for the first stage) and the engine that runs it."""

    stage: Stage
    input: str | None
    engine: str = "local"


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


def _unique_name(wanted: str, seen: set[str]) -> str:
    name, n = wanted, 2
    while name in seen:
        name, n = f"{wanted}-{n}", n + 1
    seen.add(name)
    return name


def reranker_stage(cfg: RerankerConfig, config: ExperimentConfig, collection: Any, name: str, where: str, order: str = "input") -> Stage:
    """A ranker's stage: family chosen, options checked, model located when its source is a folder, settings resolved."""
    from .options import build_options
    from .ranking import FOLDER
    from .rerankers import FAMILIES, family, locate
    from .rerankers.base import Reranker
    from .rerankers.passages import Passages
    from .rerankers.stage import RerankStage

    if cfg.kind == "auto":
        located = locate(cfg.model, cfg.revision)
        cls: Any = family(cfg.kind, located)
    else:
        cls = FAMILIES.get(cfg.kind)
        located = None
    options = build_options(cls.Options, cfg.options, f"{where}.options ({cls.kind})")
    if cls.source(options) == FOLDER and located is None:
        located = locate(cfg.model, cfg.revision)
    options = cls.resolve(options, located)
    if cfg.passages and not issubclass(cls, Reranker):
        raise ConfigError(f"{where}: --passages (FirstP/MaxP) scores windows one by one, which only pointwise families do; drop it for {cls.kind}")
    corpus = collection.docs.fingerprint() if collection.docs is not None else None
    passages = Passages(cfg.passages, cfg.window, cfg.stride) if cfg.passages else None
    stage = RerankStage(name, located, cls, options, _settings(cfg, config), cfg.top_k, corpus, passages, cfg.queries_per_batch, order)
    if located is None:
        stage.model = cfg.model
    return stage


def _engine(config: ExperimentConfig) -> str:
    """The engine that runs the rankers, checked (Ray installed when --workers asks for it) before any long work."""
    from .engines import ENGINES
    from .options import build_options

    name = config.execution.engine_name()
    if name not in ENGINES:
        raise ConfigError(f"unknown execution engine {name!r}; use auto, {', '.join(ENGINES.names())}")
    engine = ENGINES.get(name)
    build_options(getattr(engine, "Options", None) or _no_options(), config.execution.options, f"execution.options ({name})")
    check = getattr(engine, "check", None)
    if check is not None:
        check(config.execution)
    return name


def _no_options() -> type:
    from .options import NoOptions

    return NoOptions


def plan(config: ExperimentConfig, collection: Any) -> list[Planned]:
    """Every stage in order, each ranker after the stage it reads; all checked before anything runs."""
    from . import first_stage

    if config.report:
        from .report.options import report_options

        report_options(config.report)  # an unknown report option is refused now, not after the run
    if config.rerankers and collection.docs is None:
        raise ConfigError(f"collection {collection.name!r} has no document text; rerankers need a corpus")
    engine = _engine(config) if config.rerankers else "local"
    first = first_stage.create(config, collection)
    planned = [Planned(first, None)]
    seen = {first.name}
    for i, cfg in enumerate(config.rerankers):
        where = f"rerankers[{i}] ({cfg.model})"
        base = None
        for order in cfg.initial_orders:  # one stage per initial order (bench.orders), named <system>+<order>
            stage = reranker_stage(cfg, config, collection, "", where, order)
            located = getattr(stage, "located", None)
            default = located.default_name() if located is not None else slug_name(cfg.model)
            base = base or (cfg.name or default).lower().replace("/", "-")
            stage.name = _unique_name(base + orders.suffix(order), seen)
            if len(cfg.initial_orders) > 1:
                stage.order_of = base  # type: ignore[attr-defined]  # (a RerankStage)
            source = cfg.input or first.name
            earlier = [p.stage.name for p in planned]
            if source not in earlier:
                raise ConfigError(f"{where}: input {source!r} is not an earlier stage; use one of {', '.join(earlier)}")
            stage.engine, stage.execution = engine, config.execution  # how the stage runs: not part of its key
            planned.append(Planned(stage, source, engine))
    return planned


def slug_name(model: str) -> str:
    """A system name for a ranker without a model folder (a served model id, a rule): its last path part."""
    from .store import slug

    return slug(model.rstrip("/").split("/")[-1].lower(), "ranker")


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
    from .config import resolve_data_dir

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
    from .engines import ENGINES

    for planned in stages:
        if planned.input is not None:
            startup.prewarm()  # evaluation's and the report's imports overlap the model's forward passes
        upstream = outputs[planned.input] if planned.input is not None else None
        outputs[planned.stage.name] = cached_stage(planned.stage, job, upstream, ENGINES.get(planned.engine))
    judged = {q: collection.qrels[q] for q in qids}
    record = results.build(config, collection, measures, list(outputs.values()), judged, paths.runs, time.perf_counter() - started, git)
    record["experiment_file"] = str(experiment_file) if experiment_file else None
    path = results.write(record, paths.reports, config.experiment_name)
    return Outcome(record, path, list(outputs.values()))
