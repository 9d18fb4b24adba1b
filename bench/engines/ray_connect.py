"""Joining a Ray cluster within a deadline (``connect_timeout_s``, 30 s by default).

``ray.init(address=...)`` to an address where nothing listens, or where something that is
not Ray listens, retries for minutes without a word. So before Ray is asked, the address is
probed with a plain socket: connect (retrying while refused: a head node may be starting),
then send HTTP/2's connection preface, which any gRPC server (Ray's GCS, the Ray Client
server behind ``ray://``) must answer with a SETTINGS frame. Nothing is started on this
machine before the probe passes, so a bad address leaves no process behind. ``ray.init``
itself then runs within what is left of the deadline (a cluster that answers but does not
let this process join: another Ray version, a machine that is not one of its nodes).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from typing import Any

from ..errors import ConfigError
from ..waits import Wait, call, limit, option, waiting

log = logging.getLogger(__name__)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # the preface, then an empty SETTINGS frame
SETTINGS = 0x04  # HTTP/2 frame type of the server's first frame
FIX = "use the head node's GCS address (HOST:6379 by default, as `ray start --head` prints) or ray://HOST:10001"


def join(ray: Any, address: str, seconds: float | None = None, **kwargs: Any) -> None:
    """``ray.init(address=address, **kwargs)``, or one line naming the address within ``seconds`` (default: the ``connect`` deadline)."""
    seconds = limit("connect") if seconds is None else seconds
    fix = f"start one with `ray start --head`, fix --ray-address/RAY_ADDRESS, or raise {option('connect')}"
    with waiting(f"the Ray cluster at {address!r}", seconds, fix, ConfigError) as wait:
        probe(address, wait)
        wait.detail = ("Ray answers there, but ray.init has not returned: is this machine one of the cluster's nodes "
                       f"(else use ray://HOST:10001), with Ray {ray.__version__} like the cluster?")
        logging.getLogger("ray._private.worker").addFilter(_not_main_thread_note)
        try:
            call(lambda: ray.init(address=address, **kwargs), wait)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot join the Ray cluster at {address!r} ({str(exc).splitlines()[0]}); "
                              "start one with `ray start --head` or drop --ray-address/RAY_ADDRESS") from None


def _not_main_thread_note(record: logging.LogRecord) -> bool:
    """Ray's note that it set no SIGTERM handler (ray.init runs in a helper thread): bench's own handler stays, as wanted."""
    return not str(record.msg).startswith("SIGTERM handler is not set")


def host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST:PORT``; None for what only Ray resolves (``auto``)."""
    text = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def probe(address: str, wait: Wait) -> None:
    """Return once a gRPC server answers at ``address``; one line when it is not Ray, or nothing answers in time."""
    where = host_port(address)
    if where is None:
        return
    tls = os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true")
    while True:
        try:
            with socket.create_connection(where, timeout=max(0.1, min(wait.remaining, 5.0))) as sock:
                if tls:  # the preface would be refused before the TLS handshake: connecting is all we check
                    return
                reply = _hello(sock, wait)
        except socket.gaierror as exc:
            raise ConfigError(f"cannot resolve the host of the Ray address {address!r} ({exc.strerror}); fix --ray-address/RAY_ADDRESS") from None
        except ConnectionRefusedError:
            wait.detail = "connection refused: nothing listens there"
        except OSError as exc:  # timeouts, unreachable networks
            wait.detail = f"cannot connect: {exc.strerror or exc or type(exc).__name__}"
        else:
            if reply is None:
                return
            raise ConfigError(f"the Ray address {address!r} answers, but not as a Ray cluster ({reply}); {FIX}")
        wait.check()
        time.sleep(min(0.5, wait.remaining))


def _hello(sock: socket.socket, wait: Wait) -> str | None:
    """None when the peer answers the HTTP/2 preface with SETTINGS (gRPC), else what it did instead."""
    closed = "it closed the connection without a gRPC reply"
    try:
        sock.sendall(PREFACE)
    except (BrokenPipeError, ConnectionResetError):
        return closed
    data = b""
    while len(data) < 9:
        sock.settimeout(max(0.05, min(wait.remaining, 1.0)))
        try:
            chunk = sock.recv(9 - len(data))
        except TimeoutError:
            wait.detail = "something listens there but sends no gRPC reply: not a Ray GCS or Ray Client port?"
            wait.check()
            continue
        except ConnectionResetError:
            return closed
        if not chunk:
            return closed
        data += chunk
    if data[3] == SETTINGS:
        return None
    with contextlib.suppress(OSError):  # the rest of its first line, to recognise what it is
        sock.settimeout(0.2)
        data += sock.recv(64)
    return f"it replied {data.splitlines()[0][:40]!r}, not gRPC"
