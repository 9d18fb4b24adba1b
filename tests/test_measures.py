import pytest

from bench.errors import ConfigError
from bench.measures import DL_MEASURES, official_measures, parse_measure, parse_measures


def test_parse_ir_measures_names():
    m = parse_measure("RR(rel=2)@10")
    assert (m.metric, m.cutoff, m.rel, m.ranx_name) == ("mrr", 10, 2, "mrr@10-l2")
    assert parse_measure("nDCG@10").ranx_name == "ndcg@10"
    assert parse_measure("AP(rel=2)").ranx_name == "map-l2"
    assert parse_measure("R@1000").ranx_name == "recall@1000"


@pytest.mark.parametrize("bad", ["NDCG@10", "nDCG(rel=2)@10", "R", "P@0", "foo", "AP(rel=0)"])
def test_bad_measures_are_one_line_errors(bad):
    with pytest.raises(ConfigError):
        parse_measure(bad)


def test_duplicates_refused():
    with pytest.raises(ConfigError, match="twice"):
        parse_measures(["AP", "AP"])


def test_official_sets():
    assert official_measures("msmarco-passage/trec-dl-2019/judged") == DL_MEASURES
    assert official_measures("trec-dl-2020") == DL_MEASURES
    assert official_measures("vaswani")[0] == "nDCG@10"
    assert "AP" in official_measures("vaswani")
