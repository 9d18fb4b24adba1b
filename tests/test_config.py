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
        assert config.name == name and (config.rerankers or config.first_stages)  # vaswani-dense compares first stages only


def test_unknown_key_is_named(tmp_path: Path):
    path = tmp_path / "x.toml"
    path.write_text('collection = "vaswani"\n[[rerankers]]\nmodel = "m"\ntopk = 10\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"x.toml.rerankers\[0\]: unknown key 'topk'; known keys: model, name"):
        cfg.load_toml(path)


@pytest.mark.parametrize(
    "body,message",
    [
        ('collection = "v"\nlimit_queries = "5"\n', "limit_queries: expected int"),
        ('collection = "v"\n[[rerankers]]\nmodel = "m"\ntop_k = 0\n', "--top-k must be positive"),
        ('name = "x"\n', "missing required key 'collection'"),
        ('collection = "v"\nmeasures = ["nDCG@10", "map"]\n', "unknown measure 'map'"),
        ("collection = \n", "invalid TOML"),
    ],
)
def test_invalid_files(tmp_path: Path, body: str, message: str):
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        cfg.load_toml(path)


PLUGIN_TABLES = [
    ('[first_stage]\nkind = "splade"\n', "unknown first stage 'splade'; use one of auto, bm25, candidates, dense, fusion"),
    ('[first_stage]\nkind = "bm25"\n[first_stage.bm25]\nk1 = true\n', "first_stage.options (bm25).k1: expected float, got True"),
    ('[first_stage]\nkind = "bm25"\n[first_stage.options]\nk3 = 1.0\n',
     "first_stage.options (bm25): unknown option 'k3'; known options: k1, b, method, stopwords, stemmer, backend"),
    ('[first_stage]\nkind = "candidates"\n[first_stage.options]\ndepth = 5\n', "first_stage.options (candidates): unknown option 'depth'; known options: none"),
    ('[first_stage]\nkind = "candidates"\n[first_stage.bm25]\nk1 = 1.0\n', "[first_stage.bm25] sets BM25 parameters, but the first stage is candidates"),
    ('[execution]\nengine = "spark"\n[[rerankers]]\nmodel = "{model}"\n', "unknown execution engine 'spark'; use auto, local, ray"),
    ('[report]\nsnipets = false\n', "report: unknown option 'snipets'; known options: snippets"),
    ('[[rerankers]]\nmodel = "{model}"\n[rerankers.options]\nlabel = "x"\n', "label: expected int"),
]


@pytest.mark.parametrize("body,message", PLUGIN_TABLES)
def test_plugin_tables_are_checked_in_plan_before_any_work(body: str, message: str, tiny_collection: Path, tiny_cross_encoder: Path,
                                                           tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """config.py keeps plug-in tables as plain data; plan() checks each through its registry: one line, nothing written."""
    from bench.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(f'collection = "tiny"\ndata_dir = "{tiny_collection.parent}"\n' + body.format(model=tiny_cross_encoder), encoding="utf-8")
    cfg.load_toml(path)  # plain data: reading the file checks no plug-in
    out = tmp_path / "out"
    assert main(["run", str(path), "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists() or not any(out.rglob("*.trec")), "nothing computed before the error"


def test_config_imports_no_plugin():
    import ast

    tree = ast.parse((REPO / "bench" / "config.py").read_text(encoding="utf-8"))
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    plugins = ("rerankers", "first_stage", "engines", "collection", "report", "backends")
    assert not [m for m in imported if m.split(".")[0] in plugins], imported


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
