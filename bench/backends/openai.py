"""Any OpenAI-compatible endpoint (vLLM, SGLang, TGI, llama.cpp server, a hosted API) as a generation backend.

One prompt is one request to ``/v1/completions`` (text or token ids) or
``/v1/chat/completions`` (messages), sent with temperature 0 and a fixed seed, up to
``max_concurrency`` at a time. Each answer is cached under the exact request bytes and the
model's identity (:mod:`bench.backends.cache`), so a rerun asks nothing; the server's
``usage`` gives the tokens billed. ``load`` asks ``/v1/models`` (and vLLM's ``/version``):
an unreachable server or a model id it does not serve is one line naming the URL and the
models it does serve, and what it reported is recorded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..errors import ConfigError, ModelError
from . import tokens
from .base import Backend, Completion, Decoding, Prompt, Scored
from .cache import ResponseCache, request_key
from .client import Client, RequestFailed

log = logging.getLogger(__name__)


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: Any, settings: Any, options: Any, identity: dict[str, Any] | None = None):
        super().__init__(model, settings, options)
        self.identity = identity or {"model": options.model, "revision": options.revision}
        self.client: Client | None = None
        self.server: dict[str, Any] = {}
        self.tokenizer: Any = None

    # -- set-up ----------------------------------------------------------------------------
    def load(self) -> None:
        opts = self.options
        api_key = None
        if opts.api_key_env:
            api_key = os.environ.get(opts.api_key_env)
            if not api_key:
                raise ConfigError(f"option api_key_env names ${opts.api_key_env}, which is not set; export it with the API key")
        from ..server_waits import request_timeout

        timeout_s = opts.timeout_s if opts.timeout_s is not None else request_timeout()
        self.client = Client(opts.endpoint, api_key, timeout_s, opts.retries, opts.max_concurrency, opts.max_requests)
        self.cache = ResponseCache(enabled=opts.response_cache)
        self._identity = json.dumps(self.identity, sort_keys=True).encode("utf-8")
        self.server = self._ask_server()
        if opts.tokenizer:
            from transformers import AutoTokenizer

            try:
                self.tokenizer = AutoTokenizer.from_pretrained(opts.tokenizer)
            except (OSError, ValueError) as exc:
                raise ModelError(f"option tokenizer {opts.tokenizer!r} could not be loaded: {str(exc).splitlines()[0]}") from None

    def _ask_server(self) -> dict[str, Any]:
        """What the server says about itself; one line when it does not answer or does not serve the model."""
        assert self.client is not None
        url, model = self.client.url("/v1/models"), self.options.model
        try:
            listing = self.client.get("/v1/models", retries=min(2, self.client.retries), timeout_s=min(30.0, self.client.timeout_s))
        except RequestFailed as exc:
            if exc.status == 404:  # a server that lists nothing: the model id is checked by its first answer
                log.warning("%s answered 404; cannot check that it serves %r", url, model)
                return {"models": None}
            if exc.status is not None:
                raise ModelError(f"endpoint {url} {exc.reason}; check the server and --option api_key_env") from None
            raise ModelError(f"endpoint {self.client.base} is unreachable ({exc.reason}); start the server or fix --option endpoint") from None
        models = [m for m in listing.get("data") or [] if isinstance(m, dict)]
        ids = [str(m.get("id")) for m in models]
        if model not in ids:
            raise ModelError(f"endpoint {url} does not serve model {model!r}; it serves: {', '.join(ids) or 'nothing'}; "
                             "set --model (or --option model=) to one of them")
        served = next(m for m in models if m.get("id") == model)
        out: dict[str, Any] = {"models": ids, "model": {k: served[k] for k in ("id", "root", "owned_by", "max_model_len", "created") if k in served}}
        try:
            out["version"] = self.client.get("/version", retries=0, timeout_s=10.0).get("version")
        except ModelError:
            pass  # only vLLM answers /version
        return out

    def describe(self) -> dict[str, Any]:
        opts = self.options
        out = {"backend": self.name, "endpoint": opts.endpoint, "model": opts.model, "revision": opts.revision, "api": opts.api,
               "api_key_env": opts.api_key_env,
               "server": self.server, "decoding": {"temperature": 0.0, "seed": opts.seed}, "max_concurrency": opts.max_concurrency,
               "response_cache": str(self.cache.root) if opts.response_cache else None,
               "prompts": "token ids" if self.tokenizer is not None else "text"}
        if self.client is not None:
            c = self.client.counters
            out["requests"] = {"sent": c.requests, "retries": c.retries, "faults": dict(c.failures), "prompt_tokens": c.prompt_tokens,
                               "completion_tokens": c.completion_tokens}
        if opts.price_prompt is not None or opts.price_completion is not None:
            out["price_per_million"] = {"prompt": opts.price_prompt or 0.0, "completion": opts.price_completion or 0.0}
        return out

    def render(self, prompt: Prompt) -> str:
        if self.tokenizer is not None:
            return tokens.render(self.tokenizer, prompt)
        if prompt.text is not None:
            return prompt.text
        return "\n".join(f"{role}: {content}" for role, content in prompt.messages)  # the server applies its own chat template

    def context_length(self) -> int | None:
        limit = (self.server.get("model") or {}).get("max_model_len")
        return int(limit) if limit else None

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return len(tokens.encode(self.tokenizer, text))
        assert self.client is not None
        body = json.dumps({"model": self.options.model, "prompt": text, "add_special_tokens": False}).encode()
        try:
            return int(self.client.post("/tokenize", body)["count"])  # vLLM's extension
        except (ModelError, KeyError, TypeError, ValueError):
            raise ModelError(f"endpoint {self.client.base} cannot count tokens (no /tokenize); set --option tokenizer=FOLDER") from None

    # -- requests --------------------------------------------------------------------------
    def _body(self, prompt: Prompt, decoding: Decoding, logprobs: int | None) -> tuple[str, bytes]:
        opts = self.options
        body: dict[str, Any] = {"model": opts.model, "max_tokens": decoding.max_new_tokens, "temperature": decoding.temperature,
                                "top_p": decoding.top_p, "seed": opts.seed}
        if decoding.stop:
            body["stop"] = list(decoding.stop)
        if opts.api == "chat":
            if not prompt.messages:
                raise ConfigError("api chat needs chat messages; this family builds raw prompts: use --option api=completions")
            path = "/v1/chat/completions"
            body["messages"] = prompt.as_messages()
            if prompt.chat_template:
                body["chat_template"] = prompt.chat_template  # vLLM's extension; the model's own template otherwise
            if logprobs:
                body.update(logprobs=True, top_logprobs=logprobs)
        else:
            path = "/v1/completions"
            if self.tokenizer is not None:
                body["prompt"] = tokens.prompt_ids(self.tokenizer, prompt)  # the ids the hf backend runs
            elif prompt.text is not None:
                body["prompt"] = prompt.text
            else:
                raise ConfigError("api completions needs a text prompt or --option tokenizer=FOLDER to render chat messages; "
                                  "or use --option api=chat")
            if logprobs:
                body["logprobs"] = logprobs
        return path, json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    def _ask(self, path: str, body: bytes) -> tuple[dict[str, Any], bool, str]:
        """(answer, from the cache, request key): the cache first, else the server (and the answer cached)."""
        assert self.client is not None
        key = request_key(self._identity, body, path)
        cached = self.cache.get(key)
        if cached is not None:
            return cached, True, key
        answer = self.client.post(path, body)
        if not answer.get("choices"):
            raise ModelError(f"POST {self.client.url(path)} answered without choices: {json.dumps(answer)[:200]}")
        self.cache.put(key, path, body, answer)
        return answer, False, key

    def _fan_out(self, items: Sequence[Any], one: Callable[[Any], Any]) -> list[Any]:
        """``one`` over ``items`` with up to max_concurrency in flight, results in order."""
        if len(items) <= 1:
            return [one(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(len(items), self.options.max_concurrency), thread_name_prefix="bench-http") as pool:
            return list(pool.map(one, items))

    def complete(self, prompts: Sequence[Prompt], decoding: Decoding) -> list[Completion]:
        def one(prompt: Prompt) -> Completion:
            path, body = self._body(prompt, decoding, None)
            answer, cached, key = self._ask(path, body)
            choice = answer["choices"][0]
            text = choice.get("text") if "text" in choice else (choice.get("message") or {}).get("content")
            usage = answer.get("usage") or {}
            return Completion(str(text or ""), int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
                              "length" if choice.get("finish_reason") == "length" else "stop", cached, {"request": key})

        return self._fan_out(prompts, one)

    def next_token_logprobs(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[dict[str, float]]:
        return [s.logprobs for s in self.score_next_token(prompts, candidates)]

    def score_next_token(self, prompts: Sequence[Prompt], candidates: Sequence[str]) -> list[Scored]:
        decoding = Decoding(max_new_tokens=1)

        def one(prompt: Prompt) -> Scored:
            path, body = self._body(prompt, decoding, self.options.top_logprobs)
            answer, cached, key = self._ask(path, body)
            top = first_top_logprobs(answer)
            if not top:
                raise ModelError(f"{self.options.endpoint} answered without logprobs for model {self.options.model!r}; "
                                 "the server must support logprobs (vLLM: --max-logprobs at least top_logprobs)")
            usage = answer.get("usage") or {}
            values, missing = pick(top, candidates, texts)
            return Scored(values, int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0), cached, missing, key)

        texts = tokens.candidate_texts(self.tokenizer, candidates) if self.tokenizer is not None else list(candidates)
        return self._fan_out(prompts, one)


def first_top_logprobs(answer: dict[str, Any]) -> dict[str, float]:
    """The first generated position's top log-probabilities, token text -> logprob, from a completions or chat answer."""
    logprobs = (answer.get("choices") or [{}])[0].get("logprobs") or {}
    out: dict[str, float] = {}
    if "content" in logprobs:  # chat
        content = logprobs.get("content") or []
        if content:
            for entry in [content[0], *(content[0].get("top_logprobs") or [])]:
                _keep(out, entry.get("token"), entry.get("logprob"))
        return out
    for token, value in ((logprobs.get("top_logprobs") or [None])[0] or {}).items():  # completions
        _keep(out, token, value)
    tokens, values = logprobs.get("tokens") or [], logprobs.get("token_logprobs") or []
    if tokens and values:
        _keep(out, tokens[0], values[0])
    return out


def _keep(out: dict[str, float], token: Any, value: Any) -> None:
    if token is not None and value is not None:
        out[str(token)] = max(float(value), out.get(str(token), float("-inf")))


def pick(top: dict[str, float], candidates: Sequence[str], texts: Sequence[str] | None = None) -> tuple[dict[str, float], tuple[str, ...]]:
    """Each candidate's logprob (found by ``texts``, the server's text of its token); one outside the top-k gets the lowest
    returned value (an upper bound) and is listed missing."""
    texts = list(texts) if texts is not None else list(candidates)
    floor = min(top.values())
    missing = tuple(c for c, t in zip(candidates, texts) if t not in top)
    return {c: top.get(t, floor) for c, t in zip(candidates, texts)}, missing
