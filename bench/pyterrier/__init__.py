"""PyTerrier interop (``pip install 'bench[pyterrier]'``), in three directions.

* :class:`Reranker`: any bench family as a ``pt.Transformer``, with ``bench run``'s scores
  and latency figures (``Reranker(model).latency`` after a call).
* ``kind = "pyterrier"`` in ``[first_stage]`` (:mod:`.stage`) or ``[[rerankers]]``
  (:mod:`.ranker`): a pipeline built by a factory (``"module:function"`` plus ``args``)
  inside ``bench run``, cached, resumable, timed and reported like any stage.
* :func:`evaluate`: pipelines run like ``pt.Experiment``, returning its DataFrame, and a
  bench results record written beside (official measures and rules, per-query values,
  latency) for ``bench report``, ``bench leaderboard``, ``bench reproduce`` and the explorer.

:class:`BM25` is bench's BM25 as a first stage without Java, and :func:`dataset` gives a bench collection (an alias, an ir_datasets id or a local folder) as
PyTerrier expects a dataset: topics, qrels and a text loader for ``pt.text.get_text``.
Importing this package imports neither PyTerrier nor torch; the names load on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BM25", "Reranker", "dataset", "evaluate"]


def __getattr__(name: str) -> Any:
    if name in ("Reranker", "BM25"):
        from .factory import require

        require()
        from .pipelines import BM25
        from .transformer import Reranker

        return Reranker if name == "Reranker" else BM25
    if name == "evaluate":
        from .experiment import evaluate

        return evaluate
    if name == "dataset":
        from .data import dataset

        return dataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
