"""The response cache of served models: one file per request, keyed by the exact request bytes and the stage's model identity.

A rerun of a finished experiment asks the server nothing. Entries are written atomically
(a temporary file in the same folder, then ``os.replace``), so concurrent runs share the
cache: a reader sees a whole entry or none, and two writers of the same request write the
same bytes. The URL is not part of the key (the same model behind another address answers
the same); the model id, the stated revision, the decoding and the prompt preset are.
Each entry keeps the request it answers, so ``bench reproduce --requests`` can ask again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_root() -> Path:
    from ..store import cache_dir

    return cache_dir() / "responses"


def request_key(identity: bytes, body: bytes, path: str) -> str:
    """sha256 over the model identity, the endpoint path and the exact request bytes."""
    digest = hashlib.sha256()
    for part in (identity, path.encode("utf-8"), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class ResponseCache:
    """Request key -> the server's JSON answer, on disk under ``root`` (``enabled=False``: never read, never written)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, enabled: bool = True):
        self.root = Path(root) if root is not None else default_root()
        self.enabled = enabled

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if not self.enabled:
            return None
        path = self.path(key)
        try:
            entry = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:  # a damaged entry is asked again, never trusted
            log.warning("response cache: ignoring unreadable %s (%s)", path, exc)
            return None
        response = entry.get("response") if isinstance(entry, dict) else None
        return response if isinstance(response, dict) else None

    def entry(self, key: str) -> dict[str, Any] | None:
        """The whole entry (request path, body and response) for ``bench reproduce --requests``."""
        try:
            data = json.loads(self.path(key).read_bytes())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def put(self, key: str, path: str, body: bytes, response: dict[str, Any]) -> None:
        if not self.enabled:
            return
        target = self.path(key)
        data = json.dumps({"path": path, "request": json.loads(body), "response": response}, sort_keys=True).encode("utf-8")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{key[:16]}.", suffix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as exc:  # a full or read-only cache costs requests on the rerun, never the run
            log.warning("response cache: cannot write %s (%s); the answer is used but not cached", target, exc)
