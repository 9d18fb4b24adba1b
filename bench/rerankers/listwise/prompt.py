"""A window's prompt, as rank_llm 0.25.7 builds it, fitted to the context.

Normalisation (``BaseInferenceHandler._convert_doc_to_prompt_content``): each passage is
stripped, fixed by ``ftfy.fix_text``, cut to its first ``max_words`` words and has ``[n]``
turned into ``(n)``; the query has ``[n]`` turned into ``(n)`` too. The messages are
rendered by the model's chat template (or the preset's) and, for the open-model presets,
the whole prompt goes through ``fix_text`` again (``RankListwiseOSLLM.create_prompt``).

The word budget starts at ``max_words * 20 / n`` (``RankListwiseOSLLM``; RankGPT:
``max_words * (window // n)``) and, while the prompt plus the answer's tokens do not fit
``context_size``, shrinks by ``max(1, overflow // (4 n))`` words: rank_llm's loop, so the
same passages are cut at the same word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...backends.base import Prompt
from ...errors import ModelError
from .presets import Preset

ALPHA_START = ord("A") - 1


def fix_text(text: str) -> str:
    """ftfy's repair of mojibake, HTML entities and curly quotes, as rank_llm applies it."""
    from ftfy import fix_text as fix

    return str(fix(text))


def replace_number(text: str) -> str:
    """``[3]`` inside a text becomes ``(3)``, so passages cannot write identifiers."""
    return re.sub(r"\[(\d+)\]", r"(\1)", text)


def passage(text: str, max_words: float) -> str:
    content = fix_text(text.strip())
    return replace_number(" ".join(content.split()[: int(max_words)]))


def identifier(rank: int, alpha: bool) -> str:
    """The 1-based ``rank``'s identifier: ``3`` or ``C``."""
    return chr(ALPHA_START + rank) if alpha else str(rank)


def messages(preset: Preset, query: str, texts: list[str], max_words: float) -> list[dict[str, str]]:
    """The chat messages of one window, exactly as rank_llm's inference handlers write them."""
    q = replace_number(query)
    num = len(texts)
    out = [{"role": "system", "content": preset.system_message}] if preset.system_message else []
    prefix = preset.prefix.format(num=num, query=q)
    suffix = preset.suffix.format(num=num, query=q)
    ids = [identifier(i + 1, preset.alpha) for i in range(num)]
    if preset.method == "singleturn":
        body = "".join(preset.body.format(rank=r, candidate=passage(t, max_words)) for r, t in zip(ids, texts))
        out.append({"role": "user", "content": prefix + body + suffix})
        return out
    if prefix:
        out += [{"role": "user", "content": prefix}, {"role": "assistant", "content": preset.prefix_assistant.format(num=num, query=q)}]
    for r, t in zip(ids, texts):
        out += [{"role": "user", "content": preset.body.format(rank=r, candidate=passage(t, max_words))},
                {"role": "assistant", "content": preset.body_assistant.format(rank=r)}]
    if suffix:
        out.append({"role": "user", "content": suffix})
    return out


def permutation_text(n: int, alpha: bool) -> str:
    """The full answer for ``n`` passages: ``[1] > [2] > ... > [n]``."""
    return " > ".join(f"[{identifier(i + 1, alpha)}]" for i in range(n))


@dataclass
class Built:
    """A window's prompt: the text the model reads, its tokens and the word budget it was fitted with."""

    text: str
    tokens: int
    max_words: int
    messages: list[dict[str, str]]


class Prompter:
    """Builds fitted prompts for one preset through one backend (its chat template and tokenizer)."""

    def __init__(self, preset: Preset, backend: Any, max_words: int, window_size: int, context_size: int):
        self.preset, self.backend = preset, backend
        self.max_words, self.window_size, self.context_size = max_words, window_size, context_size
        self._answer_tokens: dict[int, int] = {}

    def answer_tokens(self, n: int) -> int:
        """rank_llm's ``num_output_tokens``: the tokens of the full permutation, less one (its BOS)."""
        if n not in self._answer_tokens:
            self._answer_tokens[n] = self.backend.count_tokens(permutation_text(n, self.preset.alpha)) - 1
        return self._answer_tokens[n]

    def render(self, msgs: list[dict[str, str]]) -> str:
        text = self.backend.render(Prompt.chat(msgs, chat_template=self.preset.chat_template))
        return fix_text(text) if self.preset.fix_prompt else text

    def build(self, query: str, texts: list[str]) -> Built:
        n = len(texts)
        if self.preset.budget == "gpt":
            max_words: float = self.max_words * (self.window_size // n)
            room = self.context_size - self.answer_tokens(self.window_size)
        else:
            max_words = self.max_words * (20 / n)
            room = self.context_size - self.answer_tokens(n)
        while True:
            msgs = messages(self.preset, query, texts, max_words)
            text = self.render(msgs)
            tokens = self.backend.count_tokens(text)
            if tokens <= room:
                return Built(text, tokens, int(max_words), msgs)
            max_words -= max(1, (tokens - room) // (n * 4))
            if max_words < 0:
                raise ModelError(f"a {n}-passage {self.preset.name} prompt does not fit context_size {self.context_size} even without "
                                 f"passage text ({tokens} tokens); raise --option context_size or lower window_size")
