"""The backend options every generative family shares, and what of them goes into a stage's key.

A family's options dataclass inherits :class:`BackendOptions`, so ``--option backend=openai
--option endpoint=URL`` works the same for every family. What changes the output (backend,
served model id, stated revision, decoding, prompt shape) is in the key; where the model is
served from, how hard it is pushed, how failures are retried, the key's variable name,
prices and the cache switch are not: the same model behind another URL gives the same
run. ``hf`` keys exactly as before backends existed, so old runs keep their hashes.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from dataclasses import dataclass, fields
from typing import Any

from ..errors import ConfigError
from ..ranking import ENDPOINT, FOLDER

API_KINDS = ("completions", "chat")


@dataclass(frozen=True)
class BackendOptions:
    """Where a generative family's model runs: ``hf`` (in process), ``vllm`` (in-process vllm.LLM) or ``openai`` (a server)."""

    backend: str = "hf"
    endpoint: str | None = None  # openai: the server, e.g. http://127.0.0.1:8000 (never part of the key)
    model: str | None = None  # openai: the served model id (default: --model)
    revision: str | None = None  # openai: the model's revision as you state it (required for hosted APIs)
    api: str = "completions"  # openai: /v1/completions or /v1/chat/completions
    api_key_env: str | None = None  # openai: the environment variable holding the API key
    tokenizer: str | None = None  # openai: a local tokenizer folder, to send token ids (exact prompts, truncation)
    max_concurrency: int = 4
    timeout_s: float | None = None  # per request (default: $BENCH_REQUEST_TIMEOUT_S, 600 s)
    retries: int = 5
    max_requests: int | None = None  # the run's request budget (openai)
    top_logprobs: int = 20  # next-token log-probabilities asked for (yes/no answer tokens must be among them)
    seed: int = 0  # sent with every request and recorded
    price_prompt: float | None = None  # USD per million prompt tokens (cost per query in the record)
    price_completion: float | None = None  # USD per million completion tokens
    response_cache: bool = True  # --no-response-cache turns it off


# Options that never change what a model answers.
NOT_IN_KEY = ("endpoint", "api_key_env", "max_concurrency", "timeout_s", "retries", "max_requests", "price_prompt", "price_completion",
              "response_cache")
BACKEND_FIELDS = tuple(f.name for f in fields(BackendOptions))


def backend_of(options: Any) -> str:
    return str(getattr(options, "backend", "hf") or "hf")


def source(options: Any) -> str:
    """A served model (``openai``) is an endpoint; ``hf`` and ``vllm`` read a located folder."""
    return ENDPOINT if backend_of(options) == "openai" else FOLDER


def key_options(own: dict[str, Any], options: Any) -> dict[str, Any]:
    """``own`` (the family's options without the backend's) plus, off ``hf``, what of the backend changes the output."""
    backend = backend_of(options)
    if backend == "hf":
        return own  # the same dict as before backends: old runs keep their hash
    extra = {f: getattr(options, f) for f in BACKEND_FIELDS if f not in NOT_IN_KEY and f not in ("endpoint", "model", "revision", "tokenizer")}
    if backend == "openai":
        extra["token_ids"] = bool(getattr(options, "tokenizer", None))  # token-id prompts vs text the server tokenises
    else:
        extra.pop("api", None)
    return {**own, **extra}


def family_options(options: Any) -> dict[str, Any]:
    """The family's own options (without the backend's), as a plain dict."""
    return {f.name: getattr(options, f.name) for f in fields(options) if f.name not in BACKEND_FIELDS}


def endpoint_key(options: Any, prompt: str | None) -> dict[str, Any]:
    """A served model's identity: model id, stated revision, decoding and prompt preset. Never the URL."""
    return {"model": options.model, "revision": options.revision, "decoding": {"temperature": 0.0, "seed": options.seed}, "prompt": prompt}


def is_local(endpoint: str) -> bool:
    """True for a server on this machine or a private network (a hosted API is anything else)."""
    host = urllib.parse.urlparse(endpoint).hostname or ""
    if host in ("localhost",) or host.endswith(".local") or "." not in host and ":" not in host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def check(options: Any, where: str) -> None:
    """One-line errors for backend options that cannot work, before anything loads."""
    from . import BACKENDS

    backend = backend_of(options)
    if backend not in BACKENDS:
        raise ConfigError(f"{where}: unknown backend {backend!r}; use one of {', '.join(BACKENDS.names())}")
    if backend != "openai":
        return
    endpoint = options.endpoint
    if not endpoint:
        raise ConfigError(f"{where}: backend openai needs an endpoint (--option endpoint=http://127.0.0.1:8000)")
    parsed = urllib.parse.urlparse(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(f"{where}: endpoint {endpoint!r} is not an http(s) URL; e.g. --option endpoint=http://127.0.0.1:8000")
    if not options.model:
        raise ConfigError(f"{where}: backend openai needs the served model id (--model ID or --option model=ID)")
    if options.api not in API_KINDS:
        raise ConfigError(f"{where}: api {options.api!r} is not one of {', '.join(API_KINDS)}")
    if not is_local(endpoint) and not options.revision:
        raise ConfigError(f"{where}: {endpoint} is a hosted API, whose models change under the same name; state the model's revision "
                          "(--option revision=DATE-OR-SNAPSHOT), it goes into the run's key")
    if options.max_concurrency < 1 or options.retries < 0 or (options.timeout_s is not None and options.timeout_s <= 0):
        raise ConfigError(f"{where}: max_concurrency must be >= 1, retries >= 0 and timeout_s > 0")
    if options.max_requests is not None and options.max_requests < 1:
        raise ConfigError(f"{where}: max_requests must be >= 1 (or unset for no budget)")
    if options.top_logprobs < 1:
        raise ConfigError(f"{where}: top_logprobs must be >= 1")
