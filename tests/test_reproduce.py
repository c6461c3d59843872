import json

import pytest

from vaecf.cli import main
from vaecf.reproduce import autoencoder_name, reproduce


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
