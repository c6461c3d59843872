import math

import pytest

from vaecf.experiments.comparison import comparison_table, reference_for
from vaecf.reference import ML1M_NDCG100, PAPER_ML20M


def _results(dataset, names_scores):
    models = {name: {"test": {"recall@20": s / 2, "recall@50": s / 1.5, "ndcg@100": s},
                     "test_stderr": {"ndcg@100": 0.01}, "train_seconds": 1.5}
              for name, s in names_scores}
    return {"dataset": dataset, "models": models}


def test_synthetic_table_shows_share_of_the_oracle_in_model_order():
    table = comparison_table(_results("synthetic", [("Popularity", 0.2), ("Mult-VAE", 0.4),
                                                   ("Oracle (true probabilities)", 0.5)]))
    assert list(table.index) == ["Popularity", "Mult-VAE", "Oracle (true probabilities)"]
    assert table.loc["Mult-VAE", "share of oracle NDCG@100"] == pytest.approx(0.8)
    assert table.loc["Popularity", "RECALL@20"] == pytest.approx(0.1)
    assert table.loc["Mult-VAE", "± s.e. (NDCG@100)"] == pytest.approx(0.01)
    assert not any(c.startswith("reference") for c in table.columns)


def test_ml1m_table_puts_the_measured_references_beside_ours():
    table = comparison_table(_results("ml-1m", [("Popularity", 0.2), ("Mult-VAE", 0.4),
                                               ("Some new model", 0.3)]))
    assert table.loc["Popularity", "reference NDCG@100"] == ML1M_NDCG100["Popularity"]
    assert table.loc["Mult-VAE", "reference NDCG@100"] == pytest.approx(0.402)
    assert math.isnan(table.loc["Some new model", "reference NDCG@100"])
    assert "share of oracle NDCG@100" not in table.columns


def test_references_per_dataset():
    assert reference_for("ml-20m")[0] is PAPER_ML20M
    assert reference_for("ml-1m")[0]["Mult-DAE"] == {"ndcg@100": 0.422}
    assert reference_for("synthetic") == ({}, "")


def test_empty_results_are_rejected():
    with pytest.raises(ValueError, match="no models"):
        comparison_table({"dataset": "synthetic", "models": {}})


def test_the_comparison_is_the_last_column():
    synthetic = comparison_table(_results("synthetic", [("Mult-VAE", 0.4), ("Oracle", 0.5)]))
    assert synthetic.columns[-1] == "share of oracle NDCG@100"
    ml1m = comparison_table(_results("ml-1m", [("Mult-VAE", 0.4)]))
    assert ml1m.columns[-1] == "reference NDCG@100"
    assert ml1m.loc["Mult-VAE", "train seconds"] == 1.5


def test_describe_run_says_what_the_results_were_run_on():
    from vaecf.experiments.comparison import describe_run

    results = {"dataset": "synthetic", "synthetic_size": "tiny", "seed": 7, "epochs": "plateau",
               "device": "cpu", "torch_version": "2.13.0", "vaecf_version": "0.4.0",
               "protocol": {"users_after_filtering": 1200, "clicks_after_filtering": 34567,
                            "items_clicked": 300},
               "counts": {"train_users": 1000, "valid_users": 100, "test_users": 100, "items": 290},
               "models": {"Popularity": {"train_seconds": 0.04},
                          "Mult-VAE": {"train_seconds": 12.345, "best_epoch": 80, "epochs_run": 100,
                                       "budget_epochs": 200}}}
    lines = describe_run(results).splitlines()
    assert lines[0] == "dataset: synthetic (synthetic size tiny)"
    assert lines[1] == "after preprocessing: 1,200 users, 34,567 clicks, 300 items"
    assert lines[2] == "split: 1,000 train / 100 validation / 100 test users; 290 items seen in training"
    assert lines[3].startswith("seed 7 (split, initialisation and batches), epochs: plateau, device cpu")
    assert lines[4] == "  Popularity                     trained in      0.0 s"
    assert lines[5] == ("  Mult-VAE                       trained in     12.3 s, best epoch 80 of 100 run "
                        "(budget 200)")
    del results["synthetic_size"]
    assert describe_run(results).splitlines()[0] == "dataset: synthetic"
