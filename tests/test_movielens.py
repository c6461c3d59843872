import numpy as np
import pytest

from conftest import write_ratings_csv, write_ratings_dat, write_u_data
from vaecf.data import DatasetUnavailable, load_dataset, load_movielens, paper_split


def test_local_path_file_or_folder(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    write_ratings_dat(folder / "ratings.dat")
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Animation|Children's|Comedy\n",
                                       encoding="latin-1")
    for path in (folder, folder / "ratings.dat"):
        table = load_movielens("ml-1m", path=path, download=False)
        assert len(table) > 0
        assert table.item_titles[1] == "Toy Story (1995)"
        assert table.item_genres[1] == ["Animation", "Children's", "Comedy"]


def test_data_dir_layout_is_found(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    write_u_data(tmp_path / "ml-100k" / "u.data")
    table = load_movielens("ml-100k", data_dir=tmp_path, download=False)
    assert table.n_users == 10


def test_offline_without_a_copy_says_where_to_put_the_file(tmp_path):
    with pytest.raises(DatasetUnavailable, match=r"put 'ratings.csv'.*ml-20m"):
        load_movielens("ml-20m", data_dir=tmp_path, download=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="Unknown dataset 'ml-5m'"):
        load_dataset("ml-5m")


def test_ml20m_format_gives_the_protocol_counts(tmp_path):
    """A constructed ratings.csv: 30 users, of whom 24 pass the ≥5 clicks filter."""
    rows = []
    rng = np.random.default_rng(1)
    for user in range(1, 31):
        n_clicks = 3 if user % 5 == 0 else 8
        items = rng.choice(np.arange(1, 41), size=n_clicks + 2, replace=False)
        rows += [(user, int(i), 4.5, 1_100_000_000) for i in items[:n_clicks]]
        rows += [(user, int(i), 3.5, 1_100_000_000) for i in items[n_clicks:]]  # not clicks
    path = write_ratings_csv(tmp_path / "ratings.csv", rows)
    split = paper_split(load_movielens("ml-20m", path=path, download=False), n_heldout=3)
    counts = split.counts()
    assert split.protocol["users_after_filtering"] == 24
    assert split.protocol["clicks_after_filtering"] == 24 * 8
    assert (counts["train_users"], counts["valid_users"], counts["test_users"]) == (18, 3, 3)
    assert split.valid_target.sum(axis=1).A.ravel().tolist() == [1] * 3  # int(0.2 · n) of ≤ 8


def test_real_ml1m_counts(shared_data):
    table = load_movielens("ml-1m", path=shared_data / "ml-1m", download=False)
    assert table.n_users == 6040 and table.n_items == 3706
    assert table.rating_counts() == {1.0: 56174, 2.0: 107557, 3.0: 261197, 4.0: 348971,
                                     5.0: 226310}
    split = paper_split(table, n_heldout=600, seed=98765)
    assert split.counts()["test_users"] == 600 and split.counts()["valid_users"] == 600


def test_real_ml100k_counts(shared_data):
    table = load_movielens("ml-100k", path=shared_data / "ml-100k", download=False)
    assert table.n_users == 943 and table.n_items == 1682 and len(table) == 100_000
    assert "Toy Story (1995)" in table.item_titles.values()
