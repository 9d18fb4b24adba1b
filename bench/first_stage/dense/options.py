"""The dense first stage's options (``[first_stage.options]`` / ``[first_stages.options]``), checked before any work.

Everything here that changes the embeddings is part of the index's cache key
(:meth:`DenseOptions.index_key`); everything that changes the run is part of the run's key.
``shard_size`` and ``batch_size`` are in the index key too: a shard's passages are batched
by length inside the shard, and a batch's padding can move the last bits of an fp32 vector.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...errors import ConfigError

INDEXES = ("exact", "flat", "hnsw", "ivf")
STORAGE = ("float32", "float16", "bfloat16")
SIMILARITIES = ("auto", "cosine", "dot")


@dataclass(frozen=True)
class DenseOptions:
    """How the corpus is encoded, stored and searched.

    ``query_prefix`` / ``document_prefix``: None reads the folder's
    ``config_sentence_transformers.json`` prompts (``query``, ``document``/``passage``), else
    none. ``similarity``: ``auto`` is the folder's ``similarity_fn_name`` (sentence-transformers'
    default, cosine, when absent); cosine stores unit vectors so every index searches by inner
    product. ``storage``: the embeddings' dtype on disk (fp16/bf16 halve it; search upcasts to
    fp32). ``index``: ``exact`` (torch, in blocks, ties broken as trec_eval orders them) or a
    FAISS index (``pip install -e '.[faiss]'``): ``flat`` (exact inner product), ``hnsw``
    (``hnsw_m``, ``ef_construction``, ``ef_search``) or ``ivf`` (``nlist``, 0: 4·√N; ``nprobe``).
    ``faiss_threads`` builds HNSW/IVF on that many threads (1 builds the same graph every time).
    """

    batch_size: int = 64
    max_length: int = 512
    dtype: str = "auto"
    device: str = "auto"
    query_prefix: str | None = None
    document_prefix: str | None = None
    similarity: str = "auto"
    storage: str = "float32"
    shard_size: int = 4096
    index: str = "exact"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 256
    nlist: int = 0
    nprobe: int = 16
    faiss_threads: int = 1

    def __post_init__(self) -> None:
        if self.index not in INDEXES:
            raise ConfigError(f"dense index {self.index!r} is not known; use one of {', '.join(INDEXES)}")
        if self.storage not in STORAGE:
            raise ConfigError(f"dense storage {self.storage!r} is not known; use one of {', '.join(STORAGE)}")
        if self.similarity not in SIMILARITIES:
            raise ConfigError(f"dense similarity {self.similarity!r} is not known; use one of {', '.join(SIMILARITIES)}")
        for name in ("batch_size", "shard_size", "hnsw_m", "ef_construction", "ef_search", "nprobe", "faiss_threads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"dense option {name} must be positive, got {getattr(self, name)}")
        if self.nlist < 0:
            raise ConfigError(f"dense option nlist must be 0 (4·√N) or more, got {self.nlist}")
        if self.max_length < 8:
            raise ConfigError(f"dense option max_length must be at least 8 tokens, got {self.max_length}")

    def search_key(self) -> dict[str, Any]:
        """The options that change the search (not the embeddings): only those of the chosen index."""
        if self.index == "hnsw":
            return {"index": "hnsw", "hnsw_m": self.hnsw_m, "ef_construction": self.ef_construction, "ef_search": self.ef_search,
                    "faiss_threads": self.faiss_threads}
        if self.index == "ivf":
            return {"index": "ivf", "nlist": self.nlist, "nprobe": self.nprobe, "faiss_threads": self.faiss_threads}
        return {"index": self.index}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
