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


def test_05_amortised_inference():
    m = metrics("05_amortised_inference")
    assert m["mean_gap"] > 0  # per-user VI improves on the encoder's q
    assert m["share_gap_nonnegative"] >= 0.9  # the gap is ≥ 0 up to Monte Carlo noise
    assert m["per_user_seconds"] > 10 * m["encoder_seconds"]  # folding in by optimisation costs more


def test_07_autoencoders_compared():
    m = metrics("07_autoencoders_compared")
    for name in ("AE", "Mult-DAE", "Mult-VAE", "Popularity"):
        assert 0 < m[f"{name}_ndcg"] <= 1
    sizes = m["group_sizes"]
    assert max(sizes) - min(sizes) <= 1  # activity quantiles hold equally many users
