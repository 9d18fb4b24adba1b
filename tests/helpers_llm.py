"""A tiny chat LM built at test time, for the generative families (listwise, pairwise, setwise) and their backends.

A word-level tokenizer (the ``tokenizers`` library, saved with ``save_pretrained`` so the
fast tokenizer loads it) in which every ranking token is one token: ``[``, ``]``, ``>``,
the numbers 1 to 20 and the letters A to T, plus ``<|user|>``/``<|assistant|>``/
``<|system|>`` chat markers, ``</s>`` (end of sequence) and ``<pad>``, and a Zephyr-like
chat template. The model is a Llama (or Qwen2) with hidden size 64 and 2 heads (head_dim 32,
what vLLM's CPU backend accepts), random weights, and an output head that favours the
ranking tokens (``ranking_bias``), so greedy decoding writes permutation-like text with
the duplicates and gaps a repair step must handle, not random words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import WORDS

SPECIALS = ["<pad>", "</s>", "<s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
NUMBERS = [str(i) for i in range(1, 21)]
LETTERS = [chr(ord("A") + i) for i in range(20)]
RANKING = ["[", "]", ">", *NUMBERS, *LETTERS]
PROMPT_WORDS = (
    "I will provide you with passages each indicated by a numerical identifier Rank the passages based on their relevance "
    "to the search query You are RankLLM an intelligent assistant that can rank according query's relevancy "
    "RankGPT Search Query All should be included and listed using identifiers in descending order of relevance "
    "output format ranking results do not say any word or explain Only response the e g Received passage Okay please "
    "provide The should be listed the most relevant passages first only respond with list without words explanations "
    "Answer alphabetical 0 21 22 23 24 25 26 27 28 29 30 100"
).split()
PUNCTUATION = list(".,:;!?'\"()-_/=+*&%$#@{}|<") + [" ", "\n", "\t"]
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '</s>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def vocabulary(extra: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    seen: dict[str, None] = {}
    for word in [*SPECIALS, *RANKING, *PUNCTUATION, *WORDS, *PROMPT_WORDS, *(w.lower() for w in PROMPT_WORDS), *extra]:
        seen.setdefault(word, None)
    return list(seen)


def word_tokenizer(extra: list[str] = ()) -> Any:  # type: ignore[assignment]
    """The word-level fast tokenizer: words, digit runs, single punctuation marks and single whitespace characters are tokens."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(vocabulary(extra))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    # every whitespace character is a token of its own and the decoder glues tokens back as they are, so text made of
    # known words round-trips exactly ("[12] > [3]" decodes as written, and a ranking's format can be checked)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\s"), behavior="isolated"),
        pre_tokenizers.Punctuation(behavior="isolated"),
        pre_tokenizers.Digits(individual_digits=False),
    ])
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIALS)
    out = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>",
                                  model_max_length=4096)
    out.chat_template = CHAT_TEMPLATE
    for token in RANKING:
        assert out(token, add_special_tokens=False)["input_ids"] == [vocab[token]], f"{token!r} is not one token"
    return out


def make_chat_lm(folder: Path, arch: str = "llama", seed: int = 0, ranking_bias: float = 4.0, layers: int = 2,
                 config: Any = None, tokenizer: Any = None) -> Path:
    """A random-weight chat LM (``llama``, or ``qwen2``; hidden 64, 2 heads of 32) with the word-level tokenizer.

    ``ranking_bias`` scales the output-head rows of the ranking tokens and ``</s>``, so
    greedy text is mostly identifiers and brackets; 0 leaves the head as initialised.
    ``config``/``tokenizer`` build a model in a real shape (benchmarks).
    """
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or word_tokenizer()
    # transformers 5 loads a qwen2 folder's tokenizer as Qwen2Tokenizer whatever tokenizer_config.json says (byte-level
    # pre-tokenizer: "10" becomes "1", "0"), so a qwen2 model needs a byte-level tokenizer (helpers_families); llama keeps ours
    names = {"qwen2": ("Qwen2Config", "Qwen2ForCausalLM"), "llama": ("LlamaConfig", "LlamaForCausalLM")}
    config_name, model_name = names[arch]
    if config is None:
        config = getattr(transformers, config_name)(
            vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=layers, num_attention_heads=2,
            num_key_value_heads=2, head_dim=32, max_position_embeddings=4096, tie_word_embeddings=False,
            pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            initializer_range=0.2,
        )
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(config)
    if ranking_bias:
        vocab = tokenizer.get_vocab()
        rows = [vocab[t] for t in [*RANKING, "</s>"] if t in vocab]
        with torch.no_grad():
            model.lm_head.weight[rows] *= ranking_bias
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
