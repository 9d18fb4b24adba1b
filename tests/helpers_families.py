"""Tiny random-weight models of the newer reranker families, built at test time.

No tokenizer can be downloaded, so each builder trains a small one with the ``tokenizers``
library on a few words, holding the tokens its family needs: ``▁true``/``▁false`` and
``</s>`` for T5; the chat markers, ``<think>``/``</think>`` and ``yes``/``no`` (``Yes``,
``0``/``1``) for the causal LMs; ``[Q] ``/``[D] `` markers and ``[MASK]`` for ColBERT. The
same builders write random models in the real shapes for the benchmarks (pass the real
config and a tokenizer trained on real text).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from helpers import WORDS, word_piece_tokenizer, write_vocab

ANSWERS = ["true", "false", "yes", "no", "Yes", "No", "relevant", "0", "1"]


def corpus(extra: Iterable[str] = ()) -> list[str]:
    """Training text: every word, the answer words at line starts and after spaces, some punctuation."""
    lines = [" ".join(WORDS)] * 5 + [f"{a} {a} {a}" for a in ANSWERS] * 20 + [f"\n{a}\n\n{a}" for a in ANSWERS] * 20
    lines += ["Query: what Document: the Relevant: true false", "A: B: query: document: instruction: Instruct: Judge"] * 10
    return lines + list(extra)


def t5_tokenizer(texts: list[str] | None = None, vocab_size: int = 400) -> Any:
    """A SentencePiece-like BPE (``▁`` word marks) with <pad>=0, </s>=1, <unk>=2, appending </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "</s>", "<unk>"], initial_alphabet=list(string.printable.strip()))
    tok.train_from_iterator(texts or corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)])
    out = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512)
    for token in ("▁true", "▁false", "▁yes", "▁no"):
        assert token in out.get_vocab(), f"tiny T5 tokenizer lacks {token}"
    return out


def byte_level_tokenizer(texts: list[str] | None = None, vocab_size: int = 600, bos: str | None = None) -> Any:
    """A GPT-2/Qwen-style byte-level BPE with the Qwen chat markers as special tokens (and ``bos`` if given)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"] + ([bos] if bos else [])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts or corpus(), trainer)
    kwargs = {"bos_token": bos} if bos else {}
    out = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>", model_max_length=32768, **kwargs)
    vocab = out.get_vocab()
    for token in ("yes", "no", "Yes", "0", "1"):
        assert token in vocab, f"tiny byte-level tokenizer lacks {token}"
    return out


def make_t5(folder: Path, seed: int = 0, config: Any = None, tokenizer: Any = None, model_type: str = "t5") -> Path:
    """A T5ForConditionalGeneration (2 layers, d_model 32 unless ``config``) with random weights."""
    import torch
    from transformers import MT5Config, MT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or t5_tokenizer()
    config_cls, model_cls = (MT5Config, MT5ForConditionalGeneration) if model_type == "mt5" else (T5Config, T5ForConditionalGeneration)
    config = config or config_cls(
        vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )
    torch.manual_seed(seed)
    model_cls(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_causal_lm(folder: Path, arch: str = "qwen3", seed: int = 0, config: Any = None, tokenizer: Any = None) -> Path:
    """A decoder-only LM (``qwen3``, ``qwen2`` or ``gemma``; 2 layers, hidden 32 unless ``config``) with random weights."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or byte_level_tokenizer(bos="<bos>" if arch == "gemma" else None)
    names = {"qwen3": ("Qwen3Config", "Qwen3ForCausalLM"), "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"), "gemma": ("GemmaConfig", "GemmaForCausalLM")}
    config_name, model_name = names[arch]
    if config is None:
        config = getattr(transformers, config_name)(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=8, max_position_embeddings=4096, tie_word_embeddings=True,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            # wider than the default 0.02 so that scores spread as a trained model's do: at 0.02 every
            # pair's log-odds lies within 0.01 and any rounding (bf16) reorders them
            initializer_range=0.3,
        )
    torch.manual_seed(seed)
    getattr(transformers, model_name)(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


PUNCTUATION = list(string.punctuation)


def colbert_tokenizer(folder: Path) -> Any:
    """A lower-casing WordPiece tokenizer (with [MASK]) plus the ``[Q] ``/``[D] `` marker tokens, as PyLate adds them."""
    vocab = write_vocab(folder)
    words = vocab.read_text(encoding="utf-8").split("\n")
    words = [w for w in words if w] + [p for p in PUNCTUATION if p not in words]
    vocab.write_text("\n".join(words) + "\n", encoding="utf-8")
    tokenizer = word_piece_tokenizer(vocab)
    tokenizer.add_tokens(["[Q] ", "[D] "])
    return tokenizer


def make_colbert(
    folder: Path,
    seed: int = 0,
    dim: int = 16,
    query_length: int = 12,
    document_length: int = 40,
    attend: bool = False,
    bert_config: Any = None,
    tokenizer: Any = None,
) -> Path:
    """A PyLate-format ColBERT: a BERT (``Transformer`` module), a bias-free ``1_Dense`` projection and the PyLate config."""
    import torch
    from helpers import tiny_bert_config
    from safetensors.torch import save_file
    from transformers import BertModel

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or colbert_tokenizer(folder)
    config = bert_config or tiny_bert_config(len(tokenizer))
    torch.manual_seed(seed)
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    hidden = config.hidden_size
    dense = folder / "1_Dense"
    dense.mkdir(exist_ok=True)
    (dense / "config.json").write_text(
        json.dumps({"in_features": hidden, "out_features": dim, "bias": False, "activation_function": "torch.nn.modules.linear.Identity"}), encoding="utf-8"
    )
    save_file({"linear.weight": torch.randn(dim, hidden) / hidden**0.5}, str(dense / "model.safetensors"))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Dense", "type": "pylate.models.Dense.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules), encoding="utf-8")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": document_length - 1, "do_lower_case": False}), encoding="utf-8")
    st_config = {
        "__version__": {"sentence_transformers": "3.4.1", "pylate": "1.1.7"},
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "MaxSim",
        "query_prefix": "[Q] ",
        "document_prefix": "[D] ",
        "query_length": query_length,
        "document_length": document_length,
        "attend_to_expansion_tokens": attend,
        "skiplist_words": PUNCTUATION,
    }
    (folder / "config_sentence_transformers.json").write_text(json.dumps(st_config), encoding="utf-8")
    return folder


def stanford_copy(pylate_folder: Path, folder: Path) -> Path:
    """The same ColBERT as a Stanford ColBERT checkpoint: ``HF_ColBERT`` weights (bert.* + linear) and ``artifact.metadata``."""
    from safetensors.torch import load_file, save_file

    folder.mkdir(parents=True, exist_ok=True)
    st = json.loads((pylate_folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    weights = {f"bert.{k}": v for k, v in load_file(str(pylate_folder / "model.safetensors")).items()}
    linear = load_file(str(pylate_folder / "1_Dense" / "model.safetensors"))["linear.weight"]
    weights["linear.weight"] = linear
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((pylate_folder / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["HF_ColBERT"]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (pylate_folder / name).is_file():
            (folder / name).write_bytes((pylate_folder / name).read_bytes())
    metadata = {
        "query_token_id": "[Q] ", "doc_token_id": "[D] ", "query_token": "[Q] ", "doc_token": "[D] ",
        "query_maxlen": st["query_length"], "doc_maxlen": st["document_length"], "dim": int(linear.shape[0]),
        "mask_punctuation": True, "attend_to_mask_tokens": st["attend_to_expansion_tokens"], "similarity": "cosine",
    }
    (folder / "artifact.metadata").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


PASSAGES = [
    "goldfish grow to the size of the tank and the food they get",
    "a fish tank needs clean water and food and light and a small river of blue green water " * 3,
    "wifi",
    "the us did enter the world war",
    "a river bank is not a money bank, what a city!",
    "cats and dogs in the city",
    "blue green water in a small river",
    "a fast red car engine? light and heavy",
]
QUERIES = ["do goldfish grow", "what is wifi vs bluetooth", "why did the us enter the war"]


def settings(**kw: Any) -> Any:
    """CPU fp32 settings unless overridden."""
    from bench.rerankers import ModelSettings

    base = {"device": "cpu", "dtype": "float32", "batch_size": 4, "max_length": 512}
    base.update(kw)
    return ModelSettings(**base)


def loaded(folder: Path, kind: str, options: Any = None, **kw: Any) -> Any:
    """A loaded reranker of ``kind`` over ``folder``."""
    from bench.rerankers import create, locate

    reranker = create(locate(str(folder)), settings(**kw), kind=kind, options=options)
    reranker.load()
    return reranker


def long_document(words: int = 2000) -> str:
    """About ``words`` tokens of text (the tiny tokenizers have whole-word tokens for these)."""
    base = "the fish tank water and the river bank in the city".split()
    return " ".join(base[i % len(base)] for i in range(words))


def mean_kendall(a: list[list[float]], b: list[list[float]]) -> float:
    """Mean Kendall tau over queries between two score lists."""
    from scipy.stats import kendalltau

    return float(sum(kendalltau(x, y).statistic for x, y in zip(a, b, strict=True)) / len(a))
