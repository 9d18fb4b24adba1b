"""Local collections: a folder with ``queries.tsv``, ``qrels.txt``, ``corpus.jsonl`` and optional ``run.*.trec``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import DataError
from ..store import file_sha256
from ..trec import Qrels, _read_lines, read_qrels, read_run
from .base import Collection, doc_text
from .unranked import describe as describe_candidates

log = logging.getLogger(__name__)


class LocalDocs:
    """``corpus.jsonl`` held in memory: the subsets used locally are small."""

    def __init__(self, path: Path):
        self.path = path
        self._docs: dict[str, str] | None = None
        self._fingerprint: str | None = None

    def _load(self) -> dict[str, str]:
        if self._docs is None:
            docs: dict[str, str] = {}
            for number, line in _read_lines(self.path):
                try:
                    row = json.loads(line)
                    doc_id, text = str(row["doc_id"]), row.get("text")
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise DataError(f"{self.path}:{number}: expected a JSON object with \"doc_id\" and \"text\"") from None
                if not isinstance(text, str):
                    raise DataError(f"{self.path}:{number}: document {doc_id!r} has no \"text\" string")
                if doc_id in docs:
                    raise DataError(f"{self.path}:{number}: document {doc_id!r} appears twice; keep one line per document")
                docs[doc_id] = doc_text(row.get("title"), text)
            self._docs = docs
        return self._docs

    def get_many(self, doc_ids: list[str]) -> dict[str, str]:
        docs = self._load()
        return {d: docs[d] for d in doc_ids if d in docs}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._load().items())

    def __len__(self) -> int:
        return len(self._load())

    def fingerprint(self) -> str:
        """Content hash of corpus.jsonl, computed once (every stage's cache key uses it)."""
        if self._fingerprint is None:
            self._fingerprint = "sha256:" + file_sha256(self.path)
        return self._fingerprint


def _read_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for number, line in _read_lines(path):
        qid, sep, text = line.partition("\t")
        if not sep:
            raise DataError(f"{path}:{number}: expected 'qid<TAB>text'; separate the id and the text with a tab")
        if qid.strip() in queries:
            raise DataError(f"{path}:{number}: query id {qid.strip()!r} appears twice")
        queries[qid.strip()] = text.strip()
    if not queries:
        raise DataError(f"{path}: no queries found; expected lines 'qid<TAB>text'")
    return queries


def check_collection(name: str, queries: dict[str, str], qrels: Qrels) -> None:
    if not set(queries) & set(qrels):
        raise DataError(
            f"collection {name!r}: no query id in the queries is judged in the qrels "
            f"(e.g. queries {sorted(queries)[:3]}, qrels {sorted(qrels)[:3]}); check that both files belong to one collection"
        )
    empty = [q for q, t in queries.items() if not t.strip() and q in qrels]
    if empty:
        raise DataError(f"collection {name!r}: query {empty[0]!r} has empty text; fix or remove it ({len(empty)} such)")


def folder_type(folder: Path) -> str | None:
    """``type`` from the folder's ``collection.toml`` (``type = "beir"``), the family its official rules come from."""
    path = folder / "collection.toml"
    if not path.is_file():
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: invalid TOML ({exc})") from None
    unknown = sorted(set(data) - {"type"})
    if unknown or not isinstance(data.get("type"), str):
        raise DataError(f"{path}: expected one key, type = \"dl\" | \"msmarco\" | \"beir\" | \"robust04\"")
    return str(data["type"])


def load_local(name: str, folder: Path, candidates_file: str | None = None, collection_type: str | None = None) -> Collection:
    """Load a collection from a folder in the local layout (``collection_type`` or ``collection.toml`` names its family)."""
    for needed in ("queries.tsv", "qrels.txt"):
        if not (folder / needed).is_file():
            raise DataError(f"local collection {folder}: missing {needed}; a local collection needs queries.tsv and qrels.txt")
    queries = _read_queries(folder / "queries.tsv")
    qrels = read_qrels(folder / "qrels.txt")
    check_collection(name, queries, qrels)
    docs = LocalDocs(folder / "corpus.jsonl") if (folder / "corpus.jsonl").is_file() else None
    run_files = sorted(folder.glob("run.*.trec"))
    if candidates_file:
        run_files = [folder / candidates_file]
        if not run_files[0].is_file():
            raise DataError(f"local collection {folder}: candidates file {candidates_file} not found")
    candidates = candidates_name = None
    if len(run_files) > 1:
        log.warning("several candidate runs in %s; using %s (choose with candidates_file)", folder, run_files[0].name)
    if run_files:
        candidates = read_run(run_files[0])
        candidates_name = run_files[0].name
    return Collection(
        name=name,
        source=f"local:{folder}",
        queries=queries,
        qrels=qrels,
        docs=docs,
        candidates=candidates,
        candidates_name=candidates_name,
        rules_id=name,
        type_hint=collection_type or folder_type(folder),
        candidates_unranked=candidates is not None and describe_candidates(f"{folder.name}/{candidates_name}", candidates),
    )
