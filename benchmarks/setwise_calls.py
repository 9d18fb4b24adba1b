"""Setwise model calls and prompt tokens per query on DL19's BM25 top 100, at num_child 3, k 10, against the paper's table.

The number of calls a sort makes depends only on the answers it gets, so the sorts
(bench/rerankers/setwise_sort.py, llm-rankers' heapsort and bubblesort) are driven over all 43
judged DL19 queries by two judges that need no model: an *oracle* that picks the set's passage
with the highest qrels grade (the first of equals, unjudged = 0), and a *random* judge (a seeded
uniform choice: an LLM that knows nothing). Every prompt is built as the family builds it
(query cut to 32 and passages to 128 tokens, the paper's prompt) and counted with the tokenizer
of the random monoT5-base model (a T5-style BPE trained on DL19 passages, vocabulary 32k; Flan-T5's
SentencePiece counts differ somewhat). Flan-T5-large's own choices give the paper's counts
(Zhuang et al., SIGIR 2024, Table 2, TREC DL 2019; quoted in BENCHMARKS.md).

    PYTHONPATH=. python benchmarks/setwise_calls.py --out benchmarks/results/setwise_calls.json
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
from pathlib import Path

from common import DEFAULT_DATA, ROOT, dl19_pairs, emit, machine

log = logging.getLogger("setwise_calls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", default=str(ROOT / "scratch" / "models" / "monot5-base-msmarco-random"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--num-child", type=int, default=3)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from transformers import AutoTokenizer

    from bench.rerankers.setwise_prompt import prompt
    from bench.rerankers.setwise_sort import drive, make

    tok = AutoTokenizer.from_pretrained(args.tokenizer)

    def cut(text: str, n: int) -> str:
        return str(tok.convert_tokens_to_string(tok.tokenize(text)[:n]))

    collection, qids, ids, texts = dl19_pairs(Path(args.data), 100)
    queries = {q: cut(collection.queries[q], 32) for q in qids}
    passages = {q: [cut(t, 128) for t in texts[q]] for q in qids}
    out = {}
    for method in ("heapsort", "bubblesort"):
        for judge_name in ("oracle", "random"):
            calls, tokens = [], []
            rng = random.Random(0)
            for q in qids:
                grades = [collection.qrels.get(q, {}).get(d, 0) for d in ids[q]]
                count, spent = 0, 0

                def judge(pending: list[tuple[int, list[int]]], q=q, grades=grades, judge_name=judge_name, rng=rng) -> list[int]:
                    nonlocal count, spent
                    answers = []
                    for _, positions in pending:
                        count += 1
                        spent += len(tok(prompt(queries[q], [passages[q][p] for p in positions]))["input_ids"])
                        if judge_name == "oracle":
                            answers.append(max(range(len(positions)), key=lambda i: (grades[positions[i]], -i)))
                        else:
                            answers.append(rng.randrange(len(positions)))
                    return answers

                drive([make(method, len(ids[q]), args.num_child, args.k)], judge)
                calls.append(count)
                tokens.append(spent)
            out[f"{method}/{judge_name}"] = {"calls_per_query": round(statistics.mean(calls), 1), "min": min(calls), "max": max(calls),
                                             "prompt_tokens_per_query": round(statistics.mean(tokens), 1)}
            log.info("%s %s: %s", method, judge_name, out[f"{method}/{judge_name}"])
    emit({"benchmark": "setwise calls and prompt tokens per query, DL19 BM25 top 100", "machine": machine(), "queries": len(qids),
          "num_child": args.num_child, "k": args.k, "tokenizer": Path(args.tokenizer).name, "results": out}, args.out)


if __name__ == "__main__":
    main()
