"""A bench collection as PyTerrier expects a dataset: ``get_topics()``, ``get_qrels()`` and a text loader.

Local folders (``--data-dir``), aliases and ir_datasets ids all load through
:func:`bench.collection.load`, so ``pt.text.get_text(dataset("vaswani", data_dir=...), "text")``
reads the same document text ``bench run`` gives its rerankers (title and text joined as
ir_datasets' ``default_text`` joins them), with no Java and no download for a local copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pyterrier as pt

from ..errors import DataError


class TextLoader(pt.Transformer):
    """Adds the ``text`` column to a result frame from the collection's documents."""

    def __init__(self, docs: Any, field: str = "text"):
        self.docs = docs
        self.field = field

    def transform(self, inp: Any) -> Any:
        pt.validate.columns(inp, includes=["docno"])
        found = self.docs.get_many(list(dict.fromkeys(inp["docno"].astype(str))))
        missing = [d for d in inp["docno"].astype(str) if d not in found]
        if missing:
            raise DataError(f"document {missing[0]!r} is not in the collection ({len(missing)} such); check that the run and corpus match")
        return inp.assign(**{self.field: [found[d] for d in inp["docno"].astype(str)]})


class BenchDataset:
    """What ``pt.Experiment`` and ``pt.text.get_text`` use of a dataset, from a bench collection."""

    def __init__(self, name: str, data_dir: str | os.PathLike[str] | None = None, collection_type: str | None = None):
        from ..collection import load

        self.name = name
        self.data_dir = os.path.abspath(data_dir) if data_dir else None
        self.collection_type = collection_type
        self.collection = load(name, self.data_dir, collection_type=collection_type)

    def __repr__(self) -> str:
        return f"bench.pyterrier.dataset({self.name!r})"

    def get_topics(self, variant: str | None = None, judged: bool = True) -> Any:
        """``qid, query``: the judged queries (as ``bench run`` runs them), all with ``judged=False``."""
        from ..trec import qid_order
        from .frames import topics_frame

        queries = self.collection.queries
        qids = [q for q in qid_order(self.collection.qrels if judged else queries) if q in queries]
        return topics_frame(queries, qids)

    def get_qrels(self, variant: str | None = None) -> Any:
        from .frames import qrels_frame

        return qrels_frame(self.collection.qrels)

    def get_corpus_iter(self, verbose: bool = False) -> Iterator[dict[str, str]]:
        if self.collection.docs is None:
            raise DataError(f"collection {self.name!r} has no documents")
        for doc, text in self.collection.docs:
            yield {"docno": doc, "text": text}

    def text_loader(self, fields: Any = "*", *, verbose: bool = False, **kwargs: Any) -> pt.Transformer:
        """For ``pt.text.get_text``: bench's collections have one text field, ``text``."""
        wanted = ["text"] if fields == "*" else [fields] if isinstance(fields, str) else list(fields)
        if wanted != ["text"]:
            raise DataError(f"bench collections have one document field, 'text'; asked for {wanted}")
        if self.collection.docs is None:
            raise DataError(f"collection {self.name!r} has no document text")
        return TextLoader(self.collection.docs)


def dataset(name: str, data_dir: str | os.PathLike[str] | None = None, collection_type: str | None = None) -> BenchDataset:
    """A bench collection for PyTerrier (``bench.pyterrier.dataset("vaswani", data_dir="../shared/data")``)."""
    return BenchDataset(name, data_dir, collection_type)
