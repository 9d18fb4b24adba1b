from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import config as cfg
from bench.errors import ConfigError
from bench.store import stable_hash

REPO = Path(__file__).resolve().parents[1]


def test_shipped_experiments_load():
    names = sorted(p.stem for p in (REPO / "experiments").glob("*.toml"))
    assert {"dl19-minilm", "dl20-minilm", "dev-small-minilm", "vaswani-minilm"} <= set(names)
    for name in names:
        config = cfg.load_toml(REPO / "experiments" / f"{name}.toml")
        assert config.name == name and config.rerankers


def test_unknown_key_is_named(tmp_path: Path):
    path = tmp_path / "x.toml"
    path.write_text('collection = "vaswani"\n[[rerankers]]\nmodel = "m"\ntopk = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x.toml.rerankers\[0\]: unknown key 'topk'; known keys: model, name"):
        cfg.load_toml(path)


@pytest.mark.parametrize(
    "body,message",
    [
        ('collection = "v"\nlimit_queries = "5"\n', "limit_queries: expected int"),
        ('collection = "v"\n[first_stage]\nkind = "dense"\n', "unknown first stage 'dense'"),
        ('collection = "v"\n[first_stage.bm25]\nk1 = true\n', "k1: expected float"),
        ('collection = "v"\n[[rerankers]]\nmodel = "m"\ntop_k = 0\n', "--top-k must be positive"),
        ('name = "x"\n', "missing required key 'collection'"),
        ('collection = "v"\nmeasures = ["nDCG@10", "MAP"]\n', "unknown measure 'MAP'"),
        ("collection = \n", "invalid TOML"),
    ],
)
def test_invalid_files(tmp_path: Path, body: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        cfg.load_toml(path)


def test_relative_data_dir_is_kept_and_resolved_against_the_file():
    config = cfg.load_toml(REPO / "experiments" / "dl19-minilm.toml")
    assert config.data_dir == "../../shared/data"
    assert cfg.resolve_data_dir(config.data_dir, REPO / "experiments") == os.path.normpath(REPO / ".." / "shared" / "data")
    assert cfg.resolve_data_dir("/abs", REPO) == "/abs"


def test_overrides_are_logged(caplog: pytest.LogCaptureFixture):
    config = cfg.load_toml(REPO / "experiments" / "vaswani-minilm.toml")
    with caplog.at_level(logging.INFO, logger="bench.config"):
        new = cfg.override(config, {"limit_queries": 3}, {"top_k": 10})
    assert new.limit_queries == 3 and new.rerankers[0].top_k == 10
    assert "command line overrides limit_queries: None -> 3" in caplog.text
    assert "command line overrides rerankers.top_k" in caplog.text


def test_config_hash_is_stable_across_processes_and_hash_seeds():
    config = cfg.load_toml(REPO / "experiments" / "vaswani-minilm.toml")
    here = stable_hash(cfg.to_dict(config))
    code = (
        "from pathlib import Path; from bench import config as cfg; from bench.store import stable_hash; "
        f"print(stable_hash(cfg.to_dict(cfg.load_toml(Path({str(REPO / 'experiments' / 'vaswani-minilm.toml')!r})))))"
    )
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert out.stdout.strip() == here


def test_canonical_hash_is_pinned():
    """The hash function itself must not change silently: committed run names depend on it."""
    import hashlib

    canonical = '{"a":null,"b":[1,2.5,"x"]}'  # sorted keys, no spaces, ASCII
    assert stable_hash({"b": [1, 2.5, "x"], "a": None}) == hashlib.sha256(canonical.encode()).hexdigest()[:12]
