import pytest

from bench.errors import ConfigError
from bench.evaluate import family_for
from bench.measures import DL_MEASURES, parse_measure, parse_measures


def test_parse_ir_measures_names():
    m = parse_measure("RR(rel=2)@10")
    assert (m.metric, m.cutoff, m.rel, m.ranx_name) == ("mrr", 10, 2, "mrr@10-l2")
    assert parse_measure("nDCG@10").ranx_name == "ndcg@10"
    assert parse_measure("AP(rel=2)").ranx_name == "map-l2"
    assert parse_measure("R@1000").ranx_name == "recall@1000"


def test_ir_measures_aliases_become_one_canonical_name():
    assert [m.name for m in parse_measures(["MAP", "MRR@10", "NDCG@10"])] == ["AP", "RR@10", "nDCG@10"]
    with pytest.raises(ConfigError, match="twice"):
        parse_measures(["AP", "MAP"])


@pytest.mark.parametrize("bad", ["ndcg_cut_10", "nDCG(rel=2)@10", "R", "P@0", "foo", "AP(rel=0)", "Judged"])
def test_bad_measures_are_one_line_errors(bad):
    with pytest.raises(ConfigError):
        parse_measure(bad)


def test_duplicates_refused():
    with pytest.raises(ConfigError, match="twice"):
        parse_measures(["AP", "AP"])


def test_official_sets():
    assert family_for("msmarco-passage/trec-dl-2019/judged").measures == DL_MEASURES
    assert family_for("trec-dl-2020").measures == DL_MEASURES
    assert family_for("vaswani").measures[0] == "nDCG@10"
    assert "AP" in family_for("vaswani").measures
    assert "Judged@10" in DL_MEASURES  # LLM rerankers surface unjudged passages: the DL set shows it


@pytest.mark.parametrize("name,family,provider", [
    ("Judged@10", "Judged", "ir_measures"), ("P@10", "P", "ranx"), ("Bpref", "Bpref", "ir_measures"), ("nDCG@20", "nDCG", "ranx"),
    ("nDCG(judged_only=True)@10", "nDCG", "ir_measures"), ("Success@5", "Success", "ranx"), ("ERR@10", "ERR", "ir_measures"),
])
def test_any_ir_measures_name_is_a_measure(name, family, provider):
    m = parse_measure(name)
    assert (m.name, m.family, m.provider) == (name, family, provider)
