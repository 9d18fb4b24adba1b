"""Collections read through ir_datasets' own loaders (which may download); documents and candidates stay lazy."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from ..errors import DataError
from ..measures import official_measures
from ..store import stable_hash
from ..trec import Qrels, Run
from .base import Collection, doc_text
from .local import check_collection

log = logging.getLogger(__name__)


class IrDatasetsDocs:
    """Documents of an ir_datasets dataset, read through its docstore."""

    def __init__(self, dataset: object, dataset_id: str):
        self.dataset = dataset
        self.dataset_id = dataset_id

    @staticmethod
    def _text(doc: object) -> str:
        title = getattr(doc, "title", None)
        text = getattr(doc, "text", None)
        if text is None and hasattr(doc, "default_text"):
            return str(doc.default_text())  # type: ignore[attr-defined]
        return doc_text(title, text or "")

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        store = self.dataset.docs_store()  # type: ignore[attr-defined]
        return {d: self._text(doc) for d, doc in store.get_many(doc_ids).items()}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for doc in self.dataset.docs_iter():  # type: ignore[attr-defined]
            yield doc.doc_id, self._text(doc)

    def __len__(self) -> int:
        return int(self.dataset.docs_count())  # type: ignore[attr-defined]

    def fingerprint(self) -> str:
        import ir_datasets

        return "ir_datasets:" + stable_hash([self.dataset_id, len(self), ir_datasets.__version__])


@contextlib.contextmanager
def _quiet_ir_datasets() -> Iterator[None]:
    """ir_datasets logs each failed download try at INFO/WARNING; our one-line error says it all."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _ir_datasets_error(name: str, dataset_id: str, what: str, exc: BaseException) -> DataError:
    text = str(exc)
    host = re.search(r"(?:Failed to resolve|host=)\s*\\*'([^'\\]+)", text)
    if host:
        reason = f"download failed: cannot reach {host.group(1)}"
    else:
        reason = (text.strip().splitlines()[0] if text.strip() else type(exc).__name__)[:160]
    return DataError(
        f"collection {name!r} (ir_datasets {dataset_id!r}): could not load {what} ({reason}); "
        f"offline? put a local copy in DIR/{name}/ (queries.tsv, qrels.txt, corpus.jsonl, run.*.trec) and pass --data-dir DIR"
    )


def load_ir_datasets(name: str, dataset_id: str) -> Collection:
    """Load queries and qrels through ir_datasets; documents and candidates stay lazy."""
    import ir_datasets

    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        from . import unknown_collection

        raise unknown_collection(name) from None
    with _quiet_ir_datasets():
        return _read_ir_datasets(name, dataset_id, dataset)


def _read_ir_datasets(name: str, dataset_id: str, dataset: Any) -> Collection:
    for needed in ("queries", "qrels"):
        if not getattr(dataset, f"has_{needed}")():
            raise DataError(f"ir_datasets {dataset_id!r} has no {needed}; choose a dataset id with queries and qrels")
    try:
        queries = {q.query_id: _query_text(q) for q in dataset.queries_iter()}
    except Exception as exc:  # downloads raise many types; all mean "could not get the data"
        raise _ir_datasets_error(name, dataset_id, "queries", exc) from exc
    try:
        qrels: Qrels = {}
        for row in dataset.qrels_iter():
            qrels.setdefault(row.query_id, {})[row.doc_id] = int(row.relevance)
    except Exception as exc:
        raise _ir_datasets_error(name, dataset_id, "qrels", exc) from exc
    check_collection(name, queries, qrels)
    candidates: Run | None = None
    if dataset.has_scoreddocs():
        try:
            candidates = {}
            for row in dataset.scoreddocs_iter():
                candidates.setdefault(row.query_id, {})[row.doc_id] = float(row.score)
        except Exception as exc:
            log.warning("candidates of %s unavailable: %s", dataset_id, exc)
            candidates = None
    return Collection(
        name=name,
        source=f"ir_datasets:{dataset_id}",
        queries=queries,
        qrels=qrels,
        docs=IrDatasetsDocs(dataset, dataset_id) if dataset.has_docs() else None,
        candidates=candidates,
        candidates_name="scoreddocs" if candidates is not None else None,
        measures=official_measures(dataset_id),
    )


def _query_text(query: object) -> str:
    text = getattr(query, "text", None)
    if text is None and hasattr(query, "default_text"):
        text = query.default_text()  # type: ignore[attr-defined]
    return str(text or "")
