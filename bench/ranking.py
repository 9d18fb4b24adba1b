"""The ranking contract: a ranker takes a batch of requests and returns one ranking per request.

Every kind of ranker fits it (DESIGN.md, "What the field asks of the contract"):

* pointwise families score (query, passage) pairs (:class:`bench.rerankers.pointwise.Pointwise`
  adapts today's ``prepare``/``forward`` scorers);
* listwise families turn windows of passages into permutations, window k of many queries in
  one model call (:mod:`bench.rerankers.window`);
* pairwise and setwise families score pairs or sets and bill model calls;
* served models answer HTTP requests (no folder to fingerprint).

A :class:`Request` is one query with its candidates (input order, input scores); a
:class:`Ranking` is an order, optional scores, the :class:`Cost` of producing it, and
optionally a trace (one plain dict per model call: what was asked, what came back, how it
parsed). A ranker declares where its model comes from (:data:`SOURCES`), and only that goes
into its stage's key. Rankers are plain objects: an engine may build one in another process
(a Ray actor) from the stage, which pickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .options import NoOptions, as_dict

# Where a ranker's model comes from; only what a source declares is part of a stage's key.
FOLDER = "folder"  # a local or hub folder: located, fingerprinted (spec, revision, content hash, inference settings)
ENDPOINT = "endpoint"  # a served model: its model id and the revision the user states (never the URL)
NONE = "none"  # nothing: a rule, a test toy
SOURCES = (FOLDER, ENDPOINT, NONE)


@dataclass(frozen=True)
class Request:
    """One query to rank: its candidates in input order (best first), with their texts and input scores."""

    qid: str
    query: str
    doc_ids: tuple[str, ...]
    texts: tuple[str, ...]
    scores: tuple[float, ...] = ()

    def __len__(self) -> int:
        return len(self.doc_ids)


@dataclass
class Cost:
    """What producing one ranking cost. Each family fills the units it spends (DESIGN.md's cost column).

    ``pairs``: (query, passage) pairs scored (pointwise) or passage pairs (pairwise);
    ``calls``: model calls (prompts or HTTP requests) attributable to this query, however
    they were batched; ``windows``: listwise windows or setwise sets; ``input_tokens`` and
    ``output_tokens``: prompt and generated tokens; ``malformed``: calls whose output had to
    be repaired (never hidden); ``cached``: calls answered from a response cache.
    """

    pairs: int = 0
    calls: int = 0
    windows: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    malformed: int = 0
    cached: int = 0

    def add(self, other: Cost | dict[str, Any]) -> Cost:
        values = other if isinstance(other, dict) else asdict(other)
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + int(values.get(f.name, 0) or 0))
        return self

    def as_dict(self) -> dict[str, int]:
        """The non-zero units (a pointwise row stays small: ``{"pairs": 100}``)."""
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def of(cls, values: dict[str, Any] | None) -> Cost:
        return cls().add(values or {})


@dataclass
class Ranking:
    """A ranker's answer for one request.

    ``docs`` are the request's doc ids. With ``scores`` (one per doc, any order) the run
    holds those scores; without (a listwise permutation) ``docs`` is the order, best first,
    and the run's scores are derived from positions (:meth:`run_scores`).
    """

    qid: str
    docs: list[str]
    scores: list[float] | None = None
    cost: Cost = field(default_factory=Cost)
    trace: list[dict[str, Any]] = field(default_factory=list)

    def order(self) -> list[str]:
        """Doc ids best first (scores descending, ties by doc id descending as trec_eval breaks them)."""
        if self.scores is None:
            return list(self.docs)
        return [d for d, _ in sorted(zip(self.docs, self.scores), key=lambda x: (-x[1], _desc(x[0])))]

    def run_scores(self) -> list[float]:
        """Scores for the run file: the ranker's own, else ``n - position`` (positive, strictly decreasing)."""
        if self.scores is not None:
            return [float(s) for s in self.scores]
        n = len(self.docs)
        return [float(n - i) for i in range(n)]

    def row(self, ms: float) -> dict[str, Any]:
        """This ranking as a line of the stage's partial run (what a resumed run reads back)."""
        out: dict[str, Any] = {"qid": self.qid, "docs": list(self.docs), "scores": self.run_scores(), "ms": ms}
        cost = self.cost.as_dict()
        if cost:
            out["cost"] = cost
        if self.scores is None:
            out["ordered"] = True
        if self.trace:
            out["trace"] = self.trace
        return out


class _desc(str):
    """A string that sorts descending (for trec_eval's tie order inside ascending sorts)."""

    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


class Family:
    """What a stage asks of a family before anything loads (rankers and pointwise scorers alike).

    ``kind`` is the registry name, ``Options`` a frozen dataclass (checked and hashed),
    ``SOURCE`` one of :data:`SOURCES` (:meth:`source` may decide from the options, e.g. a
    backend option), ``QUERIES_PER_BATCH`` how many queries an engine hands over at once by
    default (1 keeps per-query latency exact; more lets window k of many queries share a call).
    """

    kind = "ranker"
    Options: type = NoOptions
    SOURCE: ClassVar[str] = FOLDER
    QUERIES_PER_BATCH: ClassVar[int] = 1

    @classmethod
    def recognises(cls, located: Any) -> int:
        """0 when ``located`` is not of this family; higher is more specific (for ``kind = "auto"``)."""
        return 0

    @classmethod
    def source(cls, options: Any) -> str:
        """Where the model comes from with these options: :data:`FOLDER`, :data:`ENDPOINT` or :data:`NONE`."""
        return cls.SOURCE

    @classmethod
    def resolve(cls, options: Any, located: Any) -> Any:
        """The options with what depends on the model filled in and checked (a preset chosen by hub id), before the key is taken."""
        return options

    @classmethod
    def key_options(cls, options: Any) -> dict[str, Any]:
        """The options that change the output (all by default; a served family drops its URL, concurrency, key name)."""
        return as_dict(options)

    @classmethod
    def endpoint_key(cls, options: Any) -> dict[str, Any]:
        """For :data:`ENDPOINT` sources: the served model's identity (model id, stated revision), never its URL."""
        raise NotImplementedError(f"{cls.__name__} declares an endpoint source but no endpoint_key()")


class Ranker(Family):
    """A ranking family: ``prepare`` (CPU only, may run in a background thread) then ``rank``.

    ``located`` is the model folder (:class:`bench.rerankers.locate.LocatedModel`) for folder
    sources, else None; ``settings`` the resolved device, dtype, batch size and max length.
    ``device`` is where it computes (engines synchronise it before reading a clock).
    """

    def __init__(self, located: Any, settings: Any, options: Any = None):
        self.located = located
        self.settings = settings
        self.options = options if options is not None else self.Options()
        self.device = getattr(settings, "device", "cpu")

    # -- lifecycle -----------------------------------------------------------------------------
    def load(self) -> None:
        """Load weights, open a client, ... (timed apart from ranking)."""

    def warmup(self) -> None:
        """Keep one-off set-up (allocators, kernels, connections) out of per-query timings."""

    def describe(self) -> dict[str, Any]:
        """What ran, for the record: the family, its options, and the settings actually used."""
        return {"kind": self.kind, "options": as_dict(self.options)}

    # -- ranking -------------------------------------------------------------------------------
    def prepare(self, requests: Sequence[Request]) -> Any:
        """CPU-only work for a batch (tokenising): an engine runs it for batch i+1 while batch i ranks."""
        return list(requests)

    def rank(self, prepared: Any) -> list[Ranking]:
        """One :class:`Ranking` per request of the batch, in the batch's order."""
        raise NotImplementedError


def input_order(requests: Sequence[Request]) -> list[Ranking]:
    """Every request kept in its input order (what a ranker returns for a request it cannot improve)."""
    return [Ranking(r.qid, list(r.doc_ids)) for r in requests]
