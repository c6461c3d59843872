"""Bad or unusual inputs a careless researcher gives ``python -m vaecf``: each one gets the
right outcome, never a traceback, a silently wrong answer or a lost file.

Fixture files are written in the exact upstream layouts (``u.data``, ``ratings.dat``,
``ratings.csv`` with its header ``userId,movieId,rating,timestamp``, ``movies.dat``) and,
for a user's own data, as the click log docs/reproducing.md shows.
"""
from __future__ import annotations

import codecs
import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROWS, write_ratings_csv
from vaecf.data import RatingFileError, read_ratings
from vaecf.data.titles import read_item_metadata

CSV_HEADER = "userId,movieId,rating,timestamp"


def csv_lines(rows=ROWS) -> list[str]:
    return [f"{u},{i},{float(r)},{t}" for u, i, r, t in rows]


# ---------------------------------------------------------------- files read by what they say
def test_transposed_header_is_read_by_name(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("movieId,userId,rating,timestamp\n"
                    + "".join(f"{i},{u},{float(r)},{t}\n" for u, i, r, t in ROWS))
    table = read_ratings(path)
    np.testing.assert_array_equal(table.user_ids, [r[0] for r in ROWS])
    np.testing.assert_array_equal(table.item_ids, [r[1] for r in ROWS])


def test_headerless_csv_is_refused_not_read_one_rating_short(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(csv_lines()) + "\n")
    with pytest.raises(RatingFileError, match=r"has no header line: its first line '1,1,5\.0,"
                                              r"\d+' is a record.*userId,movieId"):
        read_ratings(path)


def test_extra_column_is_ignored_by_name(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,tag,movieId,rating,timestamp\n"
                    + "".join(f"{u},fun,{i},{float(r)},{t}\n" for u, i, r, t in ROWS))
    table = read_ratings(path)
    np.testing.assert_array_equal(table.ratings, [r[2] for r in ROWS])
    np.testing.assert_array_equal(table.item_ids, [r[1] for r in ROWS])


def test_header_aliases(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("item_id,score,user\n" + "".join(f"{i},{r},{u}\n" for u, i, r, _ in ROWS))
    table = read_ratings(path)
    np.testing.assert_array_equal(table.user_ids, [r[0] for r in ROWS])


def test_header_that_cannot_be_mapped_lists_its_columns(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("a,b,c,d\n1,2,4.0,5\n")
    with pytest.raises(RatingFileError, match=r"the header has columns 'a', 'b', 'c', 'd' but no "
                                              r"user or item or rating column"):
        read_ratings(path)


def test_header_naming_a_column_twice(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_text("userId,user_id,movieId,rating\n1,1,2,4.0\n")
    with pytest.raises(RatingFileError, match=r"names the user column twice \('userId' and "
                                              r"'user_id'\)"):
        read_ratings(path)


def test_gzip_file_is_refused_by_name(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(gzip.compress(write_ratings_csv(tmp_path / "plain.csv").read_bytes()))
    with pytest.raises(RatingFileError, match=r"is gzip-compressed, not a text file: unpack it "
                                              r"first \(gunzip -k"):
        read_ratings(path)


def test_zip_archive_is_refused_by_name(tmp_path):
    path = tmp_path / "ratings.dat"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ml-1m/ratings.dat", "1::1::5::1\n")
    with pytest.raises(RatingFileError, match=r"is a zip archive.*unzip"):
        read_ratings(path)


@pytest.mark.parametrize("encoding, shown", [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_wide_text_is_refused_by_name(tmp_path, encoding, shown):
    path = tmp_path / "ratings.csv"
    path.write_text(CSV_HEADER + "\n" + "\n".join(csv_lines()) + "\n", encoding=encoding)
    with pytest.raises(RatingFileError, match=rf"is {shown} text; save it as UTF-8"):
        read_ratings(path)


def test_utf16_without_byte_order_mark(tmp_path):
    path = tmp_path / "u.data"
    path.write_bytes("1\t1\t5\t1\n".encode("utf-16-le"))
    with pytest.raises(RatingFileError, match=r"holds NUL bytes.*UTF-16 text without a "
                                              r"byte-order mark"):
        read_ratings(path)


def test_utf8_byte_order_mark_before_the_header(tmp_path):
    path = tmp_path / "ratings.csv"
    path.write_bytes(codecs.BOM_UTF8 + (CSV_HEADER + "\n" + "\n".join(csv_lines()) + "\n").encode())
    assert len(read_ratings(path)) == len(ROWS)


MOVIES = [(1, "Toy Story (1995)", "Animation|Children's|Comedy"),
          (2, "Misérables, Les (1995)", "Drama|Musical"),
          (3, "Crème de la crème (1999)", "Comedy")]


@pytest.mark.parametrize("encoding", ["latin-1", "utf-8"])
def test_movies_dat_titles_in_either_encoding(tmp_path, encoding):
    path = tmp_path / "movies.dat"
    path.write_text("".join(f"{i}::{t}::{g}\n" for i, t, g in MOVIES), encoding=encoding)
    titles, genres = read_item_metadata(path)
    assert titles == {i: t for i, t, _ in MOVIES}
    assert genres[2] == ["Drama", "Musical"]


def test_real_ml1m_titles_are_not_garbled(shared_data):
    titles, _ = read_item_metadata(shared_data / "ml-1m" / "movies.dat")
    assert not any("Ã" in title for title in titles.values())
    assert any("é" in title for title in titles.values())


# ---------------------------------------------------------------- ties in the ranking
def test_equal_scores_are_not_ranked_by_item_index():
    from vaecf.metrics import ndcg_at_k, recall_at_k

    n_items = 10
    scores = np.zeros((n_items, n_items))
    target = np.eye(n_items)  # user j's one held-out item is item j
    hits = np.array([recall_at_k(scores, target, 1, seed=seed) for seed in range(300)])
    # Before: item 0 always won the tie (user 0 scored 1, every other user 0).
    assert 0 < hits[:, 0].mean() < 0.25 and 0 < hits[:, -1].mean() < 0.25
    assert hits.mean() == pytest.approx(1 / n_items, abs=0.02)
    np.testing.assert_array_equal(ndcg_at_k(scores, target, 3, seed=7),
                                  ndcg_at_k(scores, target, 3, seed=7))


def test_ties_do_not_depend_on_batching():
    from vaecf.metrics import evaluate
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    fold_in = sp.csr_matrix((rng.random((30, 12)) < 0.2).astype(np.float32))
    target = ((rng.random((30, 12)) < 0.3) & (fold_in.toarray() == 0)).astype(np.float32)
    target[target.sum(axis=1) == 0, -1] = 1
    target = sp.csr_matrix(target)
    weights = np.round(rng.random((12, 12)))  # 0/1 weights: scores are small whole numbers
    rounded = lambda batch: np.asarray(batch @ weights)  # noqa: E731
    assert (np.diff(np.sort(rounded(fold_in), axis=1), axis=1) == 0).any(axis=1).all()
    a = evaluate(rounded, fold_in, target, ks_recall=(5,), ks_ndcg=(10,), batch_size=7)
    b = evaluate(rounded, fold_in, target, ks_recall=(5,), ks_ndcg=(10,), batch_size=100)
    for name in a:
        np.testing.assert_allclose(a[name], b[name])


# ---------------------------------------------------------------- known releases are known
def test_ml1m_given_as_ml100k_is_refused_by_content(shared_data):
    from vaecf.data import DatasetMismatch, load_movielens

    with pytest.raises(DatasetMismatch, match=r"holds the ml-1m release \(1,000,209 ratings, "
                                              r"6,040 users, 3,706 items\), not ml-100k: pass "
                                              r"--dataset ml-1m"):
        load_movielens("ml-100k", path=shared_data / "ml-1m" / "ratings_no_timestamp.dat",
                       download=False)


def test_ml1m_folder_given_as_ml100k_names_the_dataset_it_holds(tmp_path):
    from vaecf.data import DatasetUnavailable, load_movielens
    from conftest import write_ratings_dat

    write_ratings_dat(tmp_path / "ratings.dat")
    with pytest.raises(DatasetUnavailable, match=r"which holds ml-1m's ratings\.dat: pass "
                                                 r"--dataset ml-1m \(DATASET = \"ml-1m\" in a "
                                                 r"notebook\).*DATA_PATH in a notebook"):
        load_movielens("ml-100k", path=tmp_path, download=False)


def test_a_missing_ratings_path_names_the_parameter_of_each_way_of_running(tmp_path):
    from vaecf.data import DatasetUnavailable, load_movielens

    with pytest.raises(DatasetUnavailable, match="nothing is there.*--path on the command line, "
                                                 "DATA_PATH in a notebook, path= in Python"):
        load_movielens("ml-1m", path=tmp_path / "absent", download=False)


def test_real_releases_are_recognised_without_a_warning(shared_data, recwarn):
    from vaecf.data import load_movielens

    ml100k = load_movielens("ml-100k", path=shared_data / "ml-100k", download=False)
    ml1m = load_movielens("ml-1m", path=shared_data / "ml-1m", download=False)
    assert ml100k.provenance["status"] == "release" and ml100k.name == "ml-100k"
    assert ml1m.provenance["status"] == "release ratings"  # same ratings, no timestamps
    assert not [w for w in recwarn if "release" in str(w.message)]


def test_modified_copy_warns_and_is_labelled(tmp_path):
    from conftest import write_u_data
    from vaecf.data import ModifiedDataWarning, load_movielens

    with pytest.warns(ModifiedDataWarning, match=r"is not the ml-100k release.*labelled as "
                                                 r"modified data \('ml-100k \(modified\)'\)"):
        table = load_movielens("ml-100k", path=write_u_data(tmp_path / "u.data"))
    assert table.name == "ml-100k (modified)" and table.provenance["status"] == "modified"


def test_path_with_the_synthetic_dataset_is_an_error(tmp_path):
    from vaecf.data import load_dataset

    with pytest.raises(ValueError, match=r"a ratings file \(--path .*\) was given, but the "
                                         r"dataset \(--dataset\) is synthetic"):
        load_dataset("synthetic", path=tmp_path / "u.data")


# ---------------------------------------------------------------- your own click log
def click_log(path: Path, header="user,item", n_users=30, n_items=40, rating=None) -> Path:
    """The example of docs/reproducing.md: one click a line, ``user,item`` (optionally ``,rating``)."""
    rng = np.random.default_rng(0)
    lines = [header]
    for user in range(n_users):
        for item in rng.choice(n_items, size=8, replace=False):
            lines.append(f"u{user},film-{item}" + ("" if rating is None else f",{rating}"))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_click_log_with_text_ids_and_no_rating(tmp_path):
    from vaecf.data import load_dataset, paper_split

    table, truth = load_dataset("custom", path=click_log(tmp_path / "clicks.csv"))
    assert truth is None and len(table) == 30 * 8 and table.n_users == 30
    assert set(table.item_titles.values()) <= {f"film-{i}" for i in range(40)}
    split = paper_split(table, n_heldout=0.1, seed=1)
    assert split.counts()["valid_users"] == 3  # 10% of 30 users


def test_click_log_with_every_rating_one(tmp_path):
    from vaecf.data import load_dataset, paper_split

    table, _ = load_dataset("custom", path=click_log(tmp_path / "c.csv", "user,item,rating",
                                                     rating=1))
    assert paper_split(table, n_heldout=3, seed=1).counts()["train_clicks"] > 0
    with pytest.raises(ValueError, match=r"No user has 5 or more ratings above 1.*"
                                         r"--click-threshold"):
        paper_split(load_dataset("custom", path=tmp_path / "c.csv", click_threshold=1)[0])


def test_click_threshold_without_a_rating_column(tmp_path):
    from vaecf.data import load_dataset

    with pytest.raises(RatingFileError, match=r"has no rating column \(its header: 'user', "
                                              r"'item'\), so a click threshold "
                                              r"\(--click-threshold\) cannot apply"):
        load_dataset("custom", path=click_log(tmp_path / "c.csv"), click_threshold=3.5)


def test_click_threshold_for_movielens_is_refused():
    from vaecf.data import load_dataset

    with pytest.raises(ValueError, match=r"click threshold \(--click-threshold\) applies to a "
                                         r"click log of your own"):
        load_dataset("ml-1m", click_threshold=3)


def test_custom_without_a_file():
    from vaecf.data import load_dataset

    with pytest.raises(ValueError, match=r"custom dataset reads a click log of your own: give "
                                         r"its file \(--path\)"):
        load_dataset("custom")


def test_headerless_click_log_is_refused(tmp_path):
    from vaecf.data import load_dataset

    path = tmp_path / "clicks.csv"
    path.write_text("1,2\n1,3\n")
    with pytest.raises(RatingFileError, match=r"has no header line: its first line '1,2'"):
        load_dataset("custom", path=path)


def test_one_column_click_log(tmp_path):
    from vaecf.data import load_dataset

    path = tmp_path / "clicks.txt"
    path.write_text("user item\n1 2\n")
    with pytest.raises(RatingFileError, match=r"first line 'user item' has one column"):
        load_dataset("custom", path=path)


def test_repeated_clicks_are_one_click_but_repeated_ratings_are_refused(tmp_path):
    from vaecf.data import load_dataset

    path = tmp_path / "clicks.tsv"
    path.write_text("user_id\titem_id\tscore\n1\t7\t5\n1\t8\t4\n1\t7\t2\n")
    table, _ = load_dataset("custom", path=path)
    assert len(table) == 2 and table.provenance["repeated_clicks_merged"] == 1
    with pytest.raises(RatingFileError, match=r"user 1 rated item 7 twice \(lines 2 and 4\)"):
        load_dataset("custom", path=path, click_threshold=3)


# ---------------------------------------------------------------- the command line
def run_cli(args, capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``python -m vaecf ...`` (argparse errors exit too)."""
    from vaecf.cli import main

    try:
        code = main(args)
    except SystemExit as stop:
        code = stop.code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


TINY = ["reproduce", "--size", "tiny", "--epochs", "1", "--quiet"]


def test_path_without_dataset_is_an_error(tmp_path, capsys):
    code, _, err = run_cli(TINY + ["--path", str(tmp_path / "nowhere.csv"),
                                   "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "(--dataset) is synthetic, which reads no file" in err
    assert not (tmp_path / "o").exists()


def test_custom_click_log_runs_end_to_end(tmp_path, capsys):
    import json

    path = click_log(tmp_path / "clicks.csv")
    code, out, err = run_cli(["reproduce", "--dataset", "custom", "--path", str(path),
                              "--epochs", "2", "--quiet", "--out", str(tmp_path / "run")], capsys)
    assert code == 0, err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["dataset"] == "custom" and "paper" not in results
    assert results["data"]["status"] == "custom" and results["k_capped"]["items"] < 100
    assert "custom data (clicks.csv)" in out and "paper:" not in out
    assert "ranks all" in out  # K capped to the catalogue, with a note
    for entry in results["models"].values():
        assert 0 <= entry["test"]["ndcg@100"] <= 1


def test_click_threshold_flag_takes_a_number(tmp_path, capsys):
    code, _, err = run_cli(TINY + ["--click-threshold", "high"], capsys)
    assert code == 2 and "argument --click-threshold: expected a number such as 3.5" in err


@pytest.mark.parametrize("seed", ["-5", "x", "4294967296"])
def test_bad_seed_names_the_flag(capsys, seed):
    code, _, err = run_cli(TINY + ["--seed", seed], capsys)
    assert code == 2 and f"argument --seed: expected a whole number from 0 to 4294967295" in err


def test_heldout_of_one_is_too_small_for_a_standard_error(tmp_path, capsys):
    code, _, err = run_cli(TINY + ["--heldout", "1", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "too few for a standard error, which needs at least 2" in err and "--heldout 2" in err


def test_beta_cap_above_one_warns(tmp_path, capsys):
    code, _, err = run_cli(TINY + ["--beta-cap", "1e9", "--out", str(tmp_path / "o")], capsys)
    assert code == 0
    assert "warning: the β cap (--beta-cap) 1e+09 is above 1; the paper's range is [0, 1]" in err


@pytest.mark.parametrize("device, shown", [
    ("gpu", "no such device"), ("meta", "meta tensors hold no data"),
    ("cuda", "sees no CUDA GPU"), ("mps", "has no MPS")])
def test_unusable_device_fails_before_training(tmp_path, capsys, device, shown, monkeypatch):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    if device == "mps" and torch.backends.mps.is_available():
        pytest.skip("this machine has MPS")
    monkeypatch.setattr("vaecf.experiments.reproduce.run_models", lambda *a, **k: pytest.fail("trained"))
    code, _, err = run_cli(TINY + ["--device", device, "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and f"the device (--device) '{device}' cannot be used" in err
    assert shown in err and "Use --device cpu" in err


def test_out_that_is_a_file(tmp_path, capsys):
    (tmp_path / "o").write_text("my notes")
    code, _, err = run_cli(TINY + ["--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--out" in err and "is a file, not a folder" in err
    assert (tmp_path / "o").read_text() == "my notes"


def test_read_only_out_fails_before_training(tmp_path, capsys, monkeypatch):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    (tmp_path / "o").mkdir()
    (tmp_path / "o").chmod(0o555)
    monkeypatch.setattr("vaecf.experiments.reproduce.run_models", lambda *a, **k: pytest.fail("trained"))
    try:
        code, _, err = run_cli(TINY + ["--out", str(tmp_path / "o")], capsys)
    finally:
        (tmp_path / "o").chmod(0o755)
    assert code == 2 and "cannot write" in err and "choose another --out" in err


def test_read_only_out_by_fault_injection(tmp_path, capsys, monkeypatch):
    import errno
    import vaecf.outputs

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(vaecf.outputs, "open", refused, raising=False)
    monkeypatch.setattr("vaecf.experiments.reproduce.run_models", lambda *a, **k: pytest.fail("trained"))
    code, _, err = run_cli(TINY + ["--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "cannot write" in err and "(Permission denied): choose another --out" in err


def test_full_disk_at_the_end_loses_nothing(tmp_path, capsys, monkeypatch):
    import errno
    import json
    import vaecf.outputs

    out = tmp_path / "o"
    assert run_cli(TINY + ["--out", str(out)], capsys)[0] == 0
    before = (out / "results.json").read_text()

    def full(path, value):
        return vaecf.outputs.atomic_write(path, lambda handle: (handle.write(b'{"trunc'),
                                                                _raise(errno.ENOSPC)))

    def _raise(code):
        raise OSError(code, "No space left on device")

    monkeypatch.setattr(vaecf.outputs, "write_json", full)
    code, _, err = run_cli(TINY + ["--out", str(out), "--overwrite"], capsys)
    assert code == 2 and "no space left on the disk" in err and "--out" in err
    assert not list(out.rglob("*.tmp"))  # the temporary file was removed
    aside = next(out.glob("previous-*"))
    assert (aside / "results.json").read_text() == before  # the old results moved, not lost
    assert json.loads(before)["models"]


def test_full_disk_while_checkpointing(tmp_path, capsys, monkeypatch):
    import errno
    import torch

    calls = {"n": 0}
    real_save = torch.save

    def save(state, handle, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            handle.write(b"x" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(state, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    out = tmp_path / "o"
    code, _, err = run_cli(TINY + ["--epochs", "2", "--out", str(out)], capsys)
    assert code == 2 and "no space left on the disk" in err
    assert "rerun the same command" in err
    assert not list(out.rglob("*.tmp")) and (out / "checkpoints" / "AE.pt").exists()


def test_unreadable_results_are_treated_as_absent(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "results.json").write_text('{"models": {"Mult-VA')  # a full disk cut it short
    code, _, err = run_cli(TINY + ["--out", str(out)], capsys)
    assert code == 0
    assert "warning:" in err and "cannot be read" in err and "moved aside" in err
    assert next(out.glob("previous-*/results.json")).read_text().startswith('{"models"')


def test_overwrite_with_a_bad_path_keeps_the_checkpoints(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(TINY + ["--out", str(out)], capsys)[0] == 0
    code, _, err = run_cli(["reproduce", "--dataset", "ml-100k", "--path",
                            str(tmp_path / "typo" / "u.data"), "--overwrite", "--quiet",
                            "--out", str(out)], capsys)
    assert code == 2 and "No u.data for ml-100k" in err
    assert (out / "results.json").exists() and (out / "checkpoints" / "Mult-VAE.pt").exists()
    assert not list(out.glob("previous-*"))


def test_overwrite_moves_old_outputs_aside_and_says_where(tmp_path, capsys):
    out = tmp_path / "o"
    assert run_cli(TINY + ["--out", str(out)], capsys)[0] == 0
    code, _, err = run_cli(TINY + ["--out", str(out), "--overwrite"], capsys)
    assert code == 0
    aside = next(out.glob("previous-*"))
    assert f"Moved the earlier outputs to {aside}/" in err
    assert {p.name for p in aside.iterdir()} == {"results.json", "training_curves.png",
                                                 "test_ndcg.png", "checkpoints"}


def test_someone_elses_pngs_are_not_overwritten(tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "test_ndcg.png").write_bytes(b"my figure")
    code, _, err = run_cli(TINY + ["--out", str(out)], capsys)
    assert code == 2
    assert "holds another run's files (test_ndcg.png) but no results.json" in err
    assert (out / "test_ndcg.png").read_bytes() == b"my figure"


def test_second_run_on_the_same_out_refuses(tmp_path, capsys):
    import fcntl

    out = tmp_path / "o"
    out.mkdir()
    with open(out / ".vaecf.lock", "w") as held:
        held.write("4242")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        code, _, err = run_cli(TINY + ["--out", str(out)], capsys)
    assert code == 2
    assert "another vaecf run (process 4242) is writing to --out" in err
    assert not (out / "results.json").exists()


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("vaecf.experiments.reproduce.run_models", interrupted)
    code, _, err = run_cli(TINY + ["--out", str(tmp_path / "o")], capsys)
    assert code == 130 and "interrupted; rerun the same command to resume" in err


def test_ml1m_given_as_ml100k_on_the_command_line(shared_data, tmp_path, capsys):
    code, _, err = run_cli(["reproduce", "--dataset", "ml-100k", "--path",
                            str(shared_data / "ml-1m" / "ratings_no_timestamp.dat"),
                            "--quiet", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "holds the ml-1m release" in err and "pass --dataset ml-1m" in err


def test_own_file_as_ml20m_gets_no_paper_numbers(tmp_path, capsys):
    import json

    path = write_ratings_csv(tmp_path / "ratings.csv")
    code, out, err = run_cli(["reproduce", "--dataset", "ml-20m", "--path", str(path),
                              "--heldout", "2", "--epochs", "1", "--quiet",
                              "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "warning:" in err and "labelled as modified data ('ml-20m (modified)')" in err
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert "paper" not in results and results["data"]["status"] == "modified"
    assert "ml-20m (modified)" in out and "paper:" not in out


def test_fit_without_validation_users_is_a_clear_error():
    import scipy.sparse as sp
    from vaecf.data import paper_split
    from vaecf.models import MultDAE
    from vaecf.train import TrainConfig, fit
    from test_bad_input import table

    split = paper_split(table(), n_heldout=2, seed=1)
    empty = sp.csr_matrix((0, split.n_items), dtype=np.float32)
    split.valid_fold_in, split.valid_target = empty, empty
    with pytest.raises(ValueError, match=r"no validation users"):
        fit(MultDAE(split.n_items, hidden_dims=(4,)), split, TrainConfig(epochs=1, eval_k=5),
            progress=False)


def test_figures_check_device_and_out_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("vaecf.figures.dataset_figures", lambda *a, **k: pytest.fail("trained"))
    code, _, err = run_cli(["figures", "--size", "tiny", "--device", "gpu", "--quiet",
                            "--out", str(tmp_path / "f")], capsys)
    assert code == 2 and "the device (--device) 'gpu' cannot be used" in err
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "beta_sweep.png").write_bytes(b"mine")
    code, _, err = run_cli(["figures", "--size", "tiny", "--quiet", "--out", str(tmp_path / "g")],
                           capsys)
    assert code == 2 and "holds another run's files (beta_sweep.png) but no figures.json" in err
