"""Bad input gets a clear error that says what was wrong (and how to fix it).

Each test feeds one distinct mistake a learner can make, through the public API or the
command line, and matches the words of the message that name the problem. Fixture files
are written in the exact upstream layouts: ``u.data`` (tab-separated, 4 fields),
``ratings.dat`` (``::``, with or without timestamp) and ``ratings.csv`` (header
``userId,movieId,rating,timestamp``).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from conftest import write_ratings_csv, write_ratings_dat, write_u_data
from vaecf.cli import main
from vaecf.data import (DatasetUnavailable, RatingFileError, RatingTable, SplitError,
                        load_dataset, load_movielens, paper_split, read_ratings)
from vaecf.metrics import evaluate, ndcg_at_k, recall_at_k, top_k
from vaecf.models import MultDAE, MultVAE, Popularity
from vaecf.models.inputs import csr_to_torch
from vaecf.train import CheckpointMismatch, TrainConfig, fit

# Twelve users with ten 4-5 star ratings each: enough for a 2 + 2 held-out split.
ROWS = [(u, i, 5 if (u + i) % 3 else 4, 881250949 + 100 * u + i)
        for u in range(1, 13) for i in range(1, 11)]


def u_data(path: Path, rows=ROWS) -> Path:
    return write_u_data(path, rows)


def ratings_dat(path: Path, rows=ROWS, timestamps=True) -> Path:
    return write_ratings_dat(path, rows, timestamps)


def ratings_csv(path: Path, rows=ROWS) -> Path:
    return write_ratings_csv(path, rows)


def table(rows=ROWS, name="fixture") -> RatingTable:
    users, items, ratings, _ = (np.array(column) for column in zip(*rows))
    return RatingTable(users.astype(np.int64), items.astype(np.int64),
                       ratings.astype(np.float32), name=name)


@pytest.fixture(scope="module")
def split():
    return paper_split(table(), n_heldout=2, seed=1)


def run_cli(args, capsys) -> tuple[int, str]:
    """Exit code and stderr of ``python -m vaecf ...`` (argparse errors exit too)."""
    try:
        code = main(args)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


# ---------------------------------------------------------------- rating files
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Rating file not found: .*u\.data"):
        read_ratings(tmp_path / "u.data")


def test_empty_file(tmp_path):
    (tmp_path / "ratings.dat").write_text("")
    with pytest.raises(RatingFileError, match=r"ratings\.dat is empty"):
        read_ratings(tmp_path / "ratings.dat")


def test_header_only_csv(tmp_path):
    (tmp_path / "ratings.csv").write_text("userId,movieId,rating,timestamp\n")
    with pytest.raises(RatingFileError, match=r"holds no ratings"):
        read_ratings(tmp_path / "ratings.csv")


def test_truncated_file_names_the_last_line(tmp_path):
    path = u_data(tmp_path / "u.data")
    text = path.read_text()
    path.write_text(text[: text.rindex("\t")])  # the copy stopped before the timestamp
    with pytest.raises(RatingFileError, match=rf"line {len(ROWS)}: expected 4 fields "
                                              r"separated by '<TAB>'"):
        read_ratings(path)


def test_u_data_with_commas_instead_of_tabs(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("".join(f"{u},{i},{r},{t}\n" for u, i, r, t in ROWS))
    with pytest.raises(RatingFileError, match=r"line 1: expected 4 fields separated by '<TAB>'"):
        read_ratings(path)


def test_ratings_dat_with_single_colons(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("".join(f"{u}:{i}:{r}:{t}\n" for u, i, r, t in ROWS))
    with pytest.raises(RatingFileError, match=r"line 1: the user field is missing or not a "
                                              r"number.*user::item::rating"):
        read_ratings(path)


def test_ratings_csv_with_semicolons(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId;movieId;rating;timestamp\n1;2;4.0;100\n")
    with pytest.raises(RatingFileError, match=r"first line 'userId;movieId;rating;timestamp' "
                                              r"is separated by ';', but a ratings\.csv file is "
                                              r"separated by ','"):
        read_ratings(path)


def test_too_many_fields(tmp_path):
    path = ratings_dat(tmp_path / "ratings.dat")
    path.write_text(path.read_text() + "1::99::5::881250949::extra\n")
    with pytest.raises(RatingFileError, match=rf"not a well-formed ratings\.dat file .*in line "
                                              rf"{len(ROWS) + 1}, saw 5\).*3 or 4 fields "
                                              r"separated by '::'"):
        read_ratings(path)


def test_non_numeric_rating(tmp_path):
    rows = ROWS[:2] + [(1, 3, "five", 881250949)] + ROWS[3:]
    path = ratings_dat(tmp_path / "ratings.dat", rows, timestamps=False)
    with pytest.raises(RatingFileError, match=r"line 3: the rating field is missing or not a "
                                              r"number \(got 'five'\)"):
        read_ratings(path)


def test_non_numeric_item_id(tmp_path):
    rows = ROWS[:4] + [(1, "tt0114709", 5, 881250949)] + ROWS[5:]
    path = ratings_csv(tmp_path / "ratings.csv", rows)
    with pytest.raises(RatingFileError, match=r"line 6: the item field is missing or not a "
                                              r"number \(got 'tt0114709'\)"):
        read_ratings(path)


@pytest.mark.parametrize("writer, name, bad, shown", [
    (u_data, "u.data", 6, r"rating 6 is outside 1\.\.5"),
    (ratings_dat, "ratings.dat", 0, r"rating 0 is outside 1\.\.5"),
    (ratings_csv, "ratings.csv", 5.5, r"rating 5\.5 is outside 0\.5\.\.5"),
])
def test_rating_out_of_range(tmp_path, writer, name, bad, shown):
    rows = ROWS[:7] + [(2, 7, bad, 881250949)] + ROWS[8:]
    path = writer(tmp_path / name, rows)
    first_line = 9 if name == "ratings.csv" else 8
    with pytest.raises(RatingFileError, match=rf"line {first_line}: {shown}"):
        read_ratings(path)


@pytest.mark.parametrize("bad_id, shown", [(-3, "-3"), (2.5, "2.5"), ("inf", "inf"),
                                           ("1e30", "1e+30")])
def test_user_id_not_a_whole_number(tmp_path, bad_id, shown):
    path = tmp_path / "u.data"
    path.write_text(f"1\t1\t5\t1\n{bad_id}\t2\t4\t1\n")
    with pytest.raises(RatingFileError, match=rf"line 2: user id {re.escape(shown)} is not a "
                                              "non-negative whole number"):
        read_ratings(path)


def test_duplicate_user_item_rows(tmp_path):
    rows = ROWS + [(3, 4, 2, 999999999)]  # user 3 rated item 4 again, far below
    path = ratings_dat(tmp_path / "ratings.dat", rows)
    with pytest.raises(RatingFileError, match=rf"user 3 rated item 4 twice \(lines 24 and "
                                              rf"{len(rows)}\)\. Keep one rating"):
        read_ratings(path)


def test_file_name_that_announces_no_format(tmp_path):
    path = tmp_path / "ratings.txt"
    path.write_text("1\t1\t5\t1\n")
    with pytest.raises(RatingFileError, match=r"Cannot tell the format.*fmt='ratings\.csv'.*"
                                              r"--dataset custom"):
        read_ratings(path)


def test_unknown_format_name(tmp_path):
    path = u_data(tmp_path / "u.data")
    with pytest.raises(ValueError, match=r"Unknown rating format 'u\.item'"):
        read_ratings(path, fmt="u.item")


def test_misaligned_rating_table():
    with pytest.raises(ValueError, match=r"same length; got 3, 2 and 3"):
        RatingTable(np.arange(3), np.arange(2), np.ones(3))


# ---------------------------------------------------------------- datasets
def test_unknown_dataset_name():
    with pytest.raises(ValueError, match=r"Unknown dataset 'ml-5m'; choose one of synthetic"):
        load_dataset("ml-5m")
    with pytest.raises(ValueError, match=r"Unknown MovieLens dataset 'movielens'"):
        load_movielens("movielens")


def test_unknown_synthetic_size():
    with pytest.raises(ValueError, match=r"Unknown synthetic size 'huge'"):
        load_dataset("synthetic", size="huge")


def test_local_path_without_the_ratings_file(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"No u\.data for ml-100k at .*Point the "
                                                 r"ratings file \(--path on the command line, "
                                                 r"DATA_PATH in a notebook"):
        load_movielens("ml-100k", path=tmp_path, download=False)


# ---------------------------------------------------------------- split protocol
def test_nothing_left_after_filtering():
    low = [(u, i, 3, t) for u, i, _, t in ROWS]  # three stars are not clicks
    with pytest.raises(SplitError, match=r"No user has 5 or more ratings above 3\.5"):
        paper_split(table(low), n_heldout=2)


def test_too_few_users_for_the_heldout_count():
    with pytest.raises(SplitError, match=r"12 users after filtering, too few for 6 validation "
                                         r"\+ 6 test users"):
        paper_split(table(), n_heldout=6)


@pytest.mark.parametrize("n_heldout, message", [
    (0, r"n_heldout must be at least 1"),
    (0.7, r"held-out fraction must lie in \(0, 0\.5\)"),
    ("10%", r"n_heldout must be a count or a fraction"),
])
def test_bad_heldout_size(n_heldout, message):
    with pytest.raises(SplitError, match=message):
        paper_split(table(), n_heldout=n_heldout)


def test_empty_rating_table():
    empty = RatingTable(np.array([], np.int64), np.array([], np.int64), np.array([], np.float32))
    with pytest.raises(SplitError, match=r"rating table is empty"):
        paper_split(empty)


def test_repeated_click_in_a_table_built_by_hand():
    rows = ROWS + [(5, 2, 5, 0)]
    with pytest.raises(SplitError, match=r"user 5 rated item 2 more than once"):
        paper_split(table(rows), n_heldout=2)


def test_nan_rating_in_a_table_built_by_hand():
    bad = table()
    bad.ratings[17] = np.nan
    with pytest.raises(SplitError, match=r"1 NaN or infinite rating\(s\) \(the first at row 17: "
                                         r"user 2, item 8\)"):
        paper_split(bad, n_heldout=2)


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("build, message", [
    (lambda: MultVAE(0), r"n_items must be a positive whole number, got 0"),
    (lambda: MultVAE(10, latent_dim=0),
     r"layer sizes must be positive whole numbers, got \[600, 0\]"),
    (lambda: MultDAE(10, hidden_dims=(-5,)),
     r"layer sizes must be positive whole numbers, got \[-5\]"),
    (lambda: MultVAE(10, hidden_dims=(2.5,)), r"layer sizes must be positive whole numbers"),
])
def test_zero_or_negative_dimensions(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("kwargs, message", [
    (dict(dropout=1.0), r"dropout must lie in \[0, 1\)"),
    (dict(l2=-0.1), r"L2 penalty λ must not be negative"),
    (dict(likelihood="poisson"), r"Unknown likelihood 'poisson'"),
])
def test_bad_model_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultVAE(10, **kwargs)


def test_fold_in_with_another_item_count(split):
    model = MultVAE(split.n_items, hidden_dims=(8,), latent_dim=4)
    wrong = sp.csr_matrix(np.ones((2, split.n_items + 3), dtype=np.float32))
    with pytest.raises(ValueError, match=rf"the batch has {split.n_items + 3} items but the model "
                                         rf"was built for {split.n_items}"):
        model.score(wrong)
    popularity = Popularity().fit(split.train)
    with pytest.raises(ValueError, match=rf"the batch has {split.n_items + 3} items; the model "
                                         rf"knows {split.n_items}"):
        popularity.score(wrong)


def test_dense_matrix_where_sparse_is_expected(split):
    model = MultDAE(split.n_items, hidden_dims=(8,))
    with pytest.raises(TypeError, match=r"expected a SciPy sparse matrix of clicks, got ndarray"
                                        r".*scipy\.sparse\.csr_matrix"):
        model.score(split.valid_fold_in.toarray())


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_clicks(bad):
    clicks = sp.csr_matrix(np.array([[1.0, 0.0, 1.0], [0.0, bad, 1.0]], dtype=np.float32))
    with pytest.raises(ValueError, match=r"click matrix holds 1 NaN or infinite value"):
        csr_to_torch(clicks)


# ---------------------------------------------------------------- metrics
@pytest.mark.parametrize("k, message", [
    (0, r"K must be a positive whole number, got 0"),
    (-5, r"K must be a positive whole number, got -5"),
    (2.5, r"K must be a positive whole number, got 2\.5"),
    (11, r"K=11 is larger than the number of items \(10\); choose K ≤ 10"),
])
def test_bad_k(k, message):
    scores = np.random.default_rng(0).normal(size=(3, 10))
    target = np.eye(3, 10)
    with pytest.raises(ValueError, match=message):
        ndcg_at_k(scores, target, k)
    with pytest.raises(ValueError, match=message):
        top_k(scores, k)


def test_nan_scores():
    scores = np.zeros((2, 10))
    scores[1, 4] = np.nan
    with pytest.raises(ValueError, match=r"scores contain NaN; the model .* has diverged"):
        recall_at_k(scores, np.eye(2, 10), 5)


def test_positive_infinite_scores():
    scores = np.zeros((2, 10))
    scores[0, 3] = np.inf
    with pytest.raises(ValueError, match=r"scores contain \+inf"):
        ndcg_at_k(scores, np.eye(2, 10), 5)
    scores[0, 3] = -np.inf  # excluded items are −∞: allowed
    assert ndcg_at_k(scores, np.eye(2, 10), 5).shape == (2,)


def test_scores_and_target_of_different_shapes():
    with pytest.raises(ValueError, match=r"scores have shape \(2, 10\) but the target has shape "
                                         r"\(2, 9\)"):
        ndcg_at_k(np.zeros((2, 10)), np.eye(2, 9), 5)


def test_user_without_heldout_items():
    target = np.eye(3, 10)
    target[2] = 0
    with pytest.raises(ValueError, match=r"1 user\(s\) have no held-out items"):
        recall_at_k(np.zeros((3, 10)), target, 5)


def test_fold_in_and_target_of_different_shapes(split):
    with pytest.raises(ValueError, match=r"fold-in \(2, \d+\) and target \(2, \d+\) differ"):
        evaluate(lambda batch: batch.toarray(), split.valid_fold_in,
                 split.valid_target[:, :-1])


# ---------------------------------------------------------------- training
@pytest.mark.parametrize("kwargs, message", [
    (dict(beta_cap=-0.1), r"beta_cap \(β\) must be a finite number ≥ 0, got -0\.1"),
    (dict(beta_cap=float("inf")), r"beta_cap \(β\) must be a finite number ≥ 0"),
    (dict(epochs=0), r"epochs must be a positive whole number, got 0"),
    (dict(batch_size=-500), r"batch_size must be a positive whole number"),
    (dict(lr=0.0), r"lr must be positive, got 0\.0"),
    (dict(anneal_fraction=0.0), r"anneal_fraction must lie in \(0, 1\]"),
    (dict(patience=0), r"patience must be at least 1 epoch"),
])
def test_bad_training_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_model_built_for_another_item_count(split):
    model = MultDAE(split.n_items + 1, hidden_dims=(4,))
    with pytest.raises(ValueError, match=rf"built for {split.n_items + 1} items but the data has "
                                         rf"{split.n_items}; build it with n_items=split\.n_items"):
        fit(model, split, TrainConfig(epochs=1, eval_k=5), progress=False)


def test_checkpoint_from_another_architecture(split, tmp_path):
    checkpoint = tmp_path / "run.pt"
    config = TrainConfig(epochs=1, batch_size=4, eval_k=5)
    torch.manual_seed(0)
    fit(MultDAE(split.n_items, hidden_dims=(4,)), split, config, checkpoint=checkpoint,
        progress=False)
    with pytest.raises(CheckpointMismatch, match=r"holds a .*'MultDAE'.* model, not .*'MultVAE'"
                                                 r".*Resume with the same architecture"):
        fit(MultVAE(split.n_items, hidden_dims=(4,), latent_dim=2), split, config,
            checkpoint=checkpoint, resume=True, progress=False)


def test_damaged_checkpoint(split, tmp_path):
    checkpoint = tmp_path / "run.pt"
    checkpoint.write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(CheckpointMismatch, match=r"cannot be read as a training checkpoint.*"
                                                 r"delete it or choose another"):
        fit(MultDAE(split.n_items, hidden_dims=(4,)), split, TrainConfig(epochs=1, eval_k=5),
            checkpoint=checkpoint, resume=True, progress=False)


def test_bare_state_dict_as_checkpoint(split, tmp_path):
    model = MultDAE(split.n_items, hidden_dims=(4,))
    checkpoint = tmp_path / "weights.pt"
    torch.save(model.state_dict(), checkpoint)
    with pytest.raises(CheckpointMismatch, match=r"not a checkpoint written by vaecf\.train\.fit"):
        fit(model, split, TrainConfig(epochs=1, eval_k=5), checkpoint=checkpoint, resume=True,
            progress=False)


# ---------------------------------------------------------------- command line
def test_cli_unknown_dataset(capsys, tmp_path):
    code, err = run_cli(["reproduce", "--dataset", "ml-5m", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "argument --dataset: invalid choice: 'ml-5m'" in err


def test_cli_missing_local_file(capsys, tmp_path):
    missing = tmp_path / "nowhere" / "u.data"
    code, err = run_cli(["reproduce", "--dataset", "ml-100k", "--path", str(missing),
                         "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert f"error: No u.data for ml-100k at {missing}" in err
    assert "Traceback" not in err


def test_cli_malformed_file(capsys, tmp_path):
    path = u_data(tmp_path / "u.data", ROWS[:5] + [(1, 6, "NA", 1)] + ROWS[6:])
    code, err = run_cli(["reproduce", "--dataset", "ml-100k", "--path", str(path),
                         "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert re.search(r"error: .*u\.data, line 6: the rating field is missing or not a number", err)
    assert not (tmp_path / "out").exists()


def test_cli_too_many_heldout_users(capsys, tmp_path):
    path = u_data(tmp_path / "u.data")
    code, err = run_cli(["reproduce", "--dataset", "ml-100k", "--path", str(path),
                         "--heldout", "600", "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert "error: ml-100k (modified) has 12 users after filtering, too few for 600 validation" in err


@pytest.mark.parametrize("value", ["abc", "1.5", "0.5"])
def test_cli_heldout_that_is_neither_count_nor_fraction(capsys, tmp_path, value):
    code, err = run_cli(["reproduce", "--heldout", value, "--out", str(tmp_path)], capsys)
    assert code == 2
    assert (f"argument --heldout: expected a count of users such as 600 or a fraction below "
            f"0.5 such as 0.1, got '{value}'") in err


def test_cli_negative_beta(capsys, tmp_path):
    code, err = run_cli(["reproduce", "--size", "tiny", "--beta-cap", "-1", "--epochs", "1",
                         "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert "argument --beta-cap: expected a number ≥ 0 such as 0.2, or 'anneal', got '-1'" in err


def test_cli_zero_epochs(capsys, tmp_path):
    code, err = run_cli(["reproduce", "--size", "tiny", "--epochs", "0",
                         "--out", str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    assert "error: epochs must be a positive whole number, got 0" in err


def test_cli_refuses_to_overwrite_results(capsys, tmp_path):
    (tmp_path / "results.json").write_text("{}")
    code, err = run_cli(["reproduce", "--size", "tiny", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "results.json already exists; choose another --out or pass --overwrite" in err
    assert (tmp_path / "results.json").read_text() == "{}"
