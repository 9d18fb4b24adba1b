"""Rerankers: resolve ``--model`` to a cross-encoder or a bi-encoder.

``create(spec, settings)`` finds the model (local folder, bundled copy or hub) and
returns an unloaded :class:`Reranker`; a folder with ``modules.json`` is a
sentence-transformers bi-encoder, anything else a sequence-classification
cross-encoder. Nothing heavy is imported until a model is loaded.
"""

from __future__ import annotations

from .base import ModelSettings, Reranker
from .locate import LocatedModel, locate

KINDS = ("cross-encoder", "bi-encoder")


def create(located: LocatedModel, settings: ModelSettings) -> Reranker:
    """The reranker class for a located model."""
    if located.kind == "bi-encoder":
        from .bi_encoder import BiEncoder

        return BiEncoder(located, settings)
    from .cross_encoder import CrossEncoder

    return CrossEncoder(located, settings)


__all__ = ["KINDS", "LocatedModel", "ModelSettings", "Reranker", "create", "locate"]
