"""late-interaction (ColBERT): parity with sentence-transformers' MultiVectorEncoder (PyLate/Stanford loader), invariance, truncation, dtypes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from helpers_families import PASSAGES, QUERIES, loaded, long_document, make_colbert, mean_kendall, stanford_copy

from bench.errors import ModelError
from bench.rerankers import detect, locate
from bench.rerankers.late_interaction import LateInteractionOptions

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def colbert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_colbert(tmp_path_factory.mktemp("models") / "tiny-colbert")


@pytest.fixture(scope="module")
def stanford(colbert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return stanford_copy(colbert, tmp_path_factory.mktemp("models") / "tiny-colbert-stanford")


def reference(folder: Path, query: str, passages: list[str]) -> list[float]:
    st = pytest.importorskip("sentence_transformers")
    if not hasattr(st, "MultiVectorEncoder"):
        pytest.skip("sentence-transformers without MultiVectorEncoder (needs >= 6)")
    model = st.MultiVectorEncoder(str(folder), device="cpu")
    return model.similarity(model.encode_query([query]), model.encode_document(passages))[0].tolist()


def test_detected_above_the_bi_encoder(colbert: Path, stanford: Path):
    from bench.rerankers import FAMILIES

    assert detect(locate(str(colbert))) == "late-interaction" and detect(locate(str(stanford))) == "late-interaction"
    located = locate(str(colbert))
    assert FAMILIES.get("late-interaction").recognises(located) > 20 >= FAMILIES.get("bi-encoder").recognises(located)


def test_equals_sentence_transformers_multi_vector_encoder(colbert: Path):
    r = loaded(colbert, "late-interaction")
    worst = 0.0
    for query in QUERIES:
        got, ref = r.score(query, PASSAGES), reference(colbert, query, PASSAGES)
        assert got == pytest.approx(ref, abs=1e-5)
        worst = max(worst, max(abs(a - b) for a, b in zip(got, ref)))
    log.info("late-interaction parity: max abs diff %.2e", worst)


def test_attending_to_the_expansion_tokens_follows_the_config(colbert: Path, tmp_path: Path):
    attend = make_colbert(tmp_path / "attend", attend=True)
    got = loaded(attend, "late-interaction").score(QUERIES[0], PASSAGES)
    assert got == pytest.approx(reference(attend, QUERIES[0], PASSAGES), abs=1e-5)
    assert got != pytest.approx(loaded(colbert, "late-interaction").score(QUERIES[0], PASSAGES), abs=1e-3)


def test_stanford_checkpoint_reads_the_same_settings(colbert: Path, stanford: Path):
    pylate, original = loaded(colbert, "late-interaction"), loaded(stanford, "late-interaction")
    assert original.score(QUERIES[1], PASSAGES) == pytest.approx(pylate.score(QUERIES[1], PASSAGES), abs=1e-5)
    assert original.describe()["query_length"] == 12 and original.describe()["dim"] == 16


def test_query_augmentation_and_punctuation_skiplist(colbert: Path):
    r = loaded(colbert, "late-interaction")
    query, docs = r.prepare("goldfish", ["goldfish, fish!"])
    tokens = r.tokenizer.convert_ids_to_tokens(query["input_ids"][0])
    assert len(tokens) == 12 and tokens[:4] == ["[CLS]", r.tokenizer.convert_ids_to_tokens(r.query_marker), "goldfish", "[SEP]"]
    assert tokens[4:] == ["[MASK]"] * 8 and query["attention_mask"][0].tolist() == [1] * 4 + [0] * 8
    # punctuation is encoded (it is context) but its vectors are dropped from MaxSim, as sentence-transformers does
    with_skiplist = r.score("goldfish", ["goldfish, fish!"])
    assert with_skiplist == pytest.approx(reference(Path(r.located.path), "goldfish", ["goldfish, fish!"]), abs=1e-5)
    r.skip = r.skip[:0]
    assert r.score("goldfish", ["goldfish, fish!"]) != pytest.approx(with_skiplist, abs=1e-4)


def test_batch_size_and_order_do_not_change_scores(colbert: Path):
    base = loaded(colbert, "late-interaction", batch_size=32).score(QUERIES[2], PASSAGES)
    assert loaded(colbert, "late-interaction", batch_size=1).score(QUERIES[2], PASSAGES) == pytest.approx(base, abs=1e-5)
    assert loaded(colbert, "late-interaction", batch_size=3).score(QUERIES[2], PASSAGES[::-1])[::-1] == pytest.approx(base, abs=1e-5)


def test_long_document_is_cut_at_the_document_length(colbert: Path):
    r = loaded(colbert, "late-interaction")
    _, docs = r.prepare(QUERIES[0], [long_document(2000)])
    ids = docs.features[0]["input_ids"]
    assert len(ids) == 40 and ids[-1] == r.tokenizer.sep_token_id and ids[1] == r.document_marker
    assert r.score(QUERIES[0], [long_document(2000)]) == pytest.approx(reference(Path(r.located.path), QUERIES[0], [long_document(2000)]), abs=1e-5)
    short = loaded(colbert, "late-interaction", options=LateInteractionOptions(document_length=16))
    assert len(short.prepare(QUERIES[0], [long_document(2000)])[1].features[0]["input_ids"]) == 16


def test_bf16_ranks_like_fp32(colbert: Path):
    fp32, bf16 = loaded(colbert, "late-interaction"), loaded(colbert, "late-interaction", dtype="bfloat16")
    tau = mean_kendall([fp32.score(q, PASSAGES) for q in QUERIES], [bf16.score(q, PASSAGES) for q in QUERIES])
    log.info("late-interaction bf16 vs fp32 mean Kendall tau %.3f", tau)
    assert tau >= 0.95


def test_missing_projection_is_a_one_line_error(colbert: Path, tmp_path: Path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(colbert, broken)
    (broken / "1_Dense" / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="has no projection weights"):
        loaded(broken, "late-interaction")
    config = json.loads((broken / "config_sentence_transformers.json").read_text())
    config["query_prefix"] = "[NOPE]"
    (broken / "config_sentence_transformers.json").write_text(json.dumps(config))
    shutil.copy(colbert / "1_Dense" / "model.safetensors", broken / "1_Dense" / "model.safetensors")
    with pytest.raises(ModelError, match="query marker '\\[NOPE\\]' is not a token"):
        loaded(broken, "late-interaction")
