"""The setwise judge for seq2seq models (Flan-T5), in this process, as llm-rankers 0.0.2 runs them.

The decoder starts from ``<pad> Passage`` (llm-rankers' ``decoder_input_ids``), so the next
token is the label. ``likelihood``: one forward pass; the label tokens are the last token of
``<pad> Passage {X}`` (llm-rankers' ``target_token_ids``), their softmax probabilities over the
whole vocabulary compared, the first of equals winning. ``generation``: greedy ``generate``
of at most 2 new tokens; the whole sequence decoded without special tokens, stripped, and its
last character is the label. Prompts of several queries share padded, length-sorted batches
(with their attention masks, so a prompt's answer does not depend on its neighbours).
Prompt tokens are the encoder's (``</s>`` included, as llm-rankers counts them); generated
tokens are the new tokens up to and including ``</s>`` (llm-rankers also counts the two
tokens of the decoder prefix).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ModelError
from ..models.hf import load_pretrained
from .base import Reranker
from .setwise_prompt import LABELS, Choice, parse_label

MAX_NEW_TOKENS = 2  # llm-rankers' generate(max_new_tokens=2)


class T5Judge(Reranker):
    """Loads like monoT5 (safe loading, target dtype, fp16 refused) and judges batches of setwise prompts."""

    kind = "setwise"

    def _load(self) -> None:
        if self.settings.dtype == "float16" and not self.options.allow_fp16:
            raise ModelError(f"model {self.located.spec!r}: T5 activations overflow in float16; use --dtype bfloat16 or float32, "
                             "or set option allow_fp16 = true to force it")
        self.tokenizer, model, _ = load_pretrained(self, "AutoModelForSeq2SeqLM")
        tok = self.tokenizer
        self.prefix = tok.encode("<pad> Passage", add_special_tokens=False)
        if not self.prefix or self.prefix[0] != tok.pad_token_id:
            raise ModelError(f"model {self.located.spec!r}: its tokenizer does not read '<pad> Passage' as <pad> then text; is it a T5?")
        padded = tok([f"<pad> Passage {c}" for c in LABELS], add_special_tokens=False, padding=True)["input_ids"]
        self.label_ids = [row[-1] for row in padded]  # llm-rankers: batch_encode_plus(..., padding=True).input_ids[:, -1]
        self.eos = tok.eos_token_id
        self.model = self.place(model)

    def warmup(self) -> None:
        """The family warms up through a whole rank (see :meth:`Setwise.warmup`)."""

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.update(scoring=self.options.scoring, decoder_prefix=self.tokenizer.convert_ids_to_tokens(self.prefix) if self.tokenizer else None)
        if self.options.scoring == "generation":
            out["decoding"] = {"greedy": True, "max_new_tokens": MAX_NEW_TOKENS}
        return out

    def truncate(self, text: str, length: int) -> str:
        """llm-rankers' ``truncate``: the first ``length`` tokens turned back into text."""
        return str(self.tokenizer.convert_tokens_to_string(self.tokenizer.tokenize(text)[:length]))

    def choose(self, prompts: Sequence[str], sizes: Sequence[int]) -> list[Choice]:
        enc = self.tokenizer(list(prompts), add_special_tokens=True, padding=False, truncation=False, return_attention_mask=False)["input_ids"]
        batches = self.batches([{"input_ids": ids} for ids in enc], self.tokenizer.pad_token_id or 0)
        if self.options.scoring == "likelihood":
            rows = self.run_batches(batches, self._likelihood)
            return [self._best_label(row, size, len(ids)) for row, size, ids in zip(rows, sizes, enc, strict=True)]
        rows = self.run_batches(batches, self._generate)
        return [self._parsed(row, size, len(ids)) for row, size, ids in zip(rows, sizes, enc, strict=True)]

    def _decoder_start(self, ids: Any) -> Any:
        import torch

        return torch.tensor([self.prefix], dtype=torch.long, device=ids.device).expand(ids.shape[0], -1)

    def _likelihood(self, batch: dict[str, Any]) -> Any:
        import torch

        ids, mask = batch["input_ids"], batch["attention_mask"]
        logits = self.model(input_ids=ids, attention_mask=mask, decoder_input_ids=self._decoder_start(ids), use_cache=False).logits[:, -1]
        return torch.softmax(logits.float(), dim=-1)[:, self.label_ids]

    def _generate(self, batch: dict[str, Any]) -> Any:
        """Greedy new tokens per row, -1 after the end of sequence (as float, for the shared batch runner)."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        out = self.model.generate(input_ids=ids, attention_mask=mask, decoder_input_ids=self._decoder_start(ids), max_new_tokens=MAX_NEW_TOKENS,
                                  do_sample=False, num_beams=1)
        new = out[:, len(self.prefix):]
        rows = new.new_full((ids.shape[0], MAX_NEW_TOKENS), -1)
        for r in range(new.shape[0]):
            for c in range(min(MAX_NEW_TOKENS, new.shape[1])):
                rows[r, c] = new[r, c]
                if int(new[r, c]) == self.eos:
                    break
        return rows

    def _best_label(self, probs: list[float], size: int, prompt_tokens: int) -> Choice:
        candidates = probs[:size]
        best = max(range(size), key=lambda i: (candidates[i], -i))  # the first of equals, as llm-rankers' stable sort
        return Choice(best, LABELS[best], prompt_tokens, 0, False, {"probs": [round(p, 6) for p in candidates]})

    def _parsed(self, row: list[float], size: int, prompt_tokens: int) -> Choice:
        new = [int(t) for t in row if t >= 0]
        text = self.tokenizer.decode(self.prefix + new, skip_special_tokens=True)
        best, malformed = parse_label(text, size, last=True)
        return Choice(best, text, prompt_tokens, len(new), malformed)
