"""Command line: argument parsing and error reporting only (the commands are in :mod:`bench.commands`).

Subcommands import what they need when they run, so ``python -m bench --help`` stays
fast. Expected failures (:class:`~bench.errors.BenchError`) print one line on stderr and
exit non-zero; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import Any

log = logging.getLogger("bench")


def _family_names() -> list[str]:
    """Collection families (official measures and rules), from the table in bench.evaluate."""
    from .evaluate import TYPES

    return list(TYPES)


def _first_stages() -> list[str]:
    from .first_stage import FIRST_STAGES

    return FIRST_STAGES.names()


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run an experiment: first stage, rerankers, metrics, latency")
    p.add_argument("target", help="collection (alias, ir_datasets id, local folder) or experiment (name or .toml)")
    p.add_argument("--data-dir", help="folder with local collections (default: $BENCH_DATA_DIR)")
    p.add_argument("--collection-type", choices=_family_names(),
                   help="official measures and rules of this family (default: from the name or the folder's collection.toml)")
    p.add_argument("--first-stage", help=f"first stage: auto (default), {', '.join(_first_stages())} or another registered one")
    p.add_argument("--depth", type=int, help="first-stage hits per query (default 1000)")
    p.add_argument("--bm25-backend", choices=["bm25s", "rank-bm25"], help="BM25 implementation (default bm25s)")
    p.add_argument("--model", action=ModelAction, dest="models", help="reranker: Hugging Face id or local folder (repeatable)")
    p.add_argument("--kind", action=ModelAction, dest="models", help="the --model before it: reranker family (default auto)")
    p.add_argument("--input", action=ModelAction, dest="models", help="the --model before it: the stage it reranks (default: the first stage)")
    p.add_argument("--option", action=ModelAction, dest="models", metavar="KEY=VALUE", help="the --model before it: a family option (repeatable)")
    p.add_argument("--prompt", action=ModelAction, dest="models", help="the --model before it: --option prompt=P (causal-LM rerankers)")
    p.add_argument("--instruction", action=ModelAction, dest="models", help="the --model before it: --option instruction=T")
    p.add_argument("--top-k", type=int, help="rerank this many first-stage hits (default 100)")
    p.add_argument("--batch-size", type=int, help="pairs per forward pass (default 32)")
    p.add_argument("--queries-per-batch", type=int,
                   help="queries an engine hands a ranker at once (default: the family's; listwise: window k of that many queries in one call)")
    p.add_argument("--max-length", type=int, help="max tokens per pair (default 512)")
    p.add_argument("--passages", choices=["first", "max"], help="long documents: score the first window (FirstP) or every window, keeping the max (MaxP)")
    p.add_argument("--window", type=int, help="--passages window in words (default 150)")
    p.add_argument("--stride", type=int, help="--passages stride in words (default 75)")
    p.add_argument("--initial-order", action="append", dest="initial_orders", metavar="ORDER",
                   help="run each reranker on its candidates in this order: input, reversed or shuffle:SEED (repeatable; default input)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], help="model dtype (default auto)")
    p.add_argument("--workers", type=int, help="replicas of each reranker, run on Ray (default 1: in this process, no Ray)")
    p.add_argument("--ray-address", help="join this Ray cluster (default: $RAY_ADDRESS, else a local Ray started for the run)")
    p.add_argument("--measures", nargs="+", help="ir_measures names (default: the collection's official set)")
    p.add_argument("--limit-queries", type=int, help="only the first N judged queries (smoke tests)")
    p.add_argument("--name", help="experiment name (reports/<name>/)")
    p.add_argument("--output", help="put runs/ and reports/ under this folder (default: ./runs and ./reports)")
    p.add_argument("--force", action="store_true", help="recompute runs even when an identical one exists")
    p.add_argument("--trust-remote-code", action="store_true", help="allow models that ship their own Python code")
    p.add_argument("--allow-pickle", action="store_true", help="allow pickled (.bin) weights, which can run code")
    p.add_argument("--no-response-cache", action="store_true", help="ask served models again instead of reading their cached answers")
    p.set_defaults(func="run")


class ModelAction(argparse.Action):
    """``--model`` starts a reranker; ``--kind``, ``--input``, ``--option``, ``--prompt`` and ``--instruction`` apply to the one before."""

    def __call__(self, parser: Any, namespace: argparse.Namespace, value: Any, option: str | None = None) -> None:
        models: list[dict[str, Any]] = getattr(namespace, self.dest, None) or []
        setattr(namespace, self.dest, models)
        if option == "--model":
            models.append({"model": value, "options": {}})
            return
        if not models:
            parser.error(f"{option} applies to the --model before it; put it after a --model")
        if option in ("--kind", "--input"):
            models[-1][option[2:]] = value
            return
        if option == "--option":
            key, sep, text = str(value).partition("=")
            if not sep or not key.strip():
                parser.error(f"--option {value!r}: expected KEY=VALUE, e.g. --option label=1")
            from .options import parse_value

            models[-1]["options"][key.strip()] = parse_value(text)
            return
        models[-1]["options"][str(option)[2:]] = value


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="score existing TREC run files (trec_eval -c semantics)")
    p.add_argument("runs", nargs="+", help="TREC run files")
    p.add_argument("--qrels", help="TREC qrels file (default: the --collection's)")
    p.add_argument("--collection", help="collection whose qrels, official measures and rules apply (e.g. beir/arguana drops self-hits)")
    p.add_argument("--data-dir", help="folder with local collections (default: $BENCH_DATA_DIR)")
    p.add_argument("--collection-type", choices=_family_names(), help="family of a local --collection")
    p.add_argument("--measures", nargs="+", help="ir_measures names (default: the collection's official set, else nDCG@10 RR@10 AP R@100 R@1000)")
    p.add_argument("--json", action="store_true", help="print {run_path: {measure: mean}} as JSON")
    p.set_defaults(func="evaluate")


def _add_datasets(sub: Any) -> None:
    p = sub.add_parser("datasets", help="list collection aliases and local collections")
    p.add_argument("--data-dir", help="folder with local collections (default: $BENCH_DATA_DIR)")
    p.set_defaults(func="datasets")


def _add_reproduce(sub: Any) -> None:
    p = sub.add_parser("reproduce", help="re-run a recorded experiment and fail when a metric drifts")
    p.add_argument("results", help="a results.json written by `bench run`")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed |delta| per metric (default 1e-4)")
    p.add_argument("--latency-tolerance", type=float, help="fail when p50 latency exceeds the recorded one by this ratio (e.g. 1.5)")
    p.add_argument("--data-dir", help="folder with local collections, when the recorded one is not found")
    p.add_argument("--output", help="keep the reproduced runs and results here (default: a temporary folder)")
    p.add_argument("--requests", type=int, metavar="N", help="instead: ask a served model N of the run's requests again and count differing answers")
    p.add_argument("--endpoint", help="with --requests: ask this URL instead of the recorded endpoint")
    p.set_defaults(func="reproduce")


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="compare systems from results records: significance, latency, figures (md, html, csv, tex)")
    p.add_argument("results", nargs="+", help="results records (reports/<experiment>/results.json); several compare side by side")
    p.add_argument("--baseline", help="system to test against (default: the first stage)")
    p.add_argument("--measures", nargs="+", help="measures to show (default: all in the records)")
    p.add_argument("--test", default="t", help="paired test: t (default), randomization or wilcoxon")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm-Bonferroni (default 0.05)")
    p.add_argument("--format", default="md,html,csv,tex", help="comma-separated formats, any of the RENDERERS registry (default md,html,csv,tex)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a report option (repeatable), e.g. snippets=false: no passage text in the explorer (default: the record's [report])")
    p.add_argument("--output", help="folder for the report (default: beside the first results file, or its ../comparison for several)")
    p.set_defaults(func="report")


def _add_leaderboard(sub: Any) -> None:
    p = sub.add_parser("leaderboard", help="one static page (and Markdown) over every results record: a row per system, columns per collection")
    p.add_argument("inputs", nargs="*", default=["reports"], help="results.json files or folders holding them (default: reports/)")
    p.add_argument("--output", help="folder for index.html and README.md (default: the first folder given, else reports/)")
    p.set_defaults(func="leaderboard")


def _add_global_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    """-v/-q/--debug, on the main parser (default False) and on every subcommand (default unset, so the main one's stays)."""
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="warnings and errors only")
    parser.add_argument("--debug", action="store_true", default=default, help="show tracebacks for expected errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description="IR evaluation harness: BM25 + rerankers, trec_eval-exact metrics, latency.")
    _add_global_flags(parser, False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    _add_evaluate(sub)
    _add_datasets(sub)
    _add_reproduce(sub)
    _add_report(sub)
    _add_leaderboard(sub)
    for command in sub.choices.values():  # `bench run ... -q` as well as `bench -q run ...`
        _add_global_flags(command, argparse.SUPPRESS)
    return parser


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("urllib3", "filelock", "huggingface_hub", "numba", "bm25s", "transformers", "ir_datasets"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.quiet or not sys.stderr.isatty():  # transformers' "Loading weights" bar: keep -q and CI logs to real messages
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        if "transformers" in sys.modules:  # imported before main() (called from Python): the variable is read at import
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    if args.quiet:  # ir_datasets' download bar; a long download still shows its heartbeat at WARNING after a minute
        os.environ.setdefault("IR_DATASETS_DL_DISABLE_PBAR", "true")
    if not args.verbose:
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*unsafe cast.*")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler pre-empting the job) handled like Ctrl-C: stop cleanly, keep finished work."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from .errors import BenchError

    parser = build_parser()
    args = parser.parse_args(argv)
    _setup_logging(args)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        from . import commands

        return int(getattr(commands, f"cmd_{args.func}")(args) or 0)
    except BenchError as exc:
        if args.debug:
            raise
        sys.stderr.write(f"bench: error: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        sys.stderr.write("bench: interrupted; finished queries are kept, run the same command again to resume\n")
        return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
