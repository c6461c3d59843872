import numpy as np
import pytest

from conftest import ROWS, write_ratings_csv, write_ratings_dat, write_u_data
from vaecf.data import RatingFileError, read_ratings


@pytest.mark.parametrize("writer,name", [(write_u_data, "u.data"), (write_ratings_dat, "ratings.dat"),
                                         (write_ratings_csv, "ratings.csv")])
def test_each_upstream_format_reads_the_same_table(tmp_path, writer, name):
    table = read_ratings(writer(tmp_path / name))
    assert len(table) == len(ROWS)
    np.testing.assert_array_equal(table.user_ids, [r[0] for r in ROWS])
    np.testing.assert_array_equal(table.item_ids, [r[1] for r in ROWS])
    np.testing.assert_array_equal(table.ratings, [r[2] for r in ROWS])


def test_ml1m_file_without_timestamps(tmp_path):
    table = read_ratings(write_ratings_dat(tmp_path / "ratings.dat", timestamps=False))
    assert len(table) == len(ROWS) and table.n_users == 10


def test_counts(tmp_path):
    table = read_ratings(write_u_data(tmp_path / "u.data"))
    assert table.n_users == 10 and table.n_items == 10
    assert table.rating_counts() == {2.0: 7, 4.0: 4 + 27, 5.0: 53}


def test_malformed_line_names_the_line(tmp_path):
    path = write_u_data(tmp_path / "u.data")
    lines = path.read_text().splitlines()
    lines[4] = "1\tabc\t3\t881250949"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RatingFileError, match="line 5: the item field"):
        read_ratings(path)


def test_missing_field(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t2\t3\t4\n1\t3\t4\n")
    with pytest.raises(RatingFileError, match="line 2: expected 4 fields"):
        read_ratings(path)


def test_rating_out_of_range(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::2::3::5\n1::3::7::5\n")
    with pytest.raises(RatingFileError, match="line 2: rating 7 is outside 1..5"):
        read_ratings(path)


def test_duplicate_pair(tmp_path):
    path = tmp_path / "ratings.dat"
    path.write_text("1::2::3\n1::3::4\n1::2::5\n")
    with pytest.raises(RatingFileError, match=r"rated item 2 twice \(lines 1 and 3\)"):
        read_ratings(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_ratings(tmp_path / "u.data")
    (tmp_path / "u.data").write_text("")
    with pytest.raises(RatingFileError, match="empty"):
        read_ratings(tmp_path / "u.data")


def test_unknown_file_name(tmp_path):
    path = tmp_path / "ratings.txt"
    path.write_text("1,2,3\n")
    with pytest.raises(RatingFileError, match="Cannot tell the format"):
        read_ratings(path)
