"""Listwise speed: bench's window k of many queries in one generate call against rank_llm's own loop, one window per call.

Model: random weights in the shape of Qwen2.5-0.5B-Instruct (Qwen2, 24 layers, hidden 896, 14
heads, 2 KV heads, 151,936-token vocabulary), written at run time under /tmp with a byte-level
tokenizer trained on the DL19 passages and a ChatML chat template (never committed). Random
weights almost never emit end of sequence, so both sides generate the whole answer budget and
tokens/s compare like for like.

* Peer: rank_llm 0.25.7's own listwise code (``RankListwiseOSLLM``: ``sliding_windows``,
  ``create_prompt``, ``receive_permutation``), one query after another, each window one
  ``generate`` call of one prompt with ``min_new_tokens = max_new_tokens = num_output_tokens``,
  greedy: rank_llm's Hugging Face path before vLLM (0.25.7 ships only vLLM / SGLang /
  TensorRT-LLM calls, none of which runs on this CPU).
* bench: the ``listwise`` family (preset ``rank_zephyr``, the same windows and prompts), window
  k of ``--queries`` queries in one left-padded ``generate`` call; and the same one query at a
  time, whose orders give the bf16 batched-vs-unbatched Kendall tau.

Both use one loaded model (same weights, bf16 where the CPU multiplies it natively, as bench's
default). Prints JSON (machine, load average, figures, ratios).

    PYTHONPATH=. python benchmarks/listwise_speed.py --out benchmarks/results/listwise_speed.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from common import DEFAULT_DATA, ROOT, machine

sys.path.insert(0, str(ROOT / "tests"))
log = logging.getLogger("listwise_speed")

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")


def build_model(folder: Path, texts: list[str]) -> Path:
    """Random Qwen2.5-0.5B-shaped weights and a DL19-trained byte-level tokenizer (built once per folder)."""
    if (folder / "config.json").is_file():
        return folder
    from helpers_families import byte_level_tokenizer, corpus, make_causal_lm
    from transformers import Qwen2Config

    tokenizer = byte_level_tokenizer(corpus(texts), vocab_size=32_000)
    tokenizer.chat_template = CHATML
    config = Qwen2Config(
        vocab_size=151_936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
        max_position_embeddings=32_768, rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, architectures=["Qwen2ForCausalLM"],
    )
    return make_causal_lm(folder, arch="qwen2", config=config, tokenizer=tokenizer)


def dl19(data: Path, queries: int, depth: int) -> tuple[list[Any], list[str]]:
    """The first ``queries`` DL19 queries (file order) with their BM25 top ``depth`` passages; and passages to train the tokenizer."""
    from bench.ranking import Request

    folder = data / "trec-dl-2019"
    names = dict(line.rstrip("\n").split("\t", 1) for line in open(folder / "queries.tsv", encoding="utf-8"))
    run: dict[str, list[str]] = {}
    for line in open(folder / "run.bm25.trec", encoding="utf-8"):
        qid, _, doc, rank, *_ = line.split()
        run.setdefault(qid, []).append(doc)
    wanted = {d for docs in run.values() for d in docs[:depth]}
    texts, train = {}, []
    for line in open(folder / "corpus.jsonl", encoding="utf-8"):
        row = json.loads(line)
        if len(train) < 5000:
            train.append(row["text"])
        if row["doc_id"] in wanted:
            texts[row["doc_id"]] = row["text"]
    qids = [q for q in names if q in run][:queries]
    requests = [Request(q, names[q], tuple(run[q][:depth]), tuple(texts[d] for d in run[q][:depth])) for q in qids]
    return requests, train


def run_bench(ranker: Any, requests: list[Any], per_call: int) -> dict[str, Any]:
    started = time.perf_counter()
    rankings = []
    for i in range(0, len(requests), per_call):
        rankings += ranker.rank(requests[i : i + per_call])
    seconds = time.perf_counter() - started
    windows = sum(len(r.trace) for r in rankings)
    tokens = sum(t["output_tokens"] for r in rankings for t in r.trace)
    return {"seconds": seconds, "windows": windows, "generated_tokens": tokens, "windows_per_s": windows / seconds,
            "tokens_per_s": tokens / seconds, "prompt_tokens": sum(t["prompt_tokens"] for r in rankings for t in r.trace),
            "orders": [r.docs for r in rankings]}


def run_peer(ref: Any, folder: Path, lm: Any, requests: list[Any], options: Any) -> dict[str, Any]:
    """rank_llm's sliding windows, one query at a time, each window one generate call (its pre-vLLM Hugging Face path)."""
    import torch

    theirs = ref.os_llm.RankListwiseOSLLM(model=str(folder), context_size=options.context_size, device="cpu",
                                          prompt_template_path=ref.templates / "rank_zephyr_template.yaml",
                                          window_size=options.window_size, stride=options.stride)
    tok = theirs._tokenizer
    counts = {"windows": 0, "generated_tokens": 0}

    def run_llm_batched(prompts: list[str], current_window_size: int | None = None) -> list[tuple[str, int]]:
        out = []
        for prompt in prompts:  # one prompt per call, as rank_llm's run_llm did
            budget = theirs.num_output_tokens(current_window_size)
            ids = tok([prompt], return_tensors="pt")
            with torch.inference_mode():
                generated = lm.generate(**ids, max_new_tokens=budget, min_new_tokens=budget, do_sample=False, pad_token_id=tok.pad_token_id)
            new = generated[0, ids["input_ids"].shape[1]:]
            counts["windows"] += 1
            counts["generated_tokens"] += int(new.shape[0])
            out.append((tok.decode(new, skip_special_tokens=False), int(new.shape[0])))
        return out

    theirs.run_llm_batched = run_llm_batched
    ref_requests = [ref_result(ref, r) for r in requests]
    started = time.perf_counter()
    for r in ref_requests:
        theirs.sliding_windows(r, 0, len(r.candidates), 100)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, **counts, "windows_per_s": counts["windows"] / seconds, "tokens_per_s": counts["generated_tokens"] / seconds}


def ref_result(ref: Any, request: Any) -> Any:
    data = ref.data
    candidates = [data.Candidate(docid=d, score=float(len(request) - i), doc={"text": t}) for i, (d, t) in enumerate(zip(request.doc_ids, request.texts))]
    return data.Request(query=data.Query(text=request.query, qid=request.qid), candidates=candidates)


def kendall(a: list[list[str]], b: list[list[str]]) -> float:
    from scipy.stats import kendalltau

    return float(sum(kendalltau(list(range(len(x))), [y.index(d) for d in x]).statistic for x, y in zip(a, b)) / len(a))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--model-dir", type=Path, default=Path("/tmp/bench-listwise-speed/qwen2.5-0.5b-shape-random"))
    p.add_argument("--queries", type=int, default=8, help="DL19 queries (bench puts window k of all of them in one call)")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--stride", type=int, default=5)
    p.add_argument("--max-words", type=int, default=20, help="words per passage for a full window (rank_llm: 300; smaller keeps the CPU run short)")
    p.add_argument("--dtype", default="auto")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    import rank_llm_ref

    from bench.device import resolve_dtype
    from bench.rerankers import ModelSettings, locate
    from bench.rerankers.listwise.family import Listwise

    requests, train = dl19(args.data, args.queries, args.depth)
    folder = build_model(args.model_dir, train)
    dtype = resolve_dtype(args.dtype, "cpu")
    # rank_llm's 300 words per passage scale as 300 * 20 / n; bench's max_words is that 300
    options = Listwise.Options(preset="rank_zephyr", window_size=args.window, stride=args.stride, max_words=args.max_words)
    ranker = Listwise(locate(str(folder)), ModelSettings("cpu", dtype, 64, 4096), options)
    ranker.load()
    ranker.warmup()
    ref = rank_llm_ref.load()
    # rank_llm's word budget is a literal 300 (x 20 / n) in create_prompt: both sides get passages already cut to
    # --max-words x 20 / window words, so their prompts are the same
    requests = [type(r)(r.qid, r.query, r.doc_ids, tuple(" ".join(t.split()[: args.max_words * 20 // args.window]) for t in r.texts))
                for r in requests]
    result: dict[str, Any] = {"machine": machine(), "model": "random Qwen2.5-0.5B shape (Qwen2, 24 x 896, vocab 151,936)", "dtype": dtype,
                              "queries": len(requests), "depth": args.depth, "window": args.window, "stride": args.stride,
                              "max_words": args.max_words, "preset": "rank_zephyr"}
    batched = run_bench(ranker, requests, len(requests))
    alone = run_bench(ranker, requests, 1)
    peer = run_peer(ref, folder, ranker.backend.lm, requests, options)
    result["bench_batched"] = {k: v for k, v in batched.items() if k != "orders"}
    result["bench_one_query_per_call"] = {k: v for k, v in alone.items() if k != "orders"}
    result["rank_llm_hf_loop"] = peer
    result["ratio_windows_per_s"] = batched["windows_per_s"] / peer["windows_per_s"]
    result["ratio_tokens_per_s"] = batched["tokens_per_s"] / peer["tokens_per_s"]
    result["bench_batching_ratio"] = batched["windows_per_s"] / alone["windows_per_s"]
    result["kendall_tau_batched_vs_one_query"] = kendall(batched["orders"], alone["orders"])
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
