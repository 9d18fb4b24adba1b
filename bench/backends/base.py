"""The interface every generation backend implements, and the plain data it exchanges.

A generative family builds :class:`Prompt` s (chat messages, rendered by the model's own chat
template, or raw text), asks a backend for :class:`Completion` s under a pinned
:class:`Decoding`, or for the log-probabilities of a few candidate next tokens (yes/no
rerankers, FIRST's identifier logits, setwise label likelihoods). Everything a backend returns
is plain data, so a family writes it into its trace as is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Decoding:
    """How text is generated: greedy by default, pinned and recorded in the stage's key.

    Sampling (``temperature > 0``) is refused unless ``allow_sampling``: rank_llm sampled at
    temperature 1.0 for two months without anyone noticing (castorini/rank_llm#412).
    """

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    allow_sampling: bool = False

    def __post_init__(self) -> None:
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ConfigError(f"decoding: temperature must be >= 0 and top_p in (0, 1], got {self.temperature} and {self.top_p}")
        if self.temperature > 0 and not self.allow_sampling:
            raise ConfigError(f"decoding: temperature {self.temperature} samples, so rankings change from run to run; "
                              "use temperature 0 (greedy), or set allow_sampling = true to accept it")
        if self.max_new_tokens <= 0:
            raise ConfigError(f"decoding: max_new_tokens must be positive, got {self.max_new_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Prompt:
    """Chat ``messages`` (``[{"role", "content"}]``, rendered by the model's chat template) or raw ``text``.

    ``chat_template`` replaces the model's own template (rank_llm renders RankVicuna with a
    template of its own, the checkpoints shipping none).
    """

    messages: tuple[tuple[str, str], ...] = ()
    text: str | None = None
    add_generation_prompt: bool = True
    chat_template: str | None = None
    token_ids: tuple[int, ...] = ()  # the exact tokens, when the family tokenised itself (yes/no rerankers: same ids on every backend)

    @classmethod
    def chat(cls, messages: Sequence[dict[str, str]], chat_template: str | None = None) -> Prompt:
        return cls(messages=tuple((m["role"], m["content"]) for m in messages), chat_template=chat_template)

    def as_messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.messages]


@dataclass
class Completion:
    """One prompt's answer: the text, the token counts the backend measured or the server reported, why it stopped."""

    text: str
    prompt_tokens: int
    output_tokens: int
    finish_reason: str = "stop"  # "stop" (end of sequence or a stop string) or "length" (budget spent)
    cached: bool = False  # answered from a response cache (served backends)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scored:
    """One prompt's next-token log-probabilities, with what a trace and the cost need.

    ``missing`` lists candidates the backend did not return (outside the top-k): their value
    is the lowest returned log-probability, an upper bound, and the call counts as malformed.
    """

    logprobs: dict[str, float]
    prompt_tokens: int = 0
    output_tokens: int = 0
    cached: bool = False
    missing: tuple[str, ...] = ()
    request: str = ""  # the response cache's key of the request (served backends): the exact request and answer are on disk


class Backend(ABC):
    """Runs one generative model. Built by a family from its options; loaded once per engine worker.

    ``model`` is a located folder (``hf``, ``vllm``) or None (``openai``: the endpoint is in the
    options). Implementations must be deterministic under greedy :class:`Decoding`, and the
    result of a prompt must not depend on the other prompts of the batch (left padding, per-row
    lengths); where a backend cannot promise that (batch-dependent numerics on a server), it
    says so in :meth:`describe`.
    """

    name = "backend"

    def __init__(self, model: Any, settings: Any, options: Any):
        self.model = model
        self.settings = settings
        self.options = options

    @abstractmethod
    def load(self) -> None:
        """Load weights or open the client (and check the endpoint answers)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What ran: backend, model, dtype/device or server and its version, for the record."""

    @abstractmethod
    def render(self, prompt: Prompt) -> str:
        """The exact text the model reads (chat template applied): what a trace records as the prompt."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model reads for ``text`` as a prompt, special tokens the backend adds included (prompt budgets)."""

    @abstractmethod
    def complete(self, prompts: Sequence[Prompt], decoding: Decoding) -> list[Completion]:
        """One completion per prompt, in order (a backend batches them as it can)."""

    @abstractmethod
    def next_token_logprobs(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[dict[str, float]]:
        """Per prompt, the log-probability of each candidate string's first token at the first generated position.

        Log-softmax over the full vocabulary, so values compare across prompts. A candidate
        whose first token is shared with another candidate is a configuration error.
        """

    def score_next_token(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[Scored]:
        """:meth:`next_token_logprobs` with token counts, cache hits and missing candidates (what a family traces and bills)."""
        return [Scored(lp) for lp in self.next_token_logprobs(prompts, candidates)]

    def context_length(self) -> int | None:
        """The model's context window in tokens, when known (prompts are fitted to it)."""
        return None
