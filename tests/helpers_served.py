"""A test's own OpenAI-compatible HTTP server on 127.0.0.1: for faults, caching and key mechanics only.

It is NOT a model: its answers are plausible completions whose yes/no log-probabilities are a
hash of the prompt (so a run's scores are fixed and checkable), and it can be told to fail
the next requests (429 with Retry-After, 500, a dropped connection, a slow answer, malformed
JSON). It counts every request by its body, so a test can assert that a rerun asked nothing
or that no finished query was asked twice. Score parity is proven against a real vLLM
server (tests/test_vllm.py), never against this.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "tiny/served-reranker"


def fake_logprobs(prompt: str) -> tuple[float, float, float]:
    """(log P(yes), log P(no), log P(other)) from the prompt's hash: three outcomes whose probabilities sum to 1."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    a, b = 1 + digest[0], 1 + digest[1]
    total = a + b + 64
    return math.log(a / total), math.log(b / total), math.log(64 / total)


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (bench stopping at its request budget, a timeout) is not an error of this server's."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """``with FakeServer() as server:`` serves ``server.url`` until the block ends; ``server.faults`` is a list of faults to play next."""

    def __init__(self, models: tuple[str, ...] = (MODEL,), version: str | None = "0.0-test", delay_s: float = 0.0, on_request: Any = None,
                 skew: float = 0.0):
        self.models = models
        self.skew = skew  # added to log P(yes): a server whose numerics drifted
        self.version = version
        self.delay_s = delay_s
        self.faults: list[str] = []
        self.bodies: Counter[str] = Counter()  # request body -> times asked (completions only)
        self.paths: Counter[str] = Counter()
        self.on_request = on_request  # called with the prompt of each completions request
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self) -> int:
        return sum(self.bodies.values())

    def __enter__(self) -> FakeServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                with server.lock:
                    server.paths[self.path] += 1
                if self.path == "/v1/models":
                    self._send(200, json.dumps({"object": "list", "data": [{"id": m, "object": "model", "root": m, "max_model_len": 512}
                                                                           for m in server.models]}).encode())
                elif self.path == "/version" and server.version:
                    self._send(200, json.dumps({"version": server.version}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with server.lock:
                    server.paths[self.path] += 1
                    server.bodies[raw.decode("utf-8")] += 1
                    fault = server.faults.pop(0) if server.faults else None
                body = json.loads(raw)
                if server.on_request is not None:
                    server.on_request(body)
                if fault == "429":
                    return self._send(429, b'{"error": {"message": "rate limited"}}', {"Retry-After": "1"})
                if fault == "500":
                    return self._send(500, b'{"error": {"message": "internal error"}}')
                if fault == "drop":
                    self.close_connection = True
                    self.connection.close()
                    return None
                if fault == "slow":
                    time.sleep(3.0)
                if fault == "malformed":
                    return self._send(200, b'{"choices": [ {"text": "yes"')
                if fault == "400":
                    return self._send(400, b'{"error": {"message": "This model\'s maximum context length is 512 tokens"}}')
                if body.get("model") not in server.models:
                    return self._send(404, json.dumps({"error": {"message": f"The model `{body.get('model')}` does not exist."}}).encode())
                if server.delay_s:
                    time.sleep(server.delay_s)
                self._send(200, json.dumps(answer(body, server.skew)).encode())

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self.httpd is not None
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def answer(body: dict[str, Any], skew: float = 0.0) -> dict[str, Any]:
    """A completions (or chat) answer with yes/no top logprobs at the first position, and usage."""
    prompt = body.get("prompt") if "prompt" in body else json.dumps(body.get("messages"))
    text = prompt if isinstance(prompt, str) else json.dumps(prompt)
    yes, no, other = fake_logprobs(text)
    yes += skew
    tokens = max(1, len(text.split()))
    top = {"yes": yes, "no": no, "other": other}
    best = max(top, key=lambda k: top[k])
    usage = {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1}
    if "messages" in body:
        content = [{"token": best, "logprob": top[best], "top_logprobs": [{"token": k, "logprob": v} for k, v in top.items()]}]
        return {"id": "chat-1", "object": "chat.completion", "model": body["model"], "usage": usage,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": best}, "logprobs": {"content": content}, "finish_reason": "length"}]}
    return {"id": "cmpl-1", "object": "text_completion", "model": body["model"], "usage": usage,
            "choices": [{"index": 0, "text": best, "finish_reason": "length",
                         "logprobs": {"tokens": [best], "token_logprobs": [top[best]], "top_logprobs": [top], "text_offset": [0]}}]}
