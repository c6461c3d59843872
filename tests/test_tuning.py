import json

import numpy as np
import pytest

from vaecf.experiments.reproduce import prepare_data, run_models
from vaecf.metrics import evaluate
from vaecf.models import EASE
from vaecf.experiments.tuning import GRIDS, check_grids, edge_note, edge_of_grid, grid_points, grid_search, tune_baseline, tuned_test_ndcg, validation_ndcg


def test_grid_points_are_every_combination_in_order():
    assert grid_points({"a": (1, 2), "b": ("x", "y")}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


def test_grid_search_keeps_the_best_setting_and_the_earlier_on_a_tie():
    scores = {1: 0.2, 2: 0.5, 3: 0.5, 4: 0.1}
    search, fitted = grid_search("toy", {"k": (1, 2, 3, 4)},
                                 lambda s: (f"model {s['k']}", scores[s["k"]]), progress=False)
    assert search.chosen == {"k": 2} and fitted == "model 2"
    summary = search.summary()
    assert [t["validation_ndcg@100"] for t in summary["tried"]] == [0.2, 0.5, 0.5, 0.1]
    assert summary["chosen_validation_ndcg@100"] == 0.5
    json.dumps(summary)


def test_the_documented_grids_cover_the_measured_anchors():
    assert {100.0, 200.0, 500.0} <= set(GRIDS["EASE"]["l2"])
    assert set(GRIDS["WMF"]) == {"n_factors", "l2", "alpha"}


def test_bad_grids_are_clear_errors():
    with pytest.raises(ValueError, match="tuned models with a grid"):
        check_grids({"SLIM": {"l2": [1.0]}})
    with pytest.raises(ValueError, match="has no setting 'beta'"):
        check_grids({"EASE": {"beta": [1.0]}})
    with pytest.raises(ValueError, match="non-empty list"):
        check_grids({"EASE": {"l2": []}})


def test_tuning_records_the_grid_and_scores_only_the_chosen_setting_on_test_users():
    data = prepare_data("synthetic", size="tiny", seed=3)
    grids = {"EASE": {"l2": (1.0, 30.0, 1000.0)},
             "WMF": {"n_factors": (4,), "l2": (1.0, 10.0), "alpha": (3.0,)},
             "Mult-DAE": {"dropout": (0.2, 0.5), "l2": (0.0,)}}
    results, _ = run_models(data, epochs=2, models="EASE,WMF,Mult-DAE,Mult-VAE", tune=True,
                            grids=grids, progress=False)
    assert results["tuned"] is True and results["tuning_seconds"] > 0
    tuning = results["tuning"]
    assert set(tuning) == {"EASE", "WMF", "Mult-DAE", "Mult-VAE"}
    ease = tuning["EASE"]
    assert len(ease["tried"]) == 3
    best = max(ease["tried"], key=lambda t: t["validation_ndcg@100"])
    assert ease["chosen"] == best["setting"]
    assert results["models"]["EASE"]["model_config"]["l2"] == ease["chosen"]["l2"]
    assert results["models"]["EASE"]["validation"]["ndcg@100"] == pytest.approx(
        best["validation_ndcg@100"])
    assert all("test" not in t for t in ease["tried"])
    wmf_config = results["models"]["WMF"]["model_config"]
    assert {k: wmf_config[k] for k in tuning["WMF"]["chosen"]} == tuning["WMF"]["chosen"]
    dae_config = results["models"]["Mult-DAE"]["model_config"]
    assert dae_config["dropout"] == tuning["Mult-DAE"]["chosen"]["dropout"]
    assert tuning["Mult-VAE"]["chosen"]["beta_cap"] == results["beta_procedure"]["cap"]
    assert results["models"]["Mult-VAE"]["train_config"]["beta_cap"] == results["beta_procedure"]["cap"]


def test_tune_baseline_keeps_the_setting_best_on_validation_and_holds_the_others_fixed():
    split = prepare_data("synthetic", size="tiny", seed=3).split
    search, wmf = tune_baseline("WMF", split, {"n_factors": (4,), "l2": (1.0, 10.0), "alpha": (3.0,)},
                                settings={"iterations": 2}, seed=5, progress=False)
    scores = [t["validation_ndcg@100"] for t in search.tried]
    assert search.chosen == search.tried[scores.index(max(scores))]["setting"]
    assert wmf.config() == {"model": "WMF", "n_factors": 4, "l2": search.chosen["l2"],
                            "alpha": 3.0, "iterations": 2, "seed": 5}
    assert validation_ndcg(wmf.score, split) == pytest.approx(max(scores))
    _, ease = tune_baseline("EASE", split, {"l2": (30.0,)}, progress=False)
    assert ease.config() == {"model": "EASE", "l2": 30.0}


def test_tune_baseline_refuses_a_model_without_a_closed_form_fit():
    split = prepare_data("synthetic", size="tiny", seed=3).split
    with pytest.raises(ValueError, match="fits EASE or WMF, not 'Mult-DAE'"):
        tune_baseline("Mult-DAE", split, progress=False)
    with pytest.raises(ValueError, match="has no setting 'k'"):
        tune_baseline("EASE", split, {"k": (1,)}, progress=False)


def test_tuned_test_ndcg_scores_the_chosen_setting_on_the_test_users():
    split = prepare_data("synthetic", size="tiny", seed=3).split
    search, per_user = tuned_test_ndcg("EASE", split, {"l2": (1.0, 30.0)}, progress=False)
    ease = EASE(search.chosen["l2"]).fit(split.train)
    want = evaluate(ease.score, split.test_fold_in, split.test_target)["ndcg@100"]
    assert per_user.shape == (split.test_users.size,)
    np.testing.assert_allclose(per_user, want)


def test_a_choice_at_either_end_of_its_grid_is_flagged_and_one_inside_or_alone_is_not():
    grid = {"n_factors": (100, 200), "l2": (300.0, 30.0, 100.0), "alpha": (3.0, 10.0), "seed": (0,)}
    assert edge_of_grid(grid, {"n_factors": 200, "l2": 100.0, "alpha": 3.0, "seed": 0}) == \
        {"n_factors": "largest", "alpha": "smallest"}
    assert edge_of_grid(grid, {"n_factors": 100, "l2": 30.0, "alpha": 10.0}) == \
        {"n_factors": "smallest", "l2": "smallest", "alpha": "largest"}  # the grid's order does not matter
    assert edge_of_grid({"l2": [50.0, 500.0, 2000.0]}, {"l2": 500.0}) == {}
    assert edge_of_grid({"beta_cap": "the paper's procedure"}, {"beta_cap": 0.73}) == {}
    assert edge_note(grid, {"n_factors": 200, "l2": 100.0, "alpha": 3.0}) == \
        "; at the edge of its grid: n_factors the largest tried, alpha the smallest tried"
    assert edge_note({"l2": [50.0, 500.0, 2000.0]}, {"l2": 500.0}) == ""
