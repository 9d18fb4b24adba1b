"""No silent hangs: every wait has a deadline, says what it waits for, and ends in one line.

Each test that runs ``bench`` runs it as a real process in its own session and fails if it is
still running ``GRACE_S`` seconds past the deadline under test (the process group is then
killed). Ray-address tests also record every process ``bench`` started (the process table,
by pid, while it runs) and fail if any is still alive after it exits. The servers are the
tests' own, on 127.0.0.1: a port where nothing listens, a TCP server that is not Ray, an
HTTP server that sends headers and then nothing (for ir_datasets' own downloader), a model
server that answers 503 before 200.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench import waits
from bench.cli import build_parser, main
from bench.config import ExecutionConfig
from bench.errors import BenchError, ConfigError, ModelError

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 30.0  # a test fails when bench is still running this long after the deadline it tests


@pytest.fixture(autouse=True)
def _default_deadlines():
    waits.configure()
    yield
    waits.configure()


# -- running bench, watching what it starts --------------------------------------------------


def _stat(pid: int) -> tuple[int, int, int] | None:
    """(ppid, session id, start time) of a live process, from the process table."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[1]), int(fields[3]), int(fields[19])) if fields[0] != "Z" else None


def _descendants(root: int) -> dict[int, int]:
    """Every live process under ``root`` (by parent pid), with its start time (so a reused pid is not mistaken for it)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            children.setdefault(info[0], []).append(int(entry))
            starts[int(entry)] = info[2]
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found[child] = starts[child]
                todo.append(child)
    return found


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    left: list[int]  # processes bench started that were still alive after it exited

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    # IR_DATASETS_DL_TIMEOUT too: bench sets it in this test process whenever an in-process test loads an ir_datasets
    # collection, and a child would read the inherited value as the user's own (30 s, not the test's 2 s)
    env = {k: v for k, v in os.environ.items() if k not in waits.ENV.values() and k not in ("RAY_ADDRESS", "IR_DATASETS_DL_TIMEOUT")}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               BENCH_CACHE_DIR=str(tmp / "cache"), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update(extra)
    return env


def _bench(argv: list[str], tmp: Path, deadline_s: float, runner: str | None = None, **env: str) -> Done:
    """``python -m bench ARGV`` (or ``python -c RUNNER ARGV``), failing the test if it outlives ``deadline_s + GRACE_S``."""
    cmd = [sys.executable, "-c", runner, *argv] if runner else [sys.executable, "-m", "bench", *argv]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=tmp, env=_env(tmp, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    seen: dict[int, int] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(_descendants(proc.pid))
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=deadline_s + GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"bench still running {deadline_s + GRACE_S:.0f} s after it started (deadline {deadline_s:g} s): {err[-2000:]}")
    finally:
        stop.set()
        watcher.join()
    elapsed = time.monotonic() - started
    time.sleep(0.5)  # a child on its way out
    left = [pid for pid, start in seen.items() if (info := _stat(pid)) is not None and info[2] == start]
    left += [int(e) for e in os.listdir("/proc") if e.isdigit() and (info := _stat(int(e))) is not None and info[1] == proc.pid]
    for pid in set(left):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return Done(proc.returncode, out, err, elapsed, sorted(set(left)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ray_argv(tiny_collection: Path, model: Path, address: str) -> list[str]:
    return ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--first-stage", "candidates", "--model", str(model),
            "--top-k", "5", "--workers", "2", "--ray-address", address, "--output", "out"]


# -- Ray: a dead address, a server that is not Ray -----------------------------------------------


def test_ray_address_where_nothing_listens_is_one_line_and_leaves_no_process(tiny_collection, tiny_cross_encoder, tmp_path):
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_free_port()}"
    done = _bench(["-q", *_ray_argv(tiny_collection, tiny_cross_encoder, address)], tmp_path, 3, BENCH_CONNECT_TIMEOUT_S="3")
    assert done.returncode == 2 and done.stdout == ""
    assert done.lines == [f"bench: error: gave up waiting for the Ray cluster at {address!r} after 3 s (connection refused: nothing listens "
                          "there); start one with `ray start --head`, fix --ray-address/RAY_ADDRESS, or raise [execution] connect_timeout_s "
                          "or $BENCH_CONNECT_TIMEOUT_S"], done.stderr
    assert done.left == [], f"processes bench started are still running: {done.left}"


@pytest.mark.slow
def test_ray_address_where_nothing_listens_default_deadline_and_heartbeat(tiny_collection, tiny_cross_encoder, tmp_path):
    """The issue's command at the default 30 s: a heartbeat every 10 s naming the address, then one error line; nothing left running."""
    pytest.importorskip("ray")
    address = f"127.0.0.1:{_free_port()}"
    done = _bench(_ray_argv(tiny_collection, tiny_cross_encoder, address), tmp_path, 30)
    assert done.returncode == 2 and done.elapsed >= 30
    for second in (10, 20):
        assert (f"INFO bench.waits: waiting for the Ray cluster at {address!r} ({second} s of 30 s; connection refused: nothing listens there)"
                in done.lines), done.stderr
    assert done.lines[-1].startswith(f"bench: error: gave up waiting for the Ray cluster at {address!r} after 30 s")
    assert done.left == [], f"processes bench started are still running: {done.left}"


@contextlib.contextmanager
def _tcp_server(behaviour: str):
    """A TCP server that is not Ray: ``silent`` accepts and says nothing; ``closes`` accepts and hangs up; ``http`` answers HTTP/1.1 400."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            if behaviour == "silent":
                held.append(conn)
                continue
            if behaviour == "http":
                conn.recv(1024)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()


def test_ray_address_of_a_tcp_server_that_is_not_ray_is_one_line(tiny_collection, tiny_cross_encoder, tmp_path):
    """A plain TCP server that accepts and says nothing: one line at the deadline, nothing left running."""
    pytest.importorskip("ray")
    with _tcp_server("silent") as address:
        done = _bench(["-q", *_ray_argv(tiny_collection, tiny_cross_encoder, address)], tmp_path, 3, BENCH_CONNECT_TIMEOUT_S="3")
    assert done.returncode == 2 and done.lines == [
        f"bench: error: gave up waiting for the Ray cluster at {address!r} after 3 s (something listens there but sends no gRPC reply: "
        "not a Ray GCS or Ray Client port?); start one with `ray start --head`, fix --ray-address/RAY_ADDRESS, or raise "
        "[execution] connect_timeout_s or $BENCH_CONNECT_TIMEOUT_S"], done.stderr
    assert done.left == [], f"processes bench started are still running: {done.left}"


@pytest.mark.parametrize("behaviour,reason", [
    ("closes", "it closed the connection without a gRPC reply"),
    ("http", "it replied b'HTTP/1.1 400 Bad Request', not gRPC"),
])
def test_a_server_that_answers_but_not_as_ray_is_refused_at_once(behaviour, reason):
    from bench.engines.ray_connect import FIX, probe

    with _tcp_server(behaviour) as address, pytest.raises(ConfigError) as raised, waits.waiting("the probe", 20) as wait:
        _bounded(lambda: probe(address, wait), 20 + GRACE_S)
    assert str(raised.value) == f"the Ray address {address!r} answers, but not as a Ray cluster ({reason}); {FIX}"
    assert wait.elapsed < 10, "a definite answer is not retried until the deadline"


# -- locks on run files ---------------------------------------------------------------------


HOLDER = """import sys, time
from bench.store import file_lock
with file_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def _holder(path: Path, seconds: float, tmp: Path):
    """Another process holding ``path``'s lock (through bench's own ``file_lock``) for ``seconds``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], env=_env(tmp), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _candidates_argv(tiny_collection: Path, *extra: str) -> list[str]:
    return ["run", "tiny", "--data-dir", str(tiny_collection.parent), "--first-stage", "candidates", "--output", "out", *extra]


def test_a_lock_held_by_a_live_process_is_waited_for_naming_its_pid(tiny_collection, tmp_path):
    results = tmp_path / "out" / "reports" / "tiny" / "results.json"
    with _holder(results, 8, tmp_path) as holder:
        done = _bench(_candidates_argv(tiny_collection), tmp_path, 8)
        holder_finished = holder.poll() is not None
    assert done.returncode == 0, done.stderr
    waiting = [line for line in done.lines if "waiting for another run that is computing" in line]
    assert len(waiting) == 1 and f"(held by pid {holder.pid} on host {socket.gethostname()} since " in waiting[0], done.stderr
    assert holder_finished, "bench finished while the other process still held the lock"
    assert results.is_file()


def test_a_lock_left_by_a_sigkilled_run_is_taken_over_at_once(tiny_collection, tmp_path):
    results = tmp_path / "out" / "reports" / "tiny" / "results.json"
    with _holder(results, 120, tmp_path) as holder:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    done = _bench(["-q", *_candidates_argv(tiny_collection)], tmp_path, 0)
    assert done.returncode == 0, done.stderr
    assert len(done.lines) == 1 and done.lines[0].startswith(f"WARNING bench.store: taking over the lock on {Path('out/reports/tiny/results.json')} "
                                                             f"from pid {holder.pid} on host {socket.gethostname()} since ")
    assert done.lines[0].endswith("which ended without releasing it (killed?)")
    assert results.is_file()


def test_a_lock_held_past_the_lock_deadline_is_one_line_naming_the_holder(tiny_collection, tmp_path):
    """The deadline from the experiment file's [execution] table."""
    experiment = tmp_path / "x.toml"
    experiment.write_text(f'collection = "tiny"\ndata_dir = "{tiny_collection.parent}"\n[first_stage]\nkind = "candidates"\n'
                          "[execution]\nlock_timeout_s = 2\n", encoding="utf-8")
    results = tmp_path / "out" / "reports" / "x" / "results.json"
    with _holder(results, 120, tmp_path) as holder:
        done = _bench(["-q", "run", str(experiment), "--output", "out"], tmp_path, 2)
    assert done.returncode == 2 and len(done.lines) == 1, done.stderr
    assert done.lines[0].startswith(f"bench: error: gave up waiting for the lock on {Path('out/reports/x/results.json')} after 2 s "
                                    f"(held by pid {holder.pid} on host {socket.gethostname()} since ")
    assert done.lines[0].endswith("; wait for that run to finish (or stop it), or raise [execution] lock_timeout_s or $BENCH_LOCK_TIMEOUT_S")
    assert not results.exists() and not list((tmp_path / "out").rglob("*.tmp-"))


@pytest.mark.slow
def test_a_long_wait_shows_under_quiet_after_a_minute(tiny_collection, tmp_path):
    """-q hides INFO; a wait past 60 s logs its heartbeat at WARNING every 10 s."""
    results = tmp_path / "out" / "reports" / "tiny" / "results.json"
    with _holder(results, 75, tmp_path) as holder:
        done = _bench(["-q", *_candidates_argv(tiny_collection)], tmp_path, 75)
    assert done.returncode == 0, done.stderr
    beats = [line for line in done.lines if line.startswith(f"WARNING bench.waits: waiting for the lock on {Path('out/reports/tiny/results.json')} (")]
    assert beats and beats[0].split("(")[1].startswith("60 s of 86400 s; held by pid " + str(holder.pid)), done.stderr
    assert all(line.startswith("WARNING bench.waits: waiting for the lock") for line in done.lines), done.stderr


# -- a model whose loading blocks -----------------------------------------------------------


SLEEPY = """import sys, time
from bench.options import NoOptions
from bench.rerankers import FAMILIES
from bench.rerankers.base import Reranker


class SleepyReranker(Reranker):
    '''A family whose model never finishes loading (a hung network disk, a stuck device).'''

    kind = "sleepy"
    Options = NoOptions

    def _load(self):
        time.sleep(600)


FAMILIES.add("sleepy", SleepyReranker)
from bench.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_a_model_whose_loading_blocks_is_one_line_at_the_load_deadline(tiny_collection, tmp_path):
    model = tmp_path / "sleepy-model"
    model.mkdir()
    experiment = tmp_path / "x.toml"
    experiment.write_text(f'collection = "tiny"\ndata_dir = "{tiny_collection.parent}"\n[first_stage]\nkind = "candidates"\n'
                          f'[[rerankers]]\nmodel = "{model}"\nkind = "sleepy"\ntop_k = 5\n[execution]\nload_timeout_s = 2\n', encoding="utf-8")
    done = _bench(["-q", "run", str(experiment), "--output", "out"], tmp_path, 2, runner=SLEEPY)
    assert done.returncode == 2 and done.lines == [
        "bench: error: gave up waiting for sleepy-model to load its model after 2 s; a model this large may need longer: "
        "raise [execution] load_timeout_s or $BENCH_LOAD_TIMEOUT_S; else check the disk or device it loads from"], done.stderr
    assert not (tmp_path / "out" / "reports").exists() and not list((tmp_path / "out").rglob("*.tmp-"))


# -- a stalled ir_datasets download ---------------------------------------------------------


IRDS = """import sys
import ir_datasets
from ir_datasets.datasets.base import Dataset
from ir_datasets.formats import TrecQrels, TsvQueries
from ir_datasets.util import Download, RequestsDownload

url, home = sys.argv[1], sys.argv[2]
queries = TsvQueries(Download([RequestsDownload(url + "/queries.tsv")], cache_path=home + "/queries.tsv"), namespace="stall", lang="en")
qrels = TrecQrels(Download([RequestsDownload(url + "/qrels.txt")], cache_path=home + "/qrels.txt"), {0: "not relevant", 1: "relevant"})
ir_datasets.registry.register("bench-test/stalled", Dataset(queries, qrels))
from bench.cli import main

sys.exit(main(sys.argv[3:]))
"""


@contextlib.contextmanager
def _stalled_http_server():
    """An HTTP server that sends a 200 and its headers, then nothing, until the test ends."""
    release = threading.Event()
    requests: list[str] = []

    class Stalled(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            requests.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.flush()
            release.wait(300)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalled)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_stalled_ir_datasets_download_is_one_line_after_the_stall_deadline(tmp_path):
    tries = 3  # ir_datasets' own retries (IR_DATASETS_DL_TRIES), each ending after the stall deadline without a byte
    with _stalled_http_server() as (url, requests):
        done = _bench([url, str(tmp_path / "irds"), "-q", "run", "bench-test/stalled"], tmp_path, tries * 2, runner=IRDS,
                      BENCH_DOWNLOAD_STALL_S="2", IR_DATASETS_DL_TRIES=str(tries), IR_DATASETS_HOME=str(tmp_path / "irds"))
    assert done.returncode == 2 and done.lines == [
        "bench: error: collection 'bench-test/stalled' (ir_datasets 'bench-test/stalled'): could not load queries (download stalled: "
        "no bytes from 127.0.0.1 for 2 s, in each of 3 tries); retry later, raise [execution] download_stall_s or $BENCH_DOWNLOAD_STALL_S, "
        "or put a local copy in DIR/bench-test/stalled/ (queries.tsv, qrels.txt, corpus.jsonl, run.*.trec) and pass --data-dir DIR"], done.stderr
    assert requests == ["/queries.tsv"] * tries
    assert done.elapsed >= tries * 2, "each try waited the stall deadline"
    assert not (tmp_path / "irds" / "queries.tsv").exists(), "no half-downloaded file in place"


# -- a model server's health check ----------------------------------------------------------


def _bounded(fn, seconds: float):
    """``fn()`` in a thread; the test fails if it is still running after ``seconds``."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still waiting after {seconds:g} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


@contextlib.contextmanager
def _model_server(unhealthy: int):
    """A model server whose /health answers 503 (loading) ``unhealthy`` times, then 200."""
    answers: list[int] = []

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            code = 503 if len(answers) < unhealthy else 200
            answers.append(code)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health", answers
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_model_server_health_check_waits_for_200_and_gives_up_in_one_line(caplog):
    from bench.server_waits import request_timeout, wait_until_healthy

    with _model_server(unhealthy=2) as (url, answers):
        _bounded(lambda: wait_until_healthy(url, seconds=10, interval_s=0.1), 10 + GRACE_S)
    assert answers == [503, 503, 200]
    with _model_server(unhealthy=10**6) as (url, answers), pytest.raises(ModelError) as raised:
        _bounded(lambda: wait_until_healthy(url, seconds=1, interval_s=0.1), 1 + GRACE_S)
    assert str(raised.value) == (f"gave up waiting for the model server at {url} to become healthy after 1 s (last answer: HTTP 503); "
                                 "start the server, check the URL, or raise $BENCH_SERVER_TIMEOUT_S if its model takes longer to load")
    with _tcp_server("silent") as address, pytest.raises(ModelError, match=r"after 1 s \(last try: timed out\)"):
        _bounded(lambda: wait_until_healthy(f"http://{address}/health", seconds=1), 1 + GRACE_S)
    assert request_timeout() == 600.0


# -- the waits module itself ------------------------------------------------------------------


def test_heartbeat_says_what_it_waits_for_then_warns_after_a_minute(monkeypatch, caplog):
    """The schedule scaled down (beat every 0.2 s, loud after 0.6 s) to check the levels; the real one is in the slow tests."""
    monkeypatch.setattr(waits, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(waits, "LOUD_AFTER_S", 0.6)
    caplog.set_level(logging.INFO, logger="bench.waits")
    with waits.waiting("the thing", 5.0) as wait:
        wait.detail = "2 of 3 ready"
        time.sleep(1.3)
    beats = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "bench.waits"]
    assert len(beats) >= 4 and all(m.startswith("waiting for the thing (") and m.endswith(" s of 5 s; 2 of 3 ready)") for _, m in beats)
    levels = [level for level, _ in beats]
    assert levels[0] == logging.INFO and levels[-1] == logging.WARNING and levels == sorted(levels), beats
    caplog.clear()
    time.sleep(0.5)
    assert not caplog.records, "a finished wait beats no more"


def test_call_returns_raises_and_gives_up_at_the_deadline():
    with waits.waiting("a quick call", 5.0) as wait:
        assert waits.call(lambda: 42, wait) == 42
    with waits.waiting("a failing call", 5.0) as wait, pytest.raises(KeyError, match="inside"):
        waits.call(lambda: {}["inside"], wait)
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(ModelError) as raised, waits.waiting("a stuck call", 0.5, "unstick it", ModelError) as wait:
        _bounded(lambda: waits.call(lambda: release.wait(60), wait), 0.5 + GRACE_S)
    release.set()
    assert str(raised.value) == "gave up waiting for a stuck call after 0.5 s; unstick it" and time.monotonic() - started < 5


def test_deadlines_come_from_the_experiment_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv("BENCH_LOAD_TIMEOUT_S", raising=False)
    assert waits.limit("load") == 1800.0 and waits.limit("connect") == 30.0 and waits.limit("lock") == 86400.0
    monkeypatch.setenv("BENCH_LOAD_TIMEOUT_S", "7.5")
    assert waits.limit("load") == 7.5
    waits.configure(**ExecutionConfig(load_timeout_s=2).deadlines())
    assert waits.limit("load") == 2.0 and waits.limit("connect") == 30.0
    waits.configure()
    assert waits.limit("load") == 7.5
    monkeypatch.setenv("BENCH_LOAD_TIMEOUT_S", "soon")
    with pytest.raises(ConfigError, match=r"\$BENCH_LOAD_TIMEOUT_S must be a positive number of seconds, got 'soon'"):
        waits.limit("load")
    with pytest.raises(ConfigError, match="connect_timeout_s must be a positive number of seconds, got 0"):
        ExecutionConfig(connect_timeout_s=0)
    from bench.config import from_dict

    config = from_dict({"collection": "c", "execution": {"lock_timeout_s": 5, "download_stall_s": 1.5}})
    assert config.execution.deadlines() == {"connect": None, "load": None, "lock": 5, "download_stall": 1.5, "batch": None}
    assert issubclass(waits.Wait("x", 1).error, BenchError)


# -- global flags anywhere ------------------------------------------------------------------------


def test_global_flags_parse_the_same_before_and_after_the_subcommand():
    parser = build_parser()
    for command in (["run", "tiny", "--model", "m"], ["evaluate", "run.trec"], ["datasets"], ["reproduce", "r.json"], ["report", "r.json"],
                    ["leaderboard"]):
        for flags in (["-q"], ["-v"], ["--debug"], ["-q", "--debug"], []):
            before, after = parser.parse_args([*flags, *command]), parser.parse_args([*command, *flags])
            assert vars(before) == vars(after), (flags, command)
            assert before.quiet == ("-q" in flags) and before.verbose == ("-v" in flags) and before.debug == ("--debug" in flags)


def test_quiet_after_the_subcommand_behaves_as_before_it(tiny_collection, tmp_path):
    argv = _candidates_argv(tiny_collection)
    runs = {where: _bench(argv_q, tmp_path, 0) for where, argv_q in (("before", ["-q", *argv]), ("after", [*argv, "-q"]))}
    assert all(done.returncode == 0 and done.stderr == "" for done in runs.values()), {k: d.stderr for k, d in runs.items()}
    assert runs["before"].stdout == runs["after"].stdout != ""



def test_an_error_is_the_same_with_quiet_before_or_after_and_debug_after_raises(capsys):
    errors = []
    for argv in (["-q", "run", "nope"], ["run", "nope", "-q"]):
        assert main(argv) == 2
        errors.append(capsys.readouterr().err.splitlines()[-1])
    assert errors == ["bench: error: unknown collection 'nope'; see `python -m bench datasets` for names (or pass a local folder with --data-dir)"] * 2
    with pytest.raises(ConfigError, match="unknown collection 'nope'"):
        main(["run", "nope", "--debug"])


# -- explicit duplicate stage names ------------------------------------------------------------


def _experiment(tmp_path: Path, tiny_collection: Path, rerankers: list[dict[str, str]]) -> Path:
    path = tmp_path / "dup.toml"
    tables = "".join("[[rerankers]]\n" + "".join(f'{k} = "{v}"\n' for k, v in r.items()) for r in rerankers)
    path.write_text(f'collection = "tiny"\ndata_dir = "{tiny_collection.parent}"\n[first_stage]\nkind = "candidates"\n{tables}', encoding="utf-8")
    return path


def test_two_stages_with_one_explicit_name_are_one_line_naming_both(tiny_collection, tiny_cross_encoder, tiny_bi_encoder, tmp_path, capsys):
    a, b = str(tiny_cross_encoder), str(tiny_bi_encoder)
    cases = [
        ([{"model": a, "name": "x"}, {"model": b}, {"model": b, "name": "X"}],
         f"rerankers[0] (model {a}) and rerankers[2] (model {b}) are both named 'x'; give each a unique name"),
        ([{"model": a, "name": "BM25"}], f"the first stage and rerankers[0] (model {a}) are both named 'bm25'; give each a unique name"),
    ]
    for rerankers, message in cases:
        assert main(["run", str(_experiment(tmp_path, tiny_collection, rerankers)), "--output", str(tmp_path / "out")]) == 2
        assert capsys.readouterr().err.splitlines()[-1] == f"bench: error: {message}"
        assert not (tmp_path / "out").exists(), "checked before any work"


def test_names_derived_from_models_keep_their_suffixes_and_avoid_explicit_names(tiny_collection, tiny_cross_encoder, tiny_bi_encoder, tmp_path):
    from bench import collection
    from bench.config import load_toml
    from bench.experiment import plan
    from bench.rerankers import locate

    derived = locate(str(tiny_cross_encoder)).default_name()
    a, b = str(tiny_cross_encoder), str(tiny_bi_encoder)
    config = load_toml(_experiment(tmp_path, tiny_collection, [{"model": a}, {"model": a}, {"model": b, "name": derived}]))
    stages = plan(config, collection.load("tiny", str(tiny_collection.parent)))
    assert [p.stage.name for p in stages] == ["bm25", f"{derived}-2", f"{derived}-3", derived]  # bm25: the candidates are run.bm25.trec
