"""Experiment configuration as plain data: frozen dataclasses read from TOML, nothing else.

An experiment file (``experiments/<name>.toml``) holds everything that affects scores
or latency. Unknown keys are errors naming the key, so a typo never silently falls back
to a default. This module imports no plug-in: the tables that belong to one (a first
stage's ``options`` and ``bm25``, a family's ``options``, the engine, the report options,
the collection type) stay plain dicts and strings here and are checked by
:func:`bench.experiment.plan` through the registries, before any long work.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .measures import parse_measures
from .options import check_type
from .store import safe_name, slug

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class FirstStageConfig:
    """The first stage: ``bm25`` over the corpus, the collection's given ``candidates``, or another registered one.

    ``options`` are the first stage's own (checked against its ``Options`` in ``plan``);
    ``bm25`` is the same table under its older name (BM25's parameters, merged into its
    options); ``index_workers`` only how fast a BM25 index is built (0: ``$BENCH_INDEX_WORKERS``
    or the CPUs). Several first stages (``[[first_stages]]``, issue 21) add ``name`` (the
    system name; default: the stage's own), ``model`` (a bi-encoder for ``kind = "dense"``)
    and ``inputs`` (the earlier first stages a ``fusion`` stage reads).
    """

    kind: str = "auto"
    depth: int = 1000
    bm25: dict[str, Any] = field(default_factory=dict)
    candidates_file: str | None = None
    index_workers: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    model: str | None = None
    inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.depth <= 0:
            raise ConfigError(f"first-stage depth must be positive, got {self.depth}")
        if self.index_workers < 0:
            raise ConfigError(f"index_workers must be 0 (automatic) or more, got {self.index_workers}")
        if self.name is not None:
            safe_name(self.name, "first-stage name")
        if not all(isinstance(i, str) and i for i in self.inputs):
            raise ConfigError(f"first-stage inputs must be stage names, e.g. inputs = [\"bm25\", \"dense\"]; got {list(self.inputs)!r}")


@dataclass(frozen=True)
class RerankerConfig:
    """One reranker: a model, its family (``kind``, ``auto``: recognised from the folder) and how it is run.

    ``options`` are the family's own (checked against its options dataclass); ``input`` names
    the earlier stage whose run it reranks (default: the first stage).
    """

    model: str
    name: str | None = None
    kind: str = "auto"
    revision: str | None = None
    top_k: int = 100
    batch_size: int = 32
    max_length: int = 512
    dtype: str = "auto"
    device: str = "auto"
    input: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    queries_per_batch: int | None = None  # queries an engine hands the ranker at once (None: the family's default); not in the hash
    passages: str | None = None  # long documents: "first" (FirstP) or "max" (MaxP) over word windows; None: the whole text
    window: int = 150  # words per window (MaxP papers: 150 with stride 75)
    stride: int = 75
    initial_orders: tuple[str, ...] = ("input",)  # one stage per order: input, reversed, shuffle:SEED (bench.orders)

    def __post_init__(self) -> None:
        from .orders import check

        object.__setattr__(self, "initial_orders", tuple(check(o) for o in (self.initial_orders or ("input",))))
        if len(set(self.initial_orders)) != len(self.initial_orders):
            raise ConfigError(f"--initial-order lists an order twice: {', '.join(self.initial_orders)}")
        if self.passages not in (None, "first", "max"):
            raise ConfigError(f"--passages must be first or max, got {self.passages!r}")
        if self.window <= 0 or self.stride <= 0:
            raise ConfigError(f"--window and --stride must be positive words, got {self.window} and {self.stride}")
        if not self.model:
            raise ConfigError("a reranker needs a model (a Hugging Face id or a local folder)")
        if self.top_k <= 0:
            raise ConfigError(f"--top-k must be positive, got {self.top_k}")
        if self.batch_size <= 0:
            raise ConfigError(f"batch_size must be positive, got {self.batch_size}")
        if self.queries_per_batch is not None and self.queries_per_batch <= 0:
            raise ConfigError(f"queries_per_batch must be positive, got {self.queries_per_batch}")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be at least 8 tokens, got {self.max_length}")
        if self.name is not None:
            safe_name(self.name, "reranker name")


@dataclass(frozen=True)
class ExecutionConfig:
    """Where engine-run stages (rankers) run: ``workers`` replicas of each model, each with its own CPUs and GPUs.

    None of this is part of a run's hash: a run started on one worker can be finished on
    eight. ``engine = "auto"`` (the default) is the in-process ``local`` engine for one worker
    and ``ray`` for more (or when a Ray address is given), so the default never imports Ray.
    ``gpus_per_worker`` ``None`` means 1 on CUDA and 0 otherwise (fractions share a GPU);
    ``cpus_per_worker`` is also each worker's torch thread count, ``None``: 1 on a GPU and,
    on the CPU, the threads one process uses (CPU scores depend on the thread count, so this
    default keeps the bytes of the one-process run); ``address`` joins an existing Ray
    cluster (else ``$RAY_ADDRESS``, else a local instance started for the run); ``options``
    are the engine's own. The engine's name is checked against the registry in ``plan``. The
    ``*_timeout_s`` and ``download_stall_s`` deadlines are :mod:`bench.waits`' (None: its
    ``$BENCH_*`` variable, else its default).
    """

    engine: str = "auto"
    workers: int = 1
    gpus_per_worker: float | None = None
    cpus_per_worker: int | None = None
    address: str | None = None
    connect_timeout_s: float | None = None  # deadlines (bench.waits): None is $BENCH_*_TIMEOUT_S, else the default
    load_timeout_s: float | None = None
    lock_timeout_s: float | None = None
    download_stall_s: float | None = None
    batch_timeout_s: float | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("connect_timeout_s", "load_timeout_s", "lock_timeout_s", "download_stall_s", "batch_timeout_s"):
            value = getattr(self, key)
            if value is not None and not value > 0:
                raise ConfigError(f"{key} must be a positive number of seconds, got {value!r}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be 1 or more, got {self.workers}")
        if self.cpus_per_worker is not None and self.cpus_per_worker < 1:
            raise ConfigError(f"cpus_per_worker must be 1 or more, got {self.cpus_per_worker}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise ConfigError(f"gpus_per_worker must be 0 or more, got {self.gpus_per_worker}")
        if self.engine == "local" and (self.workers > 1 or self.address):
            raise ConfigError(f"engine 'local' runs one worker in this process; use engine = \"ray\" for {self.workers} workers or a Ray address")

    def deadlines(self) -> dict[str, float | None]:
        """The deadlines by :mod:`bench.waits`' names (None: not set here)."""
        return {"connect": self.connect_timeout_s, "load": self.load_timeout_s, "lock": self.lock_timeout_s,
                "download_stall": self.download_stall_s, "batch": self.batch_timeout_s}

    def engine_name(self) -> str:
        """The engine that runs the rankers: ``auto`` is ``ray`` for several workers or an address, else ``local``."""
        if self.engine != "auto":
            return self.engine
        return "ray" if self.workers > 1 or self.address else "local"


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: collection, first stage, rerankers, measures."""

    collection: str
    name: str | None = None
    data_dir: str | None = None
    collection_type: str | None = None  # dl, msmarco, beir, robust04: the official measures and rules of a local folder
    first_stage: FirstStageConfig = field(default_factory=FirstStageConfig)
    first_stages: tuple[FirstStageConfig, ...] = ()  # more first stages after [first_stage], in order ([[first_stages]])
    rerankers: tuple[RerankerConfig, ...] = ()
    measures: tuple[str, ...] | None = None
    limit_queries: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)  # how rerankers run (not in any run's hash)
    report: dict[str, Any] = field(default_factory=dict)  # report options (bench.report.options.ReportOptions), checked in plan

    def __post_init__(self) -> None:
        if self.measures is not None:
            parse_measures(list(self.measures))
        if self.limit_queries is not None and self.limit_queries <= 0:
            raise ConfigError(f"--limit-queries must be positive, got {self.limit_queries}")
        if self.name is not None:
            safe_name(self.name, "experiment name")  # checked before any work, not when the results are written

    @property
    def experiment_name(self) -> str:
        """``name``, else the collection: a local folder by its folder name, an id with ``/`` as ``__``."""
        if self.name:
            return self.name
        if os.path.isfile(os.path.join(self.collection, "queries.tsv")):
            return slug(Path(self.collection).resolve().name, "collection")
        return self.collection.replace("/", "__")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)


def to_dict(obj: Any) -> Any:
    """Dataclasses to plain JSON-able values (tuples become lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(known)}")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "first_stage":
            value = _build(FirstStageConfig, value, f"{where}.first_stage")
        elif key == "execution":
            value = _build(ExecutionConfig, value, f"{where}.execution")
        elif key == "rerankers":
            if not isinstance(value, list):
                raise ConfigError(f"{where}.rerankers: expected a list of tables ([[rerankers]])")
            value = tuple(_build(RerankerConfig, v, f"{where}.rerankers[{i}]") for i, v in enumerate(value))
        elif key == "first_stages":  # several first stages (dense, fusion ...) after [first_stage]
            if not isinstance(value, list):
                raise ConfigError(f"{where}.first_stages: expected a list of tables ([[first_stages]])")
            value = tuple(_build(FirstStageConfig, v, f"{where}.first_stages[{i}]") for i, v in enumerate(value))
        elif key in ("measures", "inputs") and value is not None:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}.{key}: expected a list")
            value = tuple(value)
        if key in ("options", "bm25", "report"):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key}: expected a table ([...{key}])")
            value = dict(value)
        check_type(known[key].type, value, f"{where}.{key}")
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def from_dict(data: dict[str, Any], where: str = "experiment") -> ExperimentConfig:
    """Build and validate an experiment from a plain dict (TOML or a results record)."""
    if "collection" not in data:
        raise ConfigError(f"{where}: missing required key 'collection'")
    return _build(ExperimentConfig, data, where)  # type: ignore[no-any-return]


def experiments_dir() -> Path:
    """Where named experiments live: ``$BENCH_EXPERIMENTS_DIR`` or ``./experiments``."""
    return Path(os.environ.get("BENCH_EXPERIMENTS_DIR", "experiments"))


def find_experiment(target: str) -> Path | None:
    """``experiments/x.toml``, a path to a .toml file, or a bare name found in the experiments folder."""
    if target.endswith(".toml"):
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"experiment file {target} not found")
        return path
    candidate = experiments_dir() / f"{target}.toml"
    return candidate if "/" not in target and candidate.is_file() else None


def load_toml(path: Path) -> ExperimentConfig:
    """Read and validate an experiment file.

    A relative ``data_dir`` stays as written (so a results record reproduces on another
    checkout); :func:`resolve_data_dir` takes it relative to the experiment file's folder.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    data.setdefault("name", slug(path.stem, "experiment"))
    return from_dict(data, where=str(path))


def resolve_data_dir(data_dir: str | None, base_dir: str | os.PathLike[str] | None) -> str | None:
    """A relative ``data_dir`` from an experiment file is relative to that file's folder."""
    if not data_dir or os.path.isabs(data_dir) or base_dir is None:
        return data_dir
    return os.path.normpath(os.path.join(base_dir, data_dir))


def override(config: ExperimentConfig, changes: dict[str, Any], reranker_changes: dict[str, Any]) -> ExperimentConfig:
    """Apply command-line overrides, logging each one that changes the file's value."""
    for key, value in changes.items():
        if getattr(config, key) != value:
            log.info("command line overrides %s: %r -> %r", key, getattr(config, key), value)
    config = dataclasses.replace(config, **changes)
    if reranker_changes:
        updated = []
        for reranker in config.rerankers:
            for key, value in reranker_changes.items():
                if getattr(reranker, key) != value:
                    log.info("command line overrides rerankers.%s (%s): %r -> %r", key, reranker.model, getattr(reranker, key), value)
            updated.append(dataclasses.replace(reranker, **reranker_changes))
        config = dataclasses.replace(config, rerankers=tuple(updated))
    return config
