import json

import pytest

from vaecf.cli import main


def test_reproduce_on_tiny_synthetic_data(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["reproduce", "--dataset", "synthetic", "--size", "tiny", "--epochs", "2",
                 "--out", str(out), "--quiet"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["models"]) >= {"Popularity", "Mult-DAE", "Mult-VAE", "Oracle (true probabilities)"}
    for entry in results["models"].values():
        assert set(entry["test"]) == {"recall@20", "recall@50", "ndcg@100"}
        assert 0 <= entry["test"]["ndcg@100"] <= 1
    assert results["counts"]["test_users"] == results["protocol"]["n_heldout"]
    assert (out / "training_curves.png").stat().st_size > 0
    table = capsys.readouterr().out
    assert "Mult-VAE" in table and "NDCG@100" in table


def test_existing_results_are_not_overwritten(tmp_path, capsys):
    (tmp_path / "results.json").write_text("{\"mine\": true}")
    code = main(["reproduce", "--size", "tiny", "--epochs", "1", "--out", str(tmp_path), "--quiet"])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert json.loads((tmp_path / "results.json").read_text()) == {"mine": True}


def test_unknown_dataset_is_rejected(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--dataset", "ml-5m"])
    assert "invalid choice: 'ml-5m'" in capsys.readouterr().err


def test_missing_movielens_file_is_a_clear_error(tmp_path, capsys):
    code = main(["reproduce", "--dataset", "ml-1m", "--path", str(tmp_path), "--out",
                 str(tmp_path / "o"), "--quiet"])
    assert code == 2
    assert "No ratings.dat for ml-1m" in capsys.readouterr().err


def test_counts_command_prints_the_protocol_counts(capsys):
    assert main(["counts", "--dataset", "synthetic", "--size", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "users_after_filtering" in out and "train_users" in out


def test_counts_compares_with_published_ml20m_counts(tmp_path, capsys):
    from conftest import write_ratings_csv

    write_ratings_csv(tmp_path / "ratings.csv")
    assert main(["counts", "--dataset", "ml-20m", "--path", str(tmp_path), "--heldout", "1"]) == 1
    assert "DIFFERENT" in capsys.readouterr().out  # a toy file is not ML-20M


def test_an_interrupted_reproduction_resumes_from_its_checkpoints(tmp_path, monkeypatch):
    from vaecf.models import MultVAE

    args = ["reproduce", "--size", "tiny", "--epochs", "3", "--quiet"]
    assert main(args + ["--out", str(tmp_path / "straight")]) == 0
    original, calls = MultVAE.loss, {"n": 0}

    def crash_in_the_second_epoch(self, x, beta):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, x, beta)

    monkeypatch.setattr(MultVAE, "loss", crash_in_the_second_epoch)
    assert main(args + ["--out", str(tmp_path / "resumed")]) == 130  # Ctrl-C: no traceback
    assert (tmp_path / "resumed" / "checkpoints" / "Mult-VAE.pt").exists()
    monkeypatch.setattr(MultVAE, "loss", original)
    assert main(args + ["--out", str(tmp_path / "resumed")]) == 0
    straight = json.loads((tmp_path / "straight" / "results.json").read_text())["models"]
    resumed = json.loads((tmp_path / "resumed" / "results.json").read_text())["models"]
    for name in ("AE", "Mult-DAE", "Mult-VAE"):
        assert resumed[name]["test"] == straight[name]["test"]


def test_counts_writes_the_click_statistics(tmp_path, capsys):
    out = tmp_path / "statistics.json"
    assert main(["counts", "--dataset", "synthetic", "--size", "tiny", "--statistics", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["dataset"] == "synthetic" and 0 < written["statistics"]["item_gini"] < 1
    assert "Gini of item popularity" in capsys.readouterr().out


def test_models_chooses_which_models_run(tmp_path):
    out = tmp_path / "run"
    code = main(["reproduce", "--size", "tiny", "--epochs", "1", "--out", str(out), "--quiet",
                 "--models", "ease,Popularity"])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert list(results["models"]) == ["Popularity", "EASE"]
    assert results["models_run"] == ["Popularity", "EASE"]
    assert not (out / "training_curves.png").exists()


def test_an_unknown_model_is_a_clear_error_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["reproduce", "--size", "tiny", "--out", str(out), "--quiet",
                 "--models", "EASE,SLIM"])
    assert code == 2
    err = capsys.readouterr().err
    assert "'SLIM'" in err and "--models" in err and "Mult-VAE" in err
    assert not out.exists()
