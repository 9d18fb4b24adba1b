"""Corpus encoding on the engines: a SIGKILL mid-encoding resumes at the finished shards, and Ray writes the same index bytes.

The killed run is a real ``python -m bench run`` process that SIGKILLs itself as its fourth
shard is about to be renamed into place (three shards finished, a fourth half-written); the
same command then resumes, encodes only the missing shards, and its run file and index
files are compared byte for byte with an uninterrupted run's in another cache. ``--workers
2`` runs the encoding on two real Ray workers (a local instance started by the run).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers_dense import dense_toml
from test_resume import make_big_collection

from bench.cli import main

ROOT = Path(__file__).resolve().parents[1]
SHARD = 30
DOCS = 240  # 8 shards

_KILLER = r"""
import os, signal, sys

real_replace, target = os.replace, os.environ["BENCH_TEST_KILL_AT"]


def replace(src, dst, *args, **kwargs):
    if str(dst).endswith(target):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)


os.replace = replace
from bench.cli import main

sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("enginedata")
    make_big_collection(root / "big", queries=20, docs_per_query=12)
    return root


def _record(out: Path) -> dict:
    return json.loads((out / "reports" / "big" / "results.json").read_text(encoding="utf-8"))["systems"][0]


def _files(folder: Path) -> dict[str, bytes]:
    """Every file of an index folder (shards, ids, FAISS), meta.json without its timings."""
    out = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "meta.json"}
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    meta.pop("encode")
    out["meta.json"] = json.dumps(meta, sort_keys=True).encode()
    return out


@pytest.fixture(scope="module")
def reference(big: Path, tiny_bi_encoder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """An uninterrupted in-process run in its own cache: the run file, the index files and the encode record."""
    tmp = tmp_path_factory.mktemp("dense-reference")
    exp = dense_toml(tmp / "big.toml", big, tiny_bi_encoder, name="big", shard_size=SHARD)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(tmp / "cache"))
        assert main(["-q", "run", str(exp), "--output", str(tmp / "out")]) == 0
    system = _record(tmp / "out")
    encode = system["latency"]["encode"]
    assert encode["shards"] == DOCS // SHARD and encode["resumed_shards"] == 0 and encode["engine"] == "local"
    return {"run": Path(system["run_file"]).read_bytes(), "index": _files(Path(encode["index_folder"])), "encode": encode}


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep), BENCH_CACHE_DIR=str(tmp / "cache"),
               HF_HUB_OFFLINE="1", **extra)
    env.pop("RAY_ADDRESS", None)
    return env


def test_sigkill_during_encoding_resumes_at_the_finished_shards(big, tiny_bi_encoder, reference, tmp_path, capsys, monkeypatch):
    exp = dense_toml(tmp_path / "big.toml", big, tiny_bi_encoder, name="big", shard_size=SHARD)
    args = ["-q", "run", str(exp), "--output", str(tmp_path / "out")]
    with open(tmp_path / "killed.err", "w") as err:
        proc = subprocess.run([sys.executable, "-c", _KILLER, *args], cwd=tmp_path, env=_env(tmp_path, BENCH_TEST_KILL_AT="/shards/00003.npy"),
                              stdout=subprocess.DEVNULL, stderr=err, timeout=600)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.err").read_text()[-2000:]
    folders = list((tmp_path / "cache" / "dense").iterdir())
    index = next(f for f in folders if f.is_dir())
    shards = index / "shards"
    assert sorted(p.name for p in shards.glob("*.npy")) == ["00000.npy", "00001.npy", "00002.npy"]
    assert list(shards.glob(".00003.npy.*.tmp-")), "the fourth shard was being written when the process died"
    assert not (index / "meta.json").exists() and not list((tmp_path / "out").rglob("*.trec"))
    # the same command again, in this process: 3 shards reused, 5 encoded, the same bytes as the uninterrupted run
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    assert main(args) == 0
    capsys.readouterr()
    system = _record(tmp_path / "out")
    encode = system["latency"]["encode"]
    assert encode["resumed_shards"] == 3 and encode["passages"] == DOCS - 3 * SHARD and encode["index_folder"] == str(index)
    assert Path(system["run_file"]).read_bytes() == reference["run"]
    assert _files(index) == reference["index"]
    assert not list(shards.glob(".*.tmp-"))


def test_two_ray_workers_encode_the_same_index_bytes(big, tiny_bi_encoder, reference, tmp_path, capsys, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    exp = dense_toml(tmp_path / "big.toml", big, tiny_bi_encoder, name="big", shard_size=SHARD, execution="[execution]\nworkers = 2\n")
    assert main(["-q", "run", str(exp), "--output", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    system = _record(tmp_path / "out")
    encode = system["latency"]["encode"]
    assert encode["engine"] == "ray" and encode["workers"] == 2 and encode["passages"] == DOCS
    assert sum(encode["shards_per_worker"]) == DOCS // SHARD and min(encode["shards_per_worker"]) > 0  # both workers encoded
    assert _files(Path(encode["index_folder"])) == reference["index"]
    assert Path(system["run_file"]).read_bytes() == reference["run"]  # the search ran in this process, as in-process
    assert Path(encode["index_folder"]).name == Path(reference["encode"]["index_folder"]).name, "the engine is not part of the key"
