"""Running an experiment: collection -> first stage -> rerankers -> metrics -> results record.

Each stage's run file is named by a hash of everything that produced it (upstream hash,
own settings, model fingerprint, resolved device and dtype). An existing complete run
with the same hash is reused; anything else is computed, so a changed setting never
reads a stale run. Finished runs are written atomically with a ``.meta.json`` beside
them that holds the stage's config and timings.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import collection as collections_mod
from .config import ExperimentConfig, RerankerConfig, to_dict
from .errors import ConfigError
from .latency import combine, summarize
from .measures import parse_measures
from .metrics import evaluate
from .results import SCHEMA_VERSION, git_commit, versions
from .store import file_lock, safe_name, stable_hash, write_json
from .trec import Run, qid_order, ranked, read_run, write_run

log = logging.getLogger(__name__)


@dataclass
class System:
    """One row of the results: a run and how it was made."""

    name: str
    model: str | None
    run: Run
    run_file: Path
    hash: str
    latency: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)
    cached: bool = False


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


def _meta_path(run_file: Path) -> Path:
    return run_file.with_name(run_file.stem + ".meta.json")


def _load_cached(run_file: Path, run_hash: str) -> dict[str, Any] | None:
    meta_file = _meta_path(run_file)
    if not (run_file.is_file() and meta_file.is_file()):
        return None
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return meta if meta.get("hash") == run_hash else None


def _save(run: Run, run_file: Path, meta: dict[str, Any]) -> None:
    write_run(run, run_file, tag=meta["system"])
    write_json(_meta_path(run_file), meta)


def _query_ids(config: ExperimentConfig, collection: collections_mod.Collection) -> list[str]:
    qids = [q for q in qid_order(collection.qrels) if q in collection.queries]
    unjudged = len(collection.queries) - len(qids)
    if unjudged:
        log.info("%d queries have no judgments and are skipped", unjudged)
    if config.limit_queries:
        qids = qids[: config.limit_queries]
    return qids


def _first_stage_kind(config: ExperimentConfig, collection: collections_mod.Collection) -> str:
    kind = config.first_stage.kind
    local = collection.source.startswith("local:")
    if kind == "auto":
        if collection.candidates is not None and (local or collection.docs is None):
            kind = "candidates"
        elif collection.docs is not None:
            kind = "bm25"
        else:
            raise ConfigError(f"collection {collection.name!r} has neither a corpus nor candidates; nothing to rank")
        log.info("first stage: %s (auto)", kind)
    if kind == "candidates" and collection.candidates is None:
        raise ConfigError(f"collection {collection.name!r} has no candidate run; use --first-stage bm25")
    if kind == "bm25" and collection.docs is None:
        raise ConfigError(f"collection {collection.name!r} has no corpus to index; use --first-stage candidates")
    return kind


def first_stage(
    config: ExperimentConfig, collection: collections_mod.Collection, qids: list[str], paths: Paths, force: bool
) -> System:
    """The BM25 run or the given candidates, cut to the configured depth."""
    kind = _first_stage_kind(config, collection)
    fs = config.first_stage
    queries = {q: collection.queries[q] for q in qids}
    if kind == "candidates":
        assert collection.candidates is not None
        name = (collection.candidates_name or "candidates").removeprefix("run.").removesuffix(".trec") or "candidates"
        source = stable_hash({q: sorted(collection.candidates.get(q, {}).items()) for q in qids}, 16)
        stage = {"kind": kind, "depth": fs.depth, "candidates": collection.candidates_name, "content": source}
    else:
        name = "bm25" if fs.bm25.backend == "bm25s" else "bm25-rank_bm25"
        assert collection.docs is not None
        stage = {"kind": kind, "depth": fs.depth, "bm25": to_dict(fs.bm25), "corpus": collection.docs.fingerprint()}
    run_hash = stable_hash({"stage": stage, "queries": queries})
    run_file = paths.runs / safe_name(collection.name, "collection name") / f"{safe_name(name)}-{run_hash}.trec"
    with file_lock(run_file):
        cached = None if force else _load_cached(run_file, run_hash)
        if cached:
            log.info("%s: reusing %s", name, run_file)
            return System(name, None, read_run(run_file), run_file, run_hash, cached["latency"], cached["info"], cached=True)
        latency_ms: dict[str, float] | None
        if kind == "candidates":
            assert collection.candidates is not None
            run = {q: dict(ranked(collection.candidates.get(q, {}))[: fs.depth]) for q in qids}
            latency_ms, info = None, {"kind": kind, "candidates": collection.candidates_name}
        else:
            run, latency_ms, info = _bm25(config, collection, queries)
        latency = {"first_stage": summarize(latency_ms) if latency_ms else None, "first_stage_ms": latency_ms}
        meta = {"system": safe_name(name), "hash": run_hash, "stage": stage, "latency": latency, "info": info}
        _save(run, run_file, meta)
    return System(name, None, run, run_file, run_hash, latency, info)


def _bm25(config: ExperimentConfig, collection: collections_mod.Collection, queries: dict[str, str]) -> tuple[Run, dict[str, float], dict[str, Any]]:
    from .first_stage import bm25
    from .progress import progress

    params = config.first_stage.bm25
    assert collection.docs is not None
    started = time.perf_counter()
    index: bm25.Bm25sIndex | bm25.RankBm25Index
    if params.backend == "bm25s":
        index = bm25.Bm25sIndex.cached(collection.docs, collection.docs.fingerprint(), params, show_progress=True, workers=bm25.index_workers())
    else:
        index = bm25.RankBm25Index(list(collection.docs), params)
    load_s = time.perf_counter() - started
    run, latency = bm25.retrieve(index, queries, config.first_stage.depth, lambda q: progress(q, len(queries), "bm25"))
    info = {"kind": "bm25", "params": to_dict(params), "index_load_s": load_s, "index": str(getattr(index, "path", None))}
    return run, latency, info


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


def rerank_stage(
    reranker_cfg: RerankerConfig,
    located: Any,
    name: str,
    config: ExperimentConfig,
    collection: collections_mod.Collection,
    upstream: System,
    qids: list[str],
    paths: Paths,
    force: bool,
) -> System:
    """Rerank the first stage's top-k with one model (or reuse the identical earlier run)."""
    from .rerank import partial_path, rerank
    from .rerankers import create, detect

    depth = max((len(upstream.run.get(q, {})) for q in qids), default=0)
    if reranker_cfg.top_k > depth:
        raise ConfigError(
            f"--top-k {reranker_cfg.top_k} is larger than the first stage's candidates (at most {depth} per query); "
            f"use --top-k {depth} or less"
        )
    settings = _settings(reranker_cfg, config)
    stage = {
        "upstream": upstream.hash,
        "corpus": collection.docs.fingerprint() if collection.docs is not None else None,  # the text the model reads
        "model": located.spec,
        "kind": detect(located),
        "revision": located.revision,
        "fingerprint": located.fingerprint(),
        "top_k": reranker_cfg.top_k,
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k not in ("trust_remote_code", "allow_pickle")},
    }
    stage["settings"]["device"] = settings.device.split(":")[0]
    run_hash = stable_hash(stage)
    run_file = paths.runs / safe_name(collection.name, "collection name") / f"{safe_name(name)}-{run_hash}.trec"
    with file_lock(run_file):
        cached = None if force else _load_cached(run_file, run_hash)
        if cached:
            log.info("%s: reusing %s", name, run_file)
            partial_path(run_file).unlink(missing_ok=True)  # left if a run was killed after saving, before cleaning up
            return System(name, located.spec, read_run(run_file), run_file, run_hash, cached["latency"], cached["info"], cached=True)
        if force:
            partial_path(run_file).unlink(missing_ok=True)
        reranker = create(located, settings)
        started = time.perf_counter()
        reranker.load()
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        reranker.warmup()
        warmup_s = time.perf_counter() - started
        log.info("%s: %s on %s (%s), loaded in %.1f s", name, reranker.kind, settings.device, settings.dtype, load_s)
        assert collection.docs is not None
        out = rerank(reranker, collection.queries, upstream.run, qids, reranker_cfg.top_k, collection.docs, run_file, run_hash, name)
        latency = {
            "rerank": summarize(out.latency_ms, out.pairs),
            "rerank_ms": out.latency_ms,
            "load_s": load_s,
            "warmup_s": warmup_s,
            "resumed_queries": out.resumed,
            "peak_gpu_memory_mb": _peak_memory(settings.device),
        }
        info = reranker.describe()
        meta = {"system": safe_name(name), "hash": run_hash, "stage": stage, "latency": latency, "info": info}
        _save(out.run, run_file, meta)
        partial_path(run_file).unlink(missing_ok=True)
    return System(name, located.spec, out.run, run_file, run_hash, latency, info)


def _peak_memory(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    import torch

    return float(torch.cuda.max_memory_allocated(device) / 2**20)


def _unique_names(config: ExperimentConfig, located: list[Any], first_name: str) -> list[str]:
    names, seen = [], {first_name}
    for reranker, model in zip(config.rerankers, located):
        base = (reranker.name or model.default_name()).lower().replace("/", "-")
        name, n = base, 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        names.append(name)
    return names


def run(
    config: ExperimentConfig,
    output: str | Path | None = None,
    force: bool = False,
    experiment_file: str | Path | None = None,
) -> dict[str, Any]:
    """Run an experiment end to end and write its results record; returns the record.

    ``experiment_file`` (when the config came from one) anchors a relative ``data_dir``
    and is recorded so ``bench reproduce`` finds the data again on another checkout.
    """
    from .config import resolve_data_dir

    started = time.perf_counter()
    git = git_commit()  # the code that runs is the code checked out now, not after a long run
    paths = Paths.for_output(output)
    base_dir = Path(experiment_file).parent if experiment_file else None
    data_dir = resolve_data_dir(config.data_dir, base_dir)
    collection = collections_mod.load(config.collection, data_dir, config.first_stage.candidates_file)
    measures = parse_measures(list(config.measures or collection.measures))
    qids = _query_ids(config, collection)
    log.info("collection %s: %d judged queries (%s)", collection.name, len(qids), collection.source)
    if config.rerankers and collection.docs is None:
        raise ConfigError(f"collection {collection.name!r} has no document text; rerankers need a corpus")
    # find every model (and fail on a bad one) before the first stage's long work
    from .rerankers import locate

    located = [locate(r.model, r.revision) for r in config.rerankers]
    for reranker_cfg in config.rerankers:
        _settings(reranker_cfg, config)
    systems = [first_stage(config, collection, qids, paths, force)]
    for reranker_cfg, model, name in zip(config.rerankers, located, _unique_names(config, located, systems[0].name)):
        systems.append(rerank_stage(reranker_cfg, model, name, config, collection, systems[0], qids, paths, force))
    judged = {q: collection.qrels[q] for q in qids}
    record = build_record(config, collection, measures, systems, judged, paths, time.perf_counter() - started, git)
    record["experiment_file"] = str(experiment_file) if experiment_file else None
    results_file = paths.reports / safe_name(config.experiment_name, "experiment name") / "results.json"
    with file_lock(results_file):  # concurrent runs of one experiment: last complete record wins, no stray temp files
        write_json(results_file, record)
    record["_path"] = str(results_file)
    return record


def build_record(
    config: ExperimentConfig,
    collection: collections_mod.Collection,
    measures: list[Any],
    systems: list[System],
    qrels: dict[str, dict[str, int]],
    paths: Paths,
    wall_s: float,
    git: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every system and assemble the results record (``git``: the commit when the run started)."""
    from .rerankers.device import describe_device

    first_ms = systems[0].latency.get("first_stage_ms")
    rows = []
    for system in systems:
        evaluation = evaluate(qrels, system.run, measures)
        latency = dict(system.latency)
        latency["first_stage"] = systems[0].latency.get("first_stage")
        latency["first_stage_ms"] = first_ms
        per_query = combine(first_ms, system.latency.get("rerank_ms") or {q: 0.0 for q in (first_ms or {})})
        end_to_end = summarize(per_query) if per_query else None
        if end_to_end:
            latency.update({k: end_to_end[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "total_s")})
            latency["per_query_ms"] = per_query
        latency["cached"] = system.cached
        rows.append(
            {
                "name": system.name,
                "model": system.model,
                "run_file": str(system.run_file),
                "hash": system.hash,
                "metrics": evaluation.metrics,
                "per_query": evaluation.per_query,
                "latency": latency,
                "info": system.info,
            }
        )
    devices = sorted({s.info["device"] for s in systems if s.info.get("device")})
    record_config = to_dict(config)
    return {
        "schema_version": SCHEMA_VERSION,
        "name": config.experiment_name,
        "collection": collection.describe(),
        "config": record_config,
        "config_hash": stable_hash(record_config),
        "measures": [m.name for m in measures],
        "queries": len(qrels),
        "versions": versions(),
        "device": describe_device(devices[0]) if devices else {"type": "cpu", "name": platform.processor() or platform.machine()},
        "git": git if git is not None else git_commit(),
        "wall_s": wall_s,
        "notes": [
            "Documents below each reranker's top_k keep their first-stage order, so depth-based measures (R@1000) "
            "equal the first stage's.",
            "Latency: first stage plus rerank per query; model load and warm-up excluded (load_s, warmup_s).",
        ],
        "systems": rows,
        "runs_dir": str(paths.runs),
    }
