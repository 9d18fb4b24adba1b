"""An HTTP client for OpenAI-compatible servers: bounded concurrency, timeouts, retries, a request budget.

Standard library only (``urllib``): the project needs no HTTP dependency for this. Every
socket operation has a timeout; 429, 5xx, dropped connections and timeouts are retried with
exponential backoff and full jitter, waiting at least what ``Retry-After`` asks (capped by
``max_wait_s``); anything else, or a fault that outlasts the retries, is one
:class:`~bench.errors.ModelError` line naming the URL and what went wrong. The counters
(requests sent, retries, tokens reported in ``usage``) are what the record states.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError

log = logging.getLogger(__name__)

RETRIED_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass
class Counters:
    """What the client did, for the record (thread-safe through the client's lock)."""

    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # fault -> times seen ("429", "500", "timeout", ...)
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RequestFailed(ModelError):
    """A request that did not succeed: ``reason`` says why in a few words, ``status`` the HTTP status if any."""

    def __init__(self, message: str, reason: str = "", status: int | None = None):
        super().__init__(message)
        self.reason = reason or message
        self.status = status


class BudgetSpent(ModelError):
    """The per-run request budget is spent: finished queries are kept, the rerun resumes."""


class Client:
    """One endpoint (``http://host:port`` with or without ``/v1``); thread-safe, at most ``max_concurrency`` requests in flight."""

    def __init__(self, endpoint: str, api_key: str | None = None, timeout_s: float = 60.0, retries: int = 5, max_concurrency: int = 4,
                 max_requests: int | None = None, backoff_s: float = 0.5, max_wait_s: float = 30.0):
        base = endpoint.rstrip("/")
        self.base = base[: -len("/v1")] if base.endswith("/v1") else base
        self.api_key = api_key
        self.timeout_s = float(timeout_s)
        self.retries = int(retries)
        self.max_requests = max_requests
        self.backoff_s = float(backoff_s)
        self.max_wait_s = float(max_wait_s)
        self.slots = threading.BoundedSemaphore(max(1, int(max_concurrency)))
        self.counters = Counters()
        self._lock = threading.Lock()
        self._random = random.Random()

    # -- plumbing ------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def _count(self, fault: str | None = None, usage: dict[str, Any] | None = None, sent: bool = False) -> None:
        with self._lock:
            if sent:
                if self.max_requests is not None and self.counters.requests >= self.max_requests:
                    raise BudgetSpent(f"request budget of {self.max_requests} spent on {self.base}; finished queries are kept, "
                                      "rerun (with a larger max_requests) to resume")
                self.counters.requests += 1
            if fault:
                self.counters.failures[fault] = self.counters.failures.get(fault, 0) + 1
            if usage:
                self.counters.prompt_tokens += int(usage.get("prompt_tokens") or 0)
                self.counters.completion_tokens += int(usage.get("completion_tokens") or 0)

    def _headers(self, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "bench"}
        if body:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _once(self, method: str, path: str, body: bytes | None, timeout_s: float) -> tuple[int, dict[str, str], bytes]:
        """One request: (status, headers, body bytes); a transport fault raises OSError / http.client exceptions."""
        request = urllib.request.Request(self.url(path), data=body, method=method, headers=self._headers(body is not None))
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            try:
                data = exc.read()
            except (OSError, http.client.HTTPException):
                data = b""
            return exc.code, dict(exc.headers.items()) if exc.headers else {}, data

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        """Full-jitter exponential backoff, never shorter than what ``Retry-After`` asks (capped at ``max_wait_s``)."""
        wait = self._random.uniform(0, self.backoff_s * (2**attempt))
        asked = _retry_after(retry_after)
        if asked is not None:
            wait = max(wait, asked)
        return min(wait, self.max_wait_s)

    # -- requests ------------------------------------------------------------------------
    def request(self, method: str, path: str, body: bytes | None = None, timeout_s: float | None = None, retries: int | None = None,
                counted: bool = True) -> dict[str, Any]:
        """The JSON answer of ``method path``, retrying what can succeed on a second try; one-line ModelError otherwise."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        retries = self.retries if retries is None else retries
        url = self.url(path)
        last = ""
        for attempt in range(retries + 1):
            if attempt:
                with self._lock:
                    self.counters.retries += 1
            if counted:
                self._count(sent=True)
            retry_after = None
            try:
                with self.slots:
                    status, headers, data = self._once(method, path, body, timeout_s)
            except TimeoutError as exc:
                fault, last = "timeout", f"no answer within {timeout_s:g} s ({exc})"
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError):
                    fault, last = "timeout", f"no answer within {timeout_s:g} s"
                elif isinstance(reason, ConnectionRefusedError):
                    fault, last = "refused", "connection refused (is the server running?)"
                else:
                    fault, last = "connection", f"connection failed ({reason})"
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                fault, last = "connection", f"connection dropped ({type(exc).__name__}: {exc})"
            else:
                if status < 300:
                    try:
                        answer = json.loads(data)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        fault, last = "malformed", f"answered HTTP {status} with malformed JSON ({data[:80]!r})"
                    else:
                        if isinstance(answer, dict):
                            self._count(usage=answer.get("usage") if counted else None)
                            return answer
                        fault, last = "malformed", f"answered HTTP {status} with JSON that is not an object ({data[:80]!r})"
                else:
                    fault = str(status)
                    last = f"answered HTTP {status}: {_message(data)}"
                    if status not in RETRIED_STATUS:
                        self._count(fault)
                        raise RequestFailed(f"{method} {url} {last}", last, status)
                    retry_after = _header(headers, "Retry-After")
            self._count(fault)
            if attempt < retries:
                wait = self._wait(attempt, retry_after)
                log.warning("%s %s %s; retry %d of %d in %.1f s", method, url, last, attempt + 1, retries, wait)
                time.sleep(wait)
        raise RequestFailed(f"{method} {url} {last}, after {retries + 1} attempts; check the server (or raise the options retries/timeout_s)", last)

    def post(self, path: str, body: bytes) -> dict[str, Any]:
        return self.request("POST", path, body)

    def get(self, path: str, retries: int | None = None, timeout_s: float | None = None) -> dict[str, Any]:
        return self.request("GET", path, None, timeout_s=timeout_s, retries=retries, counted=False)


def _header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message(data: bytes) -> str:
    """The server's error message (OpenAI's ``{"error": {"message"}}``, vLLM's ``{"message"}``), on one line."""
    try:
        body = json.loads(data)
        error = body.get("error", body) if isinstance(body, dict) else body
        text = error.get("message") if isinstance(error, dict) else str(error)
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        text = data[:200].decode("utf-8", "replace")
    return " ".join(str(text or "(no message)").split())[:300]
