import json

import pytest

from vaecf.cli import main
from vaecf.experiments.reproduce import autoencoder_name, reproduce


def test_one_table_with_every_model_and_the_chosen_likelihood(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["reproduce", "--dataset", "synthetic", "--size", "tiny", "--epochs", "1",
                 "--likelihood", "logistic", "--precision", "bf16", "--out", str(out), "--quiet"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["Popularity", "WMF", "EASE", "AE (logistic)", "Logistic-DAE",
                                       "Logistic-VAE", "Oracle (true probabilities)"]
    assert results["likelihood"] == "logistic" and results["precision"] == "bf16"
    assert results["models"]["Logistic-VAE"]["train_config"]["precision"] == "bf16"
    for name, entry in results["models"].items():
        assert {"test", "test_stderr", "validation", "train_seconds"} <= set(entry)
        assert 0 <= entry["test"]["ndcg@100"] <= 1
    assert results["models"]["Logistic-VAE"]["model_config"]["likelihood"] == "logistic"
    assert results["models"]["EASE"]["model_config"] == {"model": "EASE", "l2": 500.0}
    table = capsys.readouterr().out
    assert "WMF" in table and "EASE" in table and "logistic likelihood" in table


def test_names_follow_the_paper():
    assert autoencoder_name("VAE") == "Mult-VAE"
    assert autoencoder_name("DAE", "gaussian") == "Gaussian-DAE"
    assert autoencoder_name("AE") == "AE"
    with pytest.raises(ValueError, match="Unknown likelihood"):
        autoencoder_name("VAE", "poisson")


@pytest.mark.parametrize("option, value, message", [
    ("likelihood", "poisson", "Unknown likelihood 'poisson'"),
    ("precision", "fp16", "precision must be one of fp32, bf16, got 'fp16'")])
def test_unknown_choice_is_rejected(option, value, message, capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", f"--{option}", value])
    assert f"invalid choice: '{value}'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=message):
        reproduce("synthetic", size="tiny", **{option: value})


def test_models_record_convergence_and_per_user_scores_and_the_table_warns(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["reproduce", "--dataset", "synthetic", "--size", "tiny", "--epochs", "1",
                 "--out", str(out), "--quiet"]) == 0
    results = json.loads((out / "results.json").read_text())
    vae = results["models"]["Mult-VAE"]
    assert vae["epochs_run"] == 1 and vae["budget_epochs"] == 1 and vae["converged"] is False
    assert len(vae["test_per_user"]["ndcg@100"]) == results["counts"]["test_users"]
    assert "converged" not in results["models"]["EASE"]  # not trained by gradient descent
    table = capsys.readouterr().out
    assert "WARNING: Mult-VAE was still improving" in table and "STILL IMPROVING" in table


def test_the_beta_cap_can_be_chosen_by_the_papers_annealing_procedure():
    results, _ = reproduce("synthetic", size="tiny", epochs=3, beta_cap="anneal", progress=False)
    procedure = results["beta_procedure"]
    assert 0 < procedure["beta"] <= 1 and procedure["epochs"] == 3
    assert procedure["cap"] == round(procedure["beta"], 2)
    assert results["models"]["Mult-VAE"]["train_config"]["beta_cap"] == procedure["cap"]
    assert results["models"]["Mult-DAE"]["train_config"]["beta_cap"] == 0.2
    with pytest.raises(ValueError, match="'anneal'"):
        reproduce("synthetic", size="tiny", epochs=1, beta_cap="annealed")


def test_beta_cap_flag_takes_a_number_or_anneal(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--beta-cap", "lots"])
    assert "--beta-cap: expected a number ≥ 0 such as 0.2, or 'anneal'" in capsys.readouterr().err
