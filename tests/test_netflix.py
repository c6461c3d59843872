"""The Netflix Prize loader on files written here in the release's two layouts, and the
paper's protocol on them with counts worked out by hand."""
import warnings

import numpy as np
import pytest

from vaecf.cli import main
from vaecf.data import RatingFileError, paper_split
from vaecf.data import netflix, streaming
from vaecf.data.datasets import default_heldout, load_dataset, protocol_options
from vaecf.data.releases import ModifiedDataWarning

FIRST_CUSTOMER = 1_488_844


def _blocks():
    """Movie id → [(customer, stars, date)], the fixture's ratings (275 lines, 26 movies).

    * ten customers A rate movies 1-20: 5 stars on 1-10, 4 on 11-12, 3 on 13-16, 2 on
      17-18, 1 on 19-20 (12 clicks each); they also give movie 26 three stars;
    * three customers B rate movies 1-20: 4 stars on 1-4, 1 on the rest (4 clicks: too few);
    * one customer C gives 5 stars to movies 21-25 (5 clicks: just enough).
    """
    a_stars = [5] * 10 + [4] * 2 + [3] * 4 + [2] * 2 + [1] * 2
    b_stars = [4] * 4 + [1] * 16
    a = [FIRST_CUSTOMER + 7 * k for k in range(10)]
    b = [FIRST_CUSTOMER + 100_000 + k for k in range(3)]
    c = 2_649_429  # the release's largest customer id
    blocks = {}
    for movie in range(1, 27):
        rows = []
        for k, customer in enumerate(a):
            if movie <= 20:
                rows.append((customer, a_stars[movie - 1], f"2005-{(k % 12) + 1:02d}-0{(movie % 9) + 1}"))
            elif movie == 26:
                rows.append((customer, 3, "1999-11-11"))
        if movie <= 20:
            rows += [(customer, b_stars[movie - 1], "2003-02-28") for customer in b]
        if 21 <= movie <= 25:
            rows.append((c, 5, "2005-12-31"))
        blocks[movie] = rows
    return blocks, a, b, c


def _block_text(movie, rows, newline="\n"):
    return f"{movie}:{newline}" + "".join(f"{u},{r},{d}{newline}" for u, r, d in rows)


def write_combined(folder, newline="\n"):
    """The four combined_data_N.txt files, movies 1-7, 8-14, 15-20 and 21-26."""
    blocks, *_ = _blocks()
    parts = [range(1, 8), range(8, 15), range(15, 21), range(21, 27)]
    for n, movies in enumerate(parts, start=1):
        text = "".join(_block_text(m, blocks[m], newline) for m in movies)
        (folder / f"combined_data_{n}.txt").write_bytes(text.encode())
    return folder


def write_training_set(folder):
    """training_set/mv_0000001.txt ... mv_0000026.txt, and movie_titles.txt beside it."""
    blocks, *_ = _blocks()
    training = folder / "training_set"
    training.mkdir()
    for movie, rows in blocks.items():
        (training / f"mv_{movie:07d}.txt").write_text(_block_text(movie, rows))
    (folder / "movie_titles.txt").write_bytes(
        b"1,2003,Dinosaur Planet\n2,2004,Isle of Man TT 2004 Review\n3,NULL,Character, The\n")
    return folder


def _read(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModifiedDataWarning)
        return netflix.read_netflix(path, progress=False, **kwargs)


def test_both_layouts_give_the_same_ratings(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "t").mkdir()
    combined = _read(write_combined(tmp_path / "c"))
    original = _read(write_training_set(tmp_path / "t"))
    blocks, *_ = _blocks()
    assert len(combined) == 275 == sum(len(r) for r in blocks.values())
    for column in ("user_ids", "item_ids", "ratings"):
        np.testing.assert_array_equal(getattr(combined, column), getattr(original, column))
    assert combined.user_ids[0] == FIRST_CUSTOMER and combined.ratings[0] == 5
    assert combined.item_ids[-1] == 26 and set(combined.ratings.tolist()) <= {1, 2, 3, 4, 5}
    assert combined.user_ids.dtype == np.int32 and combined.ratings.dtype == np.float32
    assert original.item_titles[1] == "Dinosaur Planet (2003)"
    assert original.item_titles[3] == "Character, The"


def test_windows_line_ends_and_a_missing_last_newline_are_read(tmp_path):
    folder = write_combined(tmp_path, newline="\r\n")
    last = folder / "combined_data_4.txt"
    last.write_bytes(last.read_bytes().rstrip(b"\r\n"))
    table = _read(folder)
    assert len(table) == 275 and table.item_ids[-1] == 26


def test_blocks_that_cut_movies_in_two_carry_the_movie(tmp_path, monkeypatch):
    whole = _read(write_combined(tmp_path))
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 40)  # a few lines per block
    pieces = _read(tmp_path)
    np.testing.assert_array_equal(whole.item_ids, pieces.item_ids)
    np.testing.assert_array_equal(whole.user_ids, pieces.user_ids)


def test_the_paper_protocol_on_the_fixture_counts_by_hand(tmp_path):
    table = _read(write_combined(tmp_path))
    assert protocol_options("netflix") == {} and default_heldout("netflix") == 40_000
    split = paper_split(table, n_heldout=1, seed=98765, **protocol_options("netflix"))
    _, a, b, c = _blocks()
    assert split.protocol["users_after_filtering"] == 11  # ten A customers and C
    assert split.protocol["clicks_after_filtering"] == 10 * 12 + 5
    assert split.protocol["items_clicked"] == 17  # movies 1-12 and 21-25
    everyone = set(split.train_users) | set(split.valid_users) | set(split.test_users)
    assert everyone == set(a) | {c} and not everyone & set(b)
    # Items are those training users clicked: movies 21-25 only if C trains.
    assert split.n_items == 12 + 5 * (c in set(split.train_users))


def test_the_release_is_recognised_by_its_counts(tmp_path, monkeypatch):
    folder = write_combined(tmp_path)
    with pytest.warns(ModifiedDataWarning, match="not the whole Netflix Prize release"):
        table = netflix.read_netflix(folder, progress=False)
    assert table.provenance["status"] == "modified" and table.name == "netflix (modified)"
    monkeypatch.setattr(netflix, "NETFLIX_RELEASE_COUNTS", (275, 14, 26))
    table = netflix.read_netflix(folder, progress=False)
    assert table.provenance["status"] == "release ratings" and table.name == "netflix"


@pytest.mark.parametrize("line, why", [
    ("1488844,3", "date missing"),
    ("1488844,6,2005-09-06", "six stars"),
    ("1488844;3;2005-09-06", "semicolons"),
    ("1488844,3,2005-09-06,extra", "a fourth field"),
    ("", "a blank line"),
    ("abc,3,2005-09-06", "a customer that is not a number"),
])
def test_a_wrong_line_is_named_by_file_and_number(tmp_path, monkeypatch, line, why):
    folder = write_combined(tmp_path)
    path = folder / "combined_data_2.txt"
    lines = path.read_text().splitlines()
    lines[30] = line
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 256)  # the error lies in a later block
    with pytest.raises(RatingFileError, match=r"combined_data_2\.txt, line 31: .*MovieID:"):
        _read(folder)


def test_another_layout_is_refused_at_its_first_line(tmp_path):
    path = tmp_path / "combined_data_1.txt"
    path.write_text("MovieID,CustomerID,Rating,Date\n1,1488844,3,2005-09-06\n")
    with pytest.raises(RatingFileError, match=r"combined_data_1\.txt, line 1: "):
        _read(path)
    path.write_text("1488844,3,2005-09-06\n")  # ratings before any movie line
    with pytest.raises(RatingFileError, match="must start with a 'MovieID:' line"):
        _read(path)


def test_a_training_set_file_must_name_its_own_movie(tmp_path):
    folder = write_training_set(tmp_path)
    (folder / "training_set" / "mv_0000005.txt").write_text("6:\n1488844,3,2005-09-06\n")
    with pytest.raises(RatingFileError, match=r"mv_0000005\.txt, line 1: the file names movie 6"):
        _read(folder)
    (folder / "training_set" / "mv_0000005.txt").write_text(
        "5:\n1488844,3,2005-09-06\n6:\n1488845,3,2005-09-06\n")
    with pytest.raises(RatingFileError, match=r"mv_0000005\.txt, line 3: .*holds one movie"):
        _read(folder)


def test_missing_or_packed_files_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="no longer distributed by Netflix"):
        netflix.netflix_files(tmp_path)
    write_combined(tmp_path)
    (tmp_path / "combined_data_3.txt").unlink()
    with pytest.raises(FileNotFoundError, match="not combined_data_3.txt"):
        netflix.netflix_files(tmp_path)
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "training_set.tar").write_bytes(b"\0" * 512)
    with pytest.raises(FileNotFoundError, match="tar xf"):
        netflix.netflix_files(packed)


def test_load_dataset_looks_in_the_data_folder(tmp_path):
    (tmp_path / "netflix").mkdir()
    write_combined(tmp_path / "netflix")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModifiedDataWarning)
        table, truth = load_dataset("netflix", data_dir=tmp_path)
    assert len(table) == 275 and truth is None


def test_counts_command_sets_table_1_beside_ours(tmp_path, capsys):
    write_combined(tmp_path)
    code = main(["counts", "--dataset", "netflix", "--path", str(tmp_path), "--heldout", "1"])
    out = capsys.readouterr().out
    assert code == 1  # the fixture is not the release: its counts differ from Table 1
    assert "paper's Table 1" in out and "463,435" in out and "56.9" in out
    assert "DIFFERENT" in out


def test_counts_command_exits_0_when_table_1_agrees(tmp_path, capsys, monkeypatch):
    from vaecf import reference

    write_combined(tmp_path)
    table = _read(tmp_path)
    items = paper_split(table, n_heldout=1, seed=98765).n_items
    monkeypatch.setitem(reference.PAPER_TABLE1, "netflix", {
        "users": 11, "items": items, "clicks_millions": 0.0, "heldout": 1})
    code = main(["counts", "--dataset", "netflix", "--path", str(tmp_path), "--heldout", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "All published counts agree." in out and "DIFFERENT" not in out


def test_reproduce_sets_the_paper_numbers_beside_the_release_only(tmp_path, monkeypatch):
    from vaecf.cli import format_table
    from vaecf.reference import PAPER_NETFLIX
    from vaecf.experiments.reproduce import reproduce

    write_combined(tmp_path)
    monkeypatch.setattr(netflix, "NETFLIX_RELEASE_COUNTS", (275, 14, 26))
    results, _ = reproduce("netflix", path=tmp_path, epochs=1, n_heldout=2, progress=False,
                           device="cpu")
    assert results["paper"] == PAPER_NETFLIX
    assert results["protocol"]["n_heldout"] == 2 and results["protocol"]["min_item_users"] == 0
    assert "0.351 / 0.444 / 0.386" in format_table(results)
    monkeypatch.setattr(netflix, "NETFLIX_RELEASE_COUNTS", (1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModifiedDataWarning)
        modified, _ = reproduce("netflix", path=tmp_path, epochs=1, n_heldout=2,
                                progress=False, device="cpu")
    assert "paper" not in modified
