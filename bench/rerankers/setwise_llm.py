"""The setwise judge for causal LMs, through a generation backend (:mod:`bench.backends`, ``backend = "hf"`` by default).

The prompt is llm-rankers 0.0.2's for causal models (``SetwiseLlmRanker.compare``, the
``llama`` branch): the setwise question as the user message, rendered by the model's chat
template with the generation prompt, then `` Passage:`` appended, so the next token is the
label. ``generation``: one greedy token, decoded, stripped and upper-cased; a text that is
not one of the set's labels is malformed and read as "A". ``likelihood`` (not in
llm-rankers, which raises NotImplementedError for causal models): the backend's next-token
log-probabilities of the labels' tokens as they follow ``Passage:`` (:func:`label_tokens`),
the first of equals winning. Passages are cut with the model's own tokenizer, as llm-rankers cuts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, ModelError
from .setwise_prompt import LABELS, Choice, parse_label

SUFFIX = " Passage:"  # llm-rankers: prompt += " Passage:"


class BackendJudge:
    """Judges setwise prompts with any :class:`~bench.backends.base.Backend` that can read a tokenizer-cut passage."""

    def __init__(self, located: Any, settings: Any, options: Any):
        self.located, self.settings, self.options = located, settings, options
        self.backend: Any = None

    def load(self) -> None:
        from ..backends import BACKENDS

        if self.options.backend not in BACKENDS:
            raise ConfigError(f"setwise: unknown generation backend {self.options.backend!r}; use one of {', '.join(BACKENDS.names())}")
        try:
            cls = BACKENDS.get(self.options.backend)
        except ImportError as exc:
            raise ModelError(f"setwise: backend {self.options.backend!r} is not available in this install ({exc})") from None
        self.backend = cls(self.located, self.settings, self.options)
        self.backend.load()
        if getattr(self.backend, "tokenizer", None) is None:
            raise ModelError(f"setwise: backend {self.options.backend!r} exposes no tokenizer, and passages are cut to passage_length tokens with it")
        self.label_tokens = label_tokens(self.backend.tokenizer, self.options.num_child + 1)

    def describe(self) -> dict[str, Any]:
        out = dict(self.backend.describe()) if self.backend is not None else {}
        out.update(scoring=self.options.scoring, prompt_suffix=SUFFIX)
        if self.options.scoring == "generation":
            out["decoding"] = {"greedy": True, "max_new_tokens": 1}
        return out

    def truncate(self, text: str, length: int) -> str:
        tok = self.backend.tokenizer
        return str(tok.convert_tokens_to_string(tok.tokenize(text)[:length]))

    def _prompts(self, texts: Sequence[str]) -> list[Any]:
        from ..backends.base import Prompt

        return [Prompt(text=self.backend.render(Prompt.chat([{"role": "user", "content": t}])) + SUFFIX) for t in texts]

    def choose(self, prompts: Sequence[str], sizes: Sequence[int]) -> list[Choice]:
        from ..backends.base import Decoding

        rendered = self._prompts(prompts)
        if self.options.scoring == "likelihood":
            labels = list(self.label_tokens[: max(sizes)])
            rows = self.backend.next_token_logprobs(rendered, labels)
            out = []
            for prompt, row, size in zip(rendered, rows, sizes, strict=True):
                values = [row[label] for label in labels[:size]]
                best = max(range(size), key=lambda i: (values[i], -i))
                out.append(Choice(best, LABELS[best], self.backend.count_tokens(prompt.text), 0, False, {"logprobs": [round(v, 6) for v in values]}))
            return out
        completions = self.backend.complete(rendered, Decoding(max_new_tokens=1))
        out = []
        for completion, size in zip(completions, sizes, strict=True):
            best, malformed = parse_label(completion.text, size, last=False)
            out.append(Choice(best, completion.text, completion.prompt_tokens, completion.output_tokens, malformed))
        return out


def label_tokens(tokenizer: Any, count: int) -> list[str]:
    """Each label's token as it follows ``Passage:``: the first non-blank token ``Passage: X`` adds (``▁A`` in SentencePiece, ``ĠA`` in byte-level BPE)."""
    base = tokenizer(SUFFIX, add_special_tokens=False)["input_ids"]
    out = []
    for label in LABELS[:count]:
        ids = tokenizer(f"{SUFFIX} {label}", add_special_tokens=False)["input_ids"]
        extra = ids[len(base):] if ids[: len(base)] == base else ids
        token = next((t for t in extra if tokenizer.decode([t]).strip()), None)
        if token is None:
            raise ModelError(f"setwise: label {label!r} is no token of this model's tokenizer after 'Passage:'")
        out.append(str(tokenizer.convert_ids_to_tokens(token)))
    if len(set(out)) != len(out):
        raise ModelError("setwise: two passage labels share a token in this model's tokenizer, so likelihood cannot tell them apart; use scoring = generation")
    return out
