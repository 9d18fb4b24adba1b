"""What each subcommand does, once its arguments are parsed (bench.cli parses them and reports errors).

Each command imports what it needs when it runs, so ``python -m bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

log = logging.getLogger("bench")


def config_from_args(args: argparse.Namespace) -> Any:
    """An experiment config from an experiment file or a collection name, with flags applied."""
    from . import config as cfg

    path = cfg.find_experiment(args.target)
    reranker_flags = {
        k: v
        for k, v in {
            "top_k": args.top_k,
            "batch_size": args.batch_size,
            "queries_per_batch": args.queries_per_batch,
            "max_length": args.max_length,
            "device": args.device,
            "dtype": args.dtype,
            "passages": args.passages,
            "window": args.window,
            "stride": args.stride,
            "initial_orders": tuple(args.initial_orders) if getattr(args, "initial_orders", None) else None,
        }.items()
        if v is not None
    }
    if path is not None:
        config = cfg.load_toml(path)
        log.info("experiment %s", path)
    else:
        config = cfg.ExperimentConfig(collection=args.target)
    changes: dict[str, Any] = {}
    if args.data_dir is not None:
        changes["data_dir"] = os.path.abspath(args.data_dir)
    for key in ("limit_queries", "name", "collection_type"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.measures:
        changes["measures"] = tuple(args.measures)
    if args.trust_remote_code:
        changes["trust_remote_code"] = True
    if args.allow_pickle:
        changes["allow_pickle"] = True

    execution = {k: v for k, v in {"workers": args.workers, "address": args.ray_address}.items() if v is not None}
    if execution:
        import dataclasses

        changes["execution"] = dataclasses.replace(config.execution, **execution)
    fs_changes = {k: v for k, v in {"kind": args.first_stage, "depth": args.depth}.items() if v is not None}
    if fs_changes or args.bm25_backend:
        import dataclasses

        first = dataclasses.replace(config.first_stage, **fs_changes)
        if args.bm25_backend:
            first = dataclasses.replace(first, bm25={**first.bm25, "backend": args.bm25_backend})
        changes["first_stage"] = first
    if args.models:
        changes["rerankers"] = tuple(cfg.RerankerConfig(**m) for m in args.models)
    if reranker_flags and not (args.models or config.rerankers):
        log.warning("%s ignored: no reranker configured (add --model)", ", ".join("--" + k.replace("_", "-") for k in reranker_flags))
    config = cfg.override(config, changes, reranker_flags)
    return _no_response_cache(config) if getattr(args, "no_response_cache", False) else config


def _no_response_cache(config: Any) -> Any:
    """--no-response-cache: every reranker with a backend option asks its model again (the option is not in any key)."""
    import dataclasses

    rerankers = tuple(dataclasses.replace(r, options={**r.options, "response_cache": False}) if "backend" in r.options else r
                      for r in config.rerankers)
    return dataclasses.replace(config, rerankers=rerankers)


def cmd_run(args: argparse.Namespace) -> int:
    from . import experiment
    from .config import find_experiment
    from .report import report_for_run

    config = config_from_args(args)
    outcome = experiment.run(config, output=args.output, force=args.force, experiment_file=find_experiment(args.target))
    log.info("results: %s", outcome.path)
    sys.stdout.write(report_for_run(outcome.path))  # the same Markdown as report.md
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from .evaluate import choose, evaluate
    from .report.render_md import markdown
    from .trec import read_run

    qrels, measures, rules = choose(args.qrels, args.measures, args.collection, args.data_dir, args.collection_type)
    results, notes = {}, []
    for path in args.runs:
        evaluation, rule_notes = evaluate(rules, qrels, read_run(path), measures, path)
        results[path] = evaluation.metrics
        notes += rule_notes
    for note in dict.fromkeys(notes):
        log.info("%s", note)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    else:
        rows = [[path, *(f"{values[m.name]:.4f}" for m in measures)] for path, values in results.items()]
        sys.stdout.write(markdown(["run", *(m.name for m in measures)], rows))
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .errors import DriftError
    from .reproduce import reproduce

    if args.requests is not None:
        from .reproduce_requests import reask

        text, _ = reask(args.results, args.requests, args.endpoint)
        sys.stdout.write(text)
        return 0
    try:
        text, _ = reproduce(args.results, args.tolerance, args.latency_tolerance, args.data_dir, args.output)
    except DriftError as exc:
        sys.stdout.write(exc.table)
        raise
    sys.stdout.write(text)
    sys.stdout.write(f"reproduced {args.results} within {args.tolerance:g}\n")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .report import build_report, parse_formats, render_md, write_report

    formats = parse_formats(args.format)
    options = _options(args.option)
    report = build_report(args.results, baseline=args.baseline, measures=args.measures, test=args.test, alpha=args.alpha, options=options)
    first = Path(args.results[0]).parent
    output = args.output or (first if len(args.results) == 1 else first.parent / "comparison")
    written = write_report(report, output, formats)
    sys.stdout.write(render_md.render(report))
    log.info("report written to %s (%s)", output, ", ".join(sorted(p.name for p in written.values())))
    return 0


def _options(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a table (values read as TOML scalars)."""
    from .errors import ConfigError
    from .options import parse_value

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE, e.g. --option snippets=false")
        out[key.strip()] = parse_value(text)
    return out


def cmd_datasets(args: argparse.Namespace) -> int:
    from .collection import ALIASES, BEIR_PUBLIC, data_dir
    from .evaluate import FAMILIES, family_for

    names = dict(ALIASES)
    names.update({f"beir/{n}": t for n, t in BEIR_PUBLIC.items() if f"beir/{n}" not in names})
    lines = ["aliases (official measures by family):"]
    lines += [f"  {alias:24s} -> {target:40s} {' '.join(family_for(target).measures):62s} [{family_for(target).cite}]"
              for alias, target in names.items()]
    lines.append("families (--collection-type, or type = \"...\" in a local folder's collection.toml):")
    lines += [f"  {f.name:8s} {' '.join(f.measures):60s} source: {f.source}" for f in FAMILIES]
    root = data_dir(args.data_dir)
    if root is not None and root.is_dir():
        local = sorted(p.name for p in root.iterdir() if (p / "queries.tsv").is_file())
        lines += [f"local collections in {root}:"] + [f"  {name}" for name in local]
    lines.append("any ir_datasets id with queries and qrels also works (https://ir-datasets.com)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from .report.leaderboard import build
    from .report.leaderboard_page import markdown, write

    folders = [p for p in args.inputs if os.path.isdir(p)]
    output = args.output or (folders[0] if folders else "reports")
    board = build(args.inputs, output)
    written = write(board, output)
    sys.stdout.write(markdown(board))
    log.info("leaderboard written: %s", ", ".join(str(p) for p in written.values()))
    return 0
