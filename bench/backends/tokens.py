"""Prompt text and token ids as the ``hf`` backend makes them, for the backends that tokenise locally (vllm, openai with a tokenizer).

Sending these ids instead of text makes a served prompt the very one ``hf`` runs: same chat
template, same special tokens, one BOS where the tokenizer wants it, whatever the server's
own tokenisation defaults are. Candidates (answer tokens, identifiers) are matched by the
text the server writes for a token, which is the decoded text of the token's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from .base import Prompt


def render(tokenizer: Any, prompt: Prompt) -> str:
    """The text the model reads: raw text as is, chat messages through the prompt's or the model's chat template."""
    if prompt.text is not None:
        return prompt.text
    if prompt.token_ids:
        return str(tokenizer.decode(list(prompt.token_ids)))
    if not prompt.chat_template and not getattr(tokenizer, "chat_template", None):
        raise ModelError("the model has no chat template (tokenizer_config.json chat_template); add one or use a raw-text prompt")
    kwargs = {"chat_template": prompt.chat_template} if prompt.chat_template else {}
    return str(tokenizer.apply_chat_template(prompt.as_messages(), tokenize=False, add_generation_prompt=prompt.add_generation_prompt, **kwargs))


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a rendered prompt (no special tokens added; BOS once where the tokenizer always starts with it)."""
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and getattr(tokenizer, "add_bos_token", False) and (not ids or ids[0] != bos):
        ids = [bos, *ids]
    return ids


def prompt_ids(tokenizer: Any, prompt: Prompt) -> list[int]:
    return list(prompt.token_ids) if prompt.token_ids else encode(tokenizer, render(tokenizer, prompt))


def candidate_texts(tokenizer: Any, candidates: Sequence[str]) -> list[str]:
    """The text a server writes for each candidate's first token (a vocabulary entry as is, else its first token)."""
    vocab = tokenizer.get_vocab()
    ids = []
    for text in candidates:
        if text in vocab:
            ids.append(int(vocab[text]))
            continue
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        if not encoded:
            raise ConfigError(f"candidate {text!r} is no token of the model")
        ids.append(int(encoded[0]))
    if len(set(ids)) != len(ids):
        raise ConfigError(f"candidates {list(candidates)} share a first token, so their log-probabilities cannot tell them apart")
    return [str(tokenizer.decode([i])) for i in ids]
