"""Each notebook records its headline numbers (vaecf.notebook.record_metrics); these tests
read them back after the notebooks ran (pytest collects this file after the .ipynb files)
and check that what the notebook tells the reader is true."""
import json
from pathlib import Path

import pytest

METRICS = Path(__file__).resolve().parent / "metrics"


def metrics(notebook: str) -> dict:
    path = METRICS / f"{notebook}.json"
    if not path.exists():
        pytest.fail(f"{notebook}.ipynb recorded no metrics at {path}; run the notebooks first "
                    "(make test runs them before this file).")
    return json.loads(path.read_text())["metrics"]


def test_02_linear_latent_factor_models():
    m = metrics("02_linear_latent_factor_models")
    assert m["wmf_test_ndcg"] > m["pop_test_ndcg"], "WMF should beat popularity"
    assert str(m["best_rank"]) in m["valid_ndcg_by_rank"]
    assert m["valid_ndcg_by_rank"][str(m["best_rank"])] == max(m["valid_ndcg_by_rank"].values())
    # the either-or taste: the network fits it, no linear map of any rank does
    assert m["xor_network_mse"] < m["xor_best_linear_mse"] - 0.05
    assert m["xor_network_auc"] > 0.9 and m["xor_best_linear_auc"] < 0.65
    assert m["xor_oracle_mse"] <= m["xor_network_mse"]
    assert m["xor_wmf_best_auc"] < 0.75 < m["xor_network_auc"], "folded-in WMF should miss the pattern"


def test_03_choosing_a_likelihood():
    m = metrics("03_choosing_a_likelihood")
    names = ("multinomial", "logistic", "gaussian")
    for name in names:
        assert m[f"{name}_test_ndcg"] > m["pop_test_ndcg"], f"{name} should beat popularity"
    # the order the notebook prints is the order of the recorded numbers
    order = m["order"].split(" > ")
    assert sorted(order) == sorted(names)
    values = [m[f"{name}_test_ndcg"] for name in order]
    assert values == sorted(values, reverse=True)
    assert m["paper_order_holds"] == (order == list(names))
    assert m["multinomial_max_sum_deviation"] < 1e-5, "softmax probabilities must sum to one"
