"""Write random-weight models in the real shapes of one reranker per family (no hub access needed).

Speed does not depend on weight values, so the benchmarks and the DL19 families experiment use
these: monoT5-base and duoT5-base (t5-base shape), Qwen3-Reranker-0.6B (Qwen3-0.6B shape, real 151,936-token
vocabulary) and answerai-colbert-small-v1 (BERT 384/12 layers, 96-dim projection, PyLate folder).
Their tokenizers are trained on the DL19 passages with the family's special tokens, so token
counts are realistic; their scores mean nothing.

    PYTHONPATH=. python benchmarks/make_random_models.py --out scratch/models
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from common import DEFAULT_DATA, ROOT

sys.path.insert(0, str(ROOT / "tests"))

log = logging.getLogger("make_random_models")

NAMES = {"seq2seq": "monot5-base-msmarco-random", "causal-lm": "qwen3-reranker-0.6b-random", "late-interaction": "answerai-colbert-small-v1-random",
         "pairwise": "duot5-base-msmarco-random",
         "listwise": "chat-lm-tiny-random"}


def passages(data: Path, limit: int = 14_581) -> list[str]:
    texts = []
    with open(data / "trec-dl-2019" / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            texts.append(json.loads(line)["text"])
            if len(texts) >= limit:
                break
    return texts


def write_t5(folder: Path, texts: list[str], seed: int = 0) -> None:
    from helpers_families import corpus, make_t5, t5_tokenizer
    from transformers import T5Config

    tokenizer = t5_tokenizer(corpus(texts), vocab_size=32_000)
    config = T5Config(
        vocab_size=32_128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_decoder_layers=12, num_heads=12,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, architectures=["T5ForConditionalGeneration"],
    )
    make_t5(folder, seed=seed, config=config, tokenizer=tokenizer)


def write_qwen3(folder: Path, texts: list[str]) -> None:
    from helpers_families import byte_level_tokenizer, corpus, make_causal_lm
    from transformers import Qwen3Config

    tokenizer = byte_level_tokenizer(corpus(texts), vocab_size=32_000)
    config = Qwen3Config(
        vocab_size=151_936, hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=40_960, tie_word_embeddings=True, rope_theta=1_000_000,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, architectures=["Qwen3ForCausalLM"],
    )
    make_causal_lm(folder, config=config, tokenizer=tokenizer)


def write_listwise(folder: Path, texts: list[str]) -> None:
    """A chat LM for the listwise demo: the tests' tiny shape (Llama, hidden 64, 2 layers), so 43 queries x 9 windows x 4
    presets run on a CPU, with a byte-level tokenizer trained on DL19 so prompts are fitted to 4,096 real-ish tokens."""
    from helpers_families import byte_level_tokenizer, corpus
    from helpers_llm import make_chat_lm

    tokenizer = byte_level_tokenizer(corpus(texts), vocab_size=32_000)
    tokenizer.chat_template = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
                               "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
    make_chat_lm(folder, tokenizer=tokenizer)  # its output head favours [ ] > digits letters: answers look like rankings


def write_colbert(folder: Path, texts: list[str]) -> None:
    from helpers_families import colbert_tokenizer, make_colbert
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig

    folder.mkdir(parents=True, exist_ok=True)
    trainer = BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(texts, vocab_size=30_522, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    trainer.save_model(str(folder))
    tokenizer = colbert_tokenizer(folder)  # adds any missing punctuation and the [Q] / [D] markers
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=384, num_hidden_layers=12, num_attention_heads=12, intermediate_size=1536, max_position_embeddings=512
    )
    make_colbert(folder, dim=96, query_length=32, document_length=300, bert_config=config, tokenizer=tokenizer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "scratch" / "models"))
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--only", choices=sorted(NAMES), action="append")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out, texts = Path(args.out), passages(Path(args.data))
    writers = {"seq2seq": write_t5, "causal-lm": write_qwen3, "late-interaction": write_colbert, "listwise": write_listwise,
               "pairwise": lambda folder, texts: write_t5(folder, texts, seed=1)}  # duoT5-base: monoT5's shape, other weights
    for kind in args.only or list(NAMES):
        folder = out / NAMES[kind]
        if (folder / "config.json").is_file():
            log.info("%s: %s exists", kind, folder)
            continue
        log.info("%s: writing %s", kind, folder)
        writers[kind](folder, texts)


if __name__ == "__main__":
    main()
