"""The listwise prompt presets: rank_llm 0.25.7's templates, as data.

Each text is copied from ``rank_llm/rerank/prompt_templates/*.yaml`` of rank-llm 0.25.7
(PyPI), keeping every space and newline (YAML ``|`` keeps the final newline, ``|-`` drops
it); tests/test_listwise_parity.py renders them with rank_llm's own code and compares bytes.

* ``rank_zephyr``: ``rank_zephyr_template.yaml`` (single turn, numbers), what
  ``ZephyrReranker`` and ``RankListwiseOSLLM`` use by default;
* ``rank_vicuna``: the same template (rank_llm 0.25.7's ``VicunaReranker`` uses
  ``rank_zephyr_template.yaml`` too), rendered with the Vicuna chat template that
  ``rank_llm/rerank/vllm_handler.py`` installs for any model path holding ``rank_vicuna``
  (the checkpoints ship none);
* ``rank_gpt``: ``rank_gpt_template.yaml`` (multi-turn: one user turn per passage, each
  answered "Received passage [i]."), with ``RankGPT.create_prompt``'s word budget;
* ``first``: ``rank_zephyr_alpha_template.yaml`` (letters A..T), ranked by the identifier
  logits at the first output position (``RankListwiseOSLLM(use_alpha=True, use_logits=True)``).

The ``*_regex`` fields are what the template calls ``output_validation_regex`` /
``output_extraction_regex``; rank_llm's YAML holds them with a literal ``r"..."`` around
them, so it only logs them. Here validation is a full match of the stripped output, and a
window whose output fails it is counted as malformed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError

RANK_LLM_VERSION = "0.25.7"

_RANKLLM_SYSTEM = "You are RankLLM, an intelligent assistant that can rank passages based on their relevancy to the query"
_NUMBERS_PREFIX = ("I will provide you with {num} passages, each indicated by a numerical identifier []. "
                   "Rank the passages based on their relevance to the search query: {query}.\n")
_NUMBERS_SUFFIX = (
    "Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. All the passages should "
    "be included and listed using identifiers, in descending order of relevance. The output format should be [] > [], e.g., "
    "[2] > [1], Answer concisely and directly and only respond with the ranking results, do not say any word or explain."
)
# rank_llm/rerank/vllm_handler.py (0.25.7), set as the tokenizer's chat template when the model path holds "rank_vicuna"
VICUNA_CHAT_TEMPLATE = (
    "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}\n"
    "                    {% for message in messages %}{% if not loop.first %}{% endif %}{% if message['role'] == 'system' %}"
    "{{ message['content'] + ' ' }}{% elif message['role'] == 'user' %}{{ 'USER: ' + message['content'] + ' ' }}"
    "{% elif message['role'] == 'assistant' %}{{ 'ASSISTANT: ' + message['content'] + '</s>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


@dataclass(frozen=True)
class Preset:
    """One prompt preset: its text, its identifiers, how the word budget is set and how the answer is read."""

    name: str
    method: str  # "singleturn" (prefix + body lines + suffix in one user turn) or "multiturn" (a turn per passage)
    system_message: str
    prefix: str  # singleturn: before the passages; multiturn: the first user turn
    body: str  # one passage: {rank} and {candidate}
    suffix: str  # after the passages (multiturn: the last user turn)
    prefix_assistant: str = ""  # multiturn: the answer to the first user turn
    body_assistant: str = ""  # multiturn: the answer to each passage turn ({rank})
    alpha: bool = False  # identifiers A, B, ... instead of 1, 2, ...
    logits: bool = False  # FIRST: rank by the identifier logits at the first output position, no generation
    budget: str = "os"  # word budget per passage: "os" max_words * 20 / n (RankListwiseOSLLM), "gpt" max_words * (window // n) (RankGPT)
    fix_prompt: bool = True  # ftfy.fix_text over the rendered prompt (RankListwiseOSLLM.create_prompt; RankGPT sends messages as they are)
    chat_template: str | None = None  # None: the model's own
    validation_regex: str = r"^\[\d+\]( > \[\d+\])*$"
    source: str = ""  # the rank_llm file it reproduces

    @property
    def template(self) -> dict[str, str]:
        """The text fields, what the stage's key holds (a changed text is a new run)."""
        fields = ("method", "system_message", "prefix", "body", "suffix", "prefix_assistant", "body_assistant")
        out = {f: getattr(self, f) for f in fields}
        if self.chat_template:
            out["chat_template"] = self.chat_template
        return out


PRESETS: dict[str, Preset] = {
    "rank_zephyr": Preset(
        name="rank_zephyr", method="singleturn", system_message=_RANKLLM_SYSTEM,
        prefix=_NUMBERS_PREFIX,
        body="[{rank}] {candidate}\n", suffix=_NUMBERS_SUFFIX, source="prompt_templates/rank_zephyr_template.yaml",
    ),
    "rank_vicuna": Preset(
        name="rank_vicuna", method="singleturn", system_message=_RANKLLM_SYSTEM,
        prefix=_NUMBERS_PREFIX,
        body="[{rank}] {candidate}\n", suffix=_NUMBERS_SUFFIX, chat_template=VICUNA_CHAT_TEMPLATE,
        source="prompt_templates/rank_zephyr_template.yaml + the Vicuna chat template of vllm_handler.py",
    ),
    "rank_gpt": Preset(
        name="rank_gpt", method="multiturn",
        system_message="You are RankGPT, an intelligent assistant that can rank passages based on their relevancy to the query.",
        prefix="I will provide you with {num} passages, each indicated by number identifier [].\n"
               "Rank the passages based on their relevance to query: {query}.",
        prefix_assistant="Okay, please provide the passages.",
        body="[{rank}] {candidate}", body_assistant="Received passage [{rank}].",
        suffix="Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. The passages "
               "should be listed in descending order using identifiers. The most relevant passages should be listed first. The "
               "output format should be [] > [], e.g., [1] > [2]. Only response the ranking results, do not say any word or explain.",
        budget="gpt", fix_prompt=False, source="prompt_templates/rank_gpt_template.yaml",
    ),
    "first": Preset(
        name="first", method="singleturn", system_message=_RANKLLM_SYSTEM,
        prefix="I will provide you with {num} passages, each indicated by an alphabetical identifier []. "
               "Rank the passages based on their relevance to the search query: {query}.\n",
        body="[{rank}] {candidate}\n",
        suffix="Search Query: {query}.\nRank the {num} passages above based on their relevance to the search query. All the passages "
               "should be included and listed using identifiers, in descending order of relevance. The output format should be [] > [], "
               "e.g., [B] > [A], Answer concisely and directly and only respond with the ranking results, do not say any word or explain.",
        alpha=True, logits=True, validation_regex=r"^\[[A-Z]\]( > \[[A-Z]\])*$", source="prompt_templates/rank_zephyr_alpha_template.yaml",
    ),
}

# Hub ids whose preset is known (a listwise model is recognised by its id: its config is an ordinary causal LM).
HUB_PRESETS: dict[str, str] = {
    "castorini/rank_zephyr_7b_v1_full": "rank_zephyr",
    "castorini/rank_vicuna_7b_v1": "rank_vicuna",
    "castorini/rank_vicuna_7b_v1_noda": "rank_vicuna",
    "castorini/rank_vicuna_7b_v1_fp16": "rank_vicuna",
    "castorini/rank_vicuna_7b_v1_noda_fp16": "rank_vicuna",
    "castorini/first_mistral": "first",
    "rryisthebest/First_Model": "first",
}


def preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(f"unknown listwise preset {name!r}; use one of {', '.join(PRESETS)}")
    return PRESETS[name]


def for_model(spec: str | None) -> str | None:
    """The preset a hub id is known to need (None: not one of them)."""
    return HUB_PRESETS.get((spec or "").rstrip("/"))
