"""Waiting for a model server (served-model rerankers): its health check and each request, with deadlines.

The served-model backend is not written yet; this is the piece of it every backend needs,
so that none of them can hang: :func:`wait_until_healthy` polls a health URL until it
answers 2xx (a server still loading its model answers 503, or refuses connections), with
the heartbeat of :mod:`bench.waits` and one line when the ``server`` deadline passes;
:func:`request_timeout` is the per-request deadline to pass to the HTTP client
(``requests.post(..., timeout=request_timeout())``).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from .errors import ModelError
from .waits import limit, option, waiting


def request_timeout() -> float:
    """Seconds one request to a model server may take (``$BENCH_REQUEST_TIMEOUT_S``, default 600)."""
    return limit("request")


def wait_until_healthy(url: str, seconds: float | None = None, interval_s: float = 1.0) -> None:
    """Return once GET ``url`` answers 2xx; one :class:`ModelError` line after ``seconds`` (default: the ``server`` deadline)."""
    seconds = limit("server") if seconds is None else seconds
    fix = f"start the server, check the URL, or raise {option('server')} if its model takes longer to load"
    with waiting(f"the model server at {url} to become healthy", seconds, fix, ModelError) as wait:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=max(0.1, min(wait.remaining, 10.0))) as response:
                    if 200 <= response.status < 300:
                        return
                    wait.detail = f"last answer: HTTP {response.status}"
            except urllib.error.HTTPError as exc:  # 503 while the model loads
                wait.detail = f"last answer: HTTP {exc.code}"
            except urllib.error.URLError as exc:
                wait.detail = f"last try: {getattr(exc.reason, 'strerror', None) or exc.reason}"
            except OSError as exc:  # connected, but no answer in time
                wait.detail = f"last try: {exc.strerror or exc or 'no answer'}"
            wait.check()
            time.sleep(min(interval_s, wait.remaining))
