"""Test fixtures built at test time: tiny random-weight models and tiny collections."""

from __future__ import annotations

import json
from pathlib import Path

WORDS = (
    "the a of and to in is what how why who cat cats dog dogs fish goldfish grow water tank food "
    "wifi bluetooth wireless network radio signal range war enter us world history money bank "
    "river city car engine fast slow light heavy small big red blue green"
).split()


def write_vocab(folder: Path) -> Path:
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *letters, *(f"##{c}" for c in letters), *WORDS, ".", ",", "?", "'"]
    seen: list[str] = []
    for token in vocab:
        if token not in seen:
            seen.append(token)
    path = folder / "vocab.txt"
    path.write_text("\n".join(seen) + "\n", encoding="utf-8")
    return path


def word_piece_tokenizer(vocab: Path):
    """A BERT tokenizer over ``vocab``: transformers 5 takes ``vocab=`` and silently ignores the old ``vocab_file=``."""
    import inspect

    from transformers import BertTokenizerFast

    key = "vocab" if "vocab" in inspect.signature(BertTokenizerFast.__init__).parameters else "vocab_file"
    tokenizer = BertTokenizerFast(**{key: str(vocab)}, do_lower_case=True)
    lines = len(vocab.read_text(encoding="utf-8").split())
    assert tokenizer.vocab_size == lines, f"tokenizer has {tokenizer.vocab_size} tokens, vocab.txt {lines}"
    return tokenizer


def tiny_bert_config(vocab_size: int, num_labels: int = 1, layers: int = 2):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=num_labels,
    )


def make_cross_encoder(folder: Path, num_labels: int = 1, seed: int = 0, id2label: dict[int, str] | None = None) -> Path:
    """A 2-layer BERT sequence classifier with random weights (fixed seed), saved as safetensors."""
    import torch
    from transformers import BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(folder)
    tokenizer = word_piece_tokenizer(vocab)
    config = tiny_bert_config(tokenizer.vocab_size, num_labels)
    if id2label:
        config.id2label = id2label
        config.label2id = {v: k for k, v in id2label.items()}
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_plain_bert(folder: Path, seed: int = 0) -> Path:
    """A BERT encoder without a classification head (not usable as a cross-encoder)."""
    import torch
    from transformers import BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocab = write_vocab(folder)
    tokenizer = word_piece_tokenizer(vocab)
    torch.manual_seed(seed)
    BertModel(tiny_bert_config(tokenizer.vocab_size)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_bi_encoder(folder: Path, pooling: str = "mean", seed: int = 0) -> Path:
    """A sentence-transformers folder (modules.json + pooling config) around a tiny BERT."""
    make_plain_bert(folder, seed)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "1_Pooling").mkdir(exist_ok=True)
    pool = {
        "word_embedding_dimension": 32,
        "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": pooling == "max",
        "pooling_mode_mean_sqrt_len_tokens": False,
    }
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pool), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 64, "do_lower_case": False}), encoding="utf-8")
    return folder


DOCS = {
    "d1": "goldfish grow to the size of the tank and the food they get",
    "d2": "a fish tank needs clean water",
    "d3": "wifi is a wireless network and bluetooth is a short range radio signal",
    "d4": "the us did enter the world war",
    "d5": "a river bank is not a money bank",
    "d6": "a fast red car engine",
    "d7": "cats and dogs in the city",
    "d8": "blue green water in a small river",
}
QUERIES = {"1": "do goldfish grow", "2": "what is wifi vs bluetooth", "3": "why did the us enter the war"}
QRELS = [
    ("1", "d1", 3), ("1", "d2", 1), ("1", "d8", 0),
    ("2", "d3", 2), ("2", "d7", 0),
    ("3", "d4", 2), ("3", "d5", 0),
]


def make_collection(folder: Path, with_run: bool = True) -> Path:
    """A local collection in bench's folder layout (queries.tsv, qrels.txt, corpus.jsonl, run.bm25.trec)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "queries.tsv").write_text("".join(f"{q}\t{t}\n" for q, t in QUERIES.items()), encoding="utf-8")
    (folder / "qrels.txt").write_text("".join(f"{q} 0 {d} {r}\n" for q, d, r in QRELS), encoding="utf-8")
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for doc_id, text in DOCS.items():
            fh.write(json.dumps({"doc_id": doc_id, "text": text}) + "\n")
    if with_run:
        lines = []
        for qid in QUERIES:
            for rank, doc in enumerate(sorted(DOCS, reverse=True), start=1):
                lines.append(f"{qid} Q0 {doc} {rank} {10.0 - rank} test\n")
        (folder / "run.bm25.trec").write_text("".join(lines), encoding="utf-8")
    return folder
