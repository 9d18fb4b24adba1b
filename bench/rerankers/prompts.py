"""Prompt presets for decoder-only yes/no rerankers, written out from each model card.

A preset is a list of parts, each tokenised on its own and concatenated (as the model cards
do), the answer tokens and whether the score is log-odds (``logit(true) - logit(false)``) or
the true token's logit alone. A part may hold ``{instruction}``, ``{query}`` and
``{document}``; the part holding ``{document}`` is the one cut when the input is too long.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError

QWEN3_SYSTEM = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
QWEN3_ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
BGE_GEMMA_TASK = (
    "Given a query A and a passage B, determine whether the passage contains an answer to the query by providing a prediction of either 'Yes' or 'No'."
)
MXBAI_SYSTEM = "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
MXBAI_TASK = (
    "You are a search relevance expert who evaluates how well documents match search queries. For each query-document pair, "
    "carefully analyze the semantic relationship between them, then provide your binary relevance judgment (0 for not relevant, 1 for relevant).\n"
    "Relevance:"
)
MXBAI_ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n"


@dataclass(frozen=True)
class Prompt:
    """A model card's input layout and answer tokens."""

    name: str
    parts: tuple[str, ...]
    true_token: str
    false_token: str | None  # None: the score is the true token's logit alone
    bos: bool = False  # a BOS token id before the first part
    default_instruction: str | None = None
    instruction_part: str | None = None  # replaces the part holding {query} when an instruction is given (mxbai)
    source: str = ""


PROMPTS: dict[str, Prompt] = {
    p.name: p
    for p in (
        Prompt(
            "qwen3-reranker",
            (QWEN3_SYSTEM, "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}", QWEN3_ASSISTANT),
            "yes",
            "no",
            default_instruction="Given a web search query, retrieve relevant passages that answer the query",
            source="Qwen/Qwen3-Reranker-0.6B model card",
        ),
        Prompt(
            "bge-reranker-gemma",
            ("A: {query}", "\n", "B: {document}", "\n", BGE_GEMMA_TASK),
            "Yes",
            None,
            bos=True,
            source="BAAI/bge-reranker-v2-gemma model card",
        ),
        Prompt(
            "mxbai-rerank-v2",
            (MXBAI_SYSTEM, "query: {query}", "\n", "document: {document}", "\n", MXBAI_TASK, MXBAI_ASSISTANT),
            "1",
            "0",
            instruction_part="instruction: {instruction}\nquery: {query}",
            source="mixedbread-ai/mxbai-rerank-base-v2 (mxbai-rerank library)",
        ),
    )
}

# Substrings of hub ids (lower case) that say which preset a checkpoint was trained with.
KNOWN_MODELS: tuple[tuple[str, str], ...] = (
    ("qwen3-reranker", "qwen3-reranker"),
    ("bge-reranker-v2-gemma", "bge-reranker-gemma"),
    ("mxbai-rerank-base-v2", "mxbai-rerank-v2"),
    ("mxbai-rerank-large-v2", "mxbai-rerank-v2"),
)


def known_prompt(spec: str) -> str | None:
    """The preset for a known hub id (or a folder named after one), else None."""
    lowered = spec.lower()
    return next((preset for pattern, preset in KNOWN_MODELS if pattern in lowered), None)


def resolve(spec: str, name: str | None, instruction: str | None) -> tuple[Prompt, tuple[str, ...]]:
    """The preset and its parts with the instruction filled in (``{query}``/``{document}`` left open)."""
    name = name or known_prompt(spec)
    if name is None:
        raise ModelError(
            f"model {spec!r}: cannot tell which prompt this causal LM reranker was trained with; "
            f"set prompt (--prompt P or prompt = ... in [rerankers.options]) to one of {', '.join(PROMPTS)}"
        )
    if name not in PROMPTS:
        raise ModelError(f"model {spec!r}: unknown prompt {name!r}; known: {', '.join(PROMPTS)}")
    preset = PROMPTS[name]
    instruction = instruction if instruction is not None else preset.default_instruction
    parts = list(preset.parts)
    if instruction is not None:
        if preset.instruction_part is not None:
            parts = [preset.instruction_part if "{query}" in p else p for p in parts]
        elif not any("{instruction}" in p for p in parts):
            raise ModelError(f"model {spec!r}: prompt {name!r} takes no instruction; drop the instruction option")
        parts = [p.replace("{instruction}", instruction) for p in parts]
    return preset, tuple(parts)
