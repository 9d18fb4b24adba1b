from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import make_cross_encoder, make_plain_bert

from bench.errors import ModelError
from bench.rerankers import ModelSettings, create, detect, locate

PASSAGES = [
    "goldfish grow to the size of the tank",
    "a fish tank needs clean water and food and light and a small river of blue green water " * 3,
    "wifi",
    "the us did enter the world war",
]


def _settings(**kw) -> ModelSettings:
    base = {"device": "cpu", "dtype": "float32", "batch_size": 32, "max_length": 512}
    base.update(kw)
    return ModelSettings(**base)


def _reference_scores(folder: Path, query: str, passages: list[str], label: int) -> list[float]:
    """One pair at a time, no padding, straight through transformers."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    out = []
    with torch.inference_mode():
        for p in passages:
            enc = tok(query, p, return_tensors="pt", truncation="longest_first", max_length=512)
            out.append(float(model(**enc).logits[0, label]))
    return out


def test_one_logit_cross_encoder_matches_unbatched_reference(tiny_cross_encoder: Path):
    r = create(locate(str(tiny_cross_encoder)), _settings(batch_size=3))
    r.load()
    got = r.score("do goldfish grow", PASSAGES)
    assert got == pytest.approx(_reference_scores(tiny_cross_encoder, "do goldfish grow", PASSAGES, 0), abs=1e-5)
    assert r.describe()["num_labels"] == 1 and r.parameters() > 0


def test_two_logit_head_uses_relevant_class(tiny_cross_encoder_2logit: Path):
    r = create(locate(str(tiny_cross_encoder_2logit)), _settings())
    r.load()
    got = r.score("do goldfish grow", PASSAGES)
    assert got == pytest.approx(_reference_scores(tiny_cross_encoder_2logit, "do goldfish grow", PASSAGES, 1), abs=1e-5)


def test_named_relevant_label_is_found(tmp_path: Path):
    folder = make_cross_encoder(tmp_path / "named", num_labels=2, id2label={0: "relevant", 1: "irrelevant"})
    r = create(locate(str(folder)), _settings())
    r.load()
    assert r.label == 0


def test_batch_size_and_sorting_do_not_change_scores(tiny_cross_encoder: Path):
    results = []
    for batch_size in (1, 2, 32):
        r = create(locate(str(tiny_cross_encoder)), _settings(batch_size=batch_size))
        r.load()
        results.append(r.score("what is wifi", PASSAGES))
    assert results[0] == pytest.approx(results[1], abs=1e-5) and results[0] == pytest.approx(results[2], abs=1e-5)


def test_model_without_classification_head_is_refused(tmp_path: Path):
    folder = make_plain_bert(tmp_path / "plain")
    r = create(locate(str(folder)), _settings())
    with pytest.raises(ModelError, match="has no sequence-classification head"):
        r.load()


def test_missing_model_folder_is_one_line_error(tmp_path: Path):
    with pytest.raises(ModelError, match="model folder .* does not exist"):
        locate(str(tmp_path / "nope"))


def test_unknown_hub_id_offline_is_one_line_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="could not be fetched from the Hugging Face Hub") as info:
        locate("cross-encoder/ms-marco-MiniLM-L-6-v2")
    assert "\n" not in str(info.value)


def test_pickled_weights_refused_unless_allowed(tiny_cross_encoder: Path, tmp_path: Path):
    import shutil

    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_cross_encoder, folder)
    state = load_file(folder / "model.safetensors")
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="only pickled weights"):
        create(locate(str(folder)), _settings()).load()
    r = create(locate(str(folder)), _settings(allow_pickle=True))
    r.load()
    assert r.score("q", ["p"]) == pytest.approx(_reference_scores(tiny_cross_encoder, "q", ["p"], 0), abs=1e-5)


def test_non_finite_scores_name_the_model_and_pair(tiny_cross_encoder: Path):
    r = create(locate(str(tiny_cross_encoder)), _settings())
    r.load()
    with torch.no_grad():
        r.model.classifier.bias.fill_(float("nan"))
    with pytest.raises(ModelError, match=r"non-finite score .* for query 'q' and passage 'wifi'"):
        r.score("q", ["wifi"])


def test_bi_encoder_equals_sentence_transformers(minilm: Path):
    st = pytest.importorskip("sentence_transformers")
    located = locate(str(minilm))
    assert detect(located) == "bi-encoder"
    r = create(located, _settings())
    r.load()
    got = r.score("do goldfish grow", PASSAGES)
    model = st.SentenceTransformer(str(minilm), device="cpu")
    q = model.encode(["do goldfish grow"], convert_to_tensor=True, normalize_embeddings=True)
    p = model.encode(PASSAGES, convert_to_tensor=True, normalize_embeddings=True)
    assert got == pytest.approx((p @ q[0]).tolist(), abs=1e-5)


def test_bundled_hub_id_resolves_offline(minilm: Path):
    located = locate("sentence-transformers/all-MiniLM-L6-v2")
    assert located.path == minilm and located.source.startswith("bundled:")
    assert located.default_name() == "all-minilm-l6-v2"


def test_tiny_bi_encoder_pooling(tiny_bi_encoder: Path):
    r = create(locate(str(tiny_bi_encoder)), _settings())
    r.load()
    scores = r.score("goldfish", ["goldfish", "war"])
    assert all(-1.0 - 1e-6 <= s <= 1.0 + 1e-6 for s in scores)
    assert r.describe()["pooling"] == "mean" and r.describe()["normalize"] is True


def test_max_length_is_capped_at_the_models_positions(tiny_cross_encoder: Path):
    """A 128-position model with the default max_length 512 must truncate, not crash."""
    r = create(locate(str(tiny_cross_encoder)), _settings(max_length=512))
    r.load()
    assert r.max_length == 128
    long_passage = " ".join(["goldfish grow in a big tank"] * 60)
    reference = _reference_scores_at(tiny_cross_encoder, "do goldfish grow", [long_passage], 128)
    assert r.score("do goldfish grow", [long_passage]) == pytest.approx(reference, abs=1e-5)


def _reference_scores_at(folder: Path, query: str, passages: list[str], max_length: int) -> list[float]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        return [float(model(**tok(query, p, return_tensors="pt", truncation="longest_first", max_length=max_length)).logits[0, 0]) for p in passages]
