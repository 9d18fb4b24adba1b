"""Running an experiment: collection -> stages in order -> metrics -> results record.

Orchestration only. :func:`plan` turns the config (plain data) into stages (the first stages,
then each ranker reading the stage named by its ``input``, default the first stage), checking
every model, every plug-in's options through its registry, the engine and each input name
before any long work starts. It also picks the engine each stage runs on (stages never import
engines). Each stage then goes through :func:`bench.stages.cached_stage` (hash -> lock ->
reuse | compute -> atomic write), and :mod:`bench.results` evaluates the runs and writes the
record.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import collection as collection_mod
from . import orders, results
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
    """A stage, the name of the stage it reads (None for a first stage) and the engine that runs it.

    ``inputs``: the stages a fusion first stage reads (several; ``input`` stays None).
    """

    stage: Stage
    input: str | None
    engine: str = "local"
    inputs: tuple[str, ...] = ()


def _query_ids(config: ExperimentConfig, collection: collection_mod.Collection) -> list[str]:
    qids = [q for q in qid_order(collection.qrels) if q in collection.queries]
    unjudged = len(collection.queries) - len(qids)
    if unjudged:
        log.info("%d queries have no judgments and are skipped", unjudged)
    if config.limit_queries:
        qids = qids[: config.limit_queries]
    return qids


def _settings(reranker: RerankerConfig, config: ExperimentConfig) -> Any:
    from .device import resolve_device, resolve_dtype
    from .rerankers import ModelSettings

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


def _explicit_names(config: ExperimentConfig, firsts: list[str]) -> set[str]:
    """The names given with ``name = ...``: each must be unique (an ``input`` must mean one stage); names derived from models avoid them."""
    owner: dict[str, str] = {_stage_name(name): "the first stage" if i == 0 else f"first stage {name!r}" for i, name in enumerate(firsts)}
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


def reranker_stage(cfg: RerankerConfig, config: ExperimentConfig, collection: Any, name: str, where: str, order: str = "input") -> Stage:
    """A ranker's stage: family chosen, options checked, model located when its source is a folder, settings resolved."""
    from .options import build_options
    from .ranking import FOLDER
    from .rerankers import FAMILIES, family, locate
    from .rerankers.base import Reranker
    from .rerankers.passages import Passages
    from .rerankers.stage import RerankStage

    if cfg.kind == "auto" and (cfg.options or {}).get("backend") == "openai":
        raise ConfigError(f"{where}: a served model has no folder to recognise its family from; set --kind (causal-lm, listwise, ...)")
    if cfg.kind == "auto":
        located = locate(cfg.model, cfg.revision)
        cls: Any = family(cfg.kind, located)
    else:
        cls = FAMILIES.get(cfg.kind)
        located = None
    options = _served(build_options(cls.Options, cfg.options, f"{where}.options ({cls.kind})"), cfg, config, f"{where}.options ({cls.kind})")
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


def _served(options: Any, cfg: RerankerConfig, config: ExperimentConfig, where: str) -> Any:
    """Backend options completed and checked: the served model id defaults to --model, its revision to the reranker's."""
    import dataclasses

    from .backends.options import BackendOptions, backend_of, check

    if not isinstance(options, BackendOptions):
        return options
    changes: dict[str, Any] = {}
    if backend_of(options) == "openai":
        if not options.model:
            changes["model"] = cfg.model
        if not options.revision and cfg.revision:
            changes["revision"] = cfg.revision
    options = dataclasses.replace(options, **changes) if changes else options
    check(options, where)
    return options


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
    firsts = first_stage.create_all(config, collection)  # [first_stage], then [[first_stages]] (dense, fusion ...)
    encodes = [s for s in firsts if hasattr(s, "encode_engine")]
    engine = _engine(config) if config.rerankers or encodes else "local"
    for stage in encodes:  # a dense stage encodes its corpus on the configured engine; its per-query search runs here
        from .engines import ENGINES

        stage.encode_engine, stage.execution = ENGINES.get(engine), config.execution
    first = firsts[0]  # the rerankers' default input and the report's baseline
    planned = [Planned(s, None, inputs=tuple(getattr(s, "inputs", ()))) for s in firsts]
    seen = _explicit_names(config, [s.name for s in firsts])
    for i, cfg in enumerate(config.rerankers):
        where = f"rerankers[{i}] ({cfg.model})"
        base = None
        for order in cfg.initial_orders:  # one stage per initial order (bench.orders), named <system>+<order>
            stage = reranker_stage(cfg, config, collection, "", where, order)
            located = getattr(stage, "located", None)
            default = located.default_name() if located is not None else slug_name(cfg.model)
            base = base or (_stage_name(cfg.name) if cfg.name else _unique_name(_stage_name(default), seen))
            stage.name = base if orders.suffix(order) == "" else _unique_name(base + orders.suffix(order), seen)
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


PREWARM_MODULES = ("scipy.stats", "matplotlib.figure", "matplotlib.backends.backend_agg")
_prewarmed: threading.Thread | None = None


def prewarm() -> threading.Thread | None:
    """Import evaluation's and the report's modules in a daemon thread (once per process), while a model runs.

    After the first stage, evaluation (numba, ranx's metric functions, numba's typed lists) and
    the report (scipy.stats, matplotlib's Agg canvas) spend about two seconds importing before
    any work; the model's forward passes release the GIL, so the imports overlap them. Nothing
    is computed there, and a failure is logged and ignored: the main thread then imports as it
    would have. ``BENCH_FAST_START=0`` turns it off.
    """
    global _prewarmed
    from .lazy_import import enabled

    if not enabled():
        return None
    if _prewarmed is None:
        _prewarmed = threading.Thread(target=_prewarm_work, name="bench-prewarm", daemon=True)
        _prewarmed.start()
    return _prewarmed


def _prewarm_work() -> None:
    import importlib

    try:
        from .evaluate import warm_up

        warm_up()
        for name in PREWARM_MODULES:
            importlib.import_module(name)
    except Exception as exc:  # an optional speed-up: never an error
        log.debug("prewarm stopped: %s", exc)


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
    from .evaluate import family_of

    family = family_of(collection)  # an unknown --collection-type is refused here, before any work
    collection.family = family.name
    measures = parse_measures(list(config.measures or family.measures))
    qids = _query_ids(config, collection)
    log.info("collection %s: %d judged queries (%s)", collection.name, len(qids), collection.source)
    stages = plan(config, collection)  # every model found, every option checked, before the first stage's long work
    job = Job(collection, qids, paths.runs, force)
    outputs: dict[str, StageOutput] = {}
    from .engines import ENGINES

    for planned in stages:
        if planned.input is not None:
            prewarm()  # evaluation's and the report's imports overlap the model's forward passes
        upstream: Any = outputs[planned.input] if planned.input is not None else None
        if planned.inputs:  # a fusion stage reads several earlier stages
            upstream = [outputs[name] for name in planned.inputs]
        outputs[planned.stage.name] = cached_stage(planned.stage, job, upstream, ENGINES.get(planned.engine))
    judged = {q: collection.qrels[q] for q in qids}
    record = results.build(config, collection, measures, list(outputs.values()), judged, paths.runs, time.perf_counter() - started, git)
    record["experiment_file"] = str(experiment_file) if experiment_file else None
    path = results.write(record, paths.reports, config.experiment_name)
    return Outcome(record, path, list(outputs.values()))
