"""Genres as plot labels: the genre matrix and each user's leaning genre, by hand."""
import numpy as np
import pytest
import scipy.sparse as sp

from vaecf.experiments.beta_sweep import user_properties
from vaecf.data import paper_split
from vaecf.data.genres import genre_matrix, leaning_genres, specific_genres
from vaecf.data.ratings import RatingTable

GENRES = {10: ["Drama"], 20: ["Comedy"], 30: ["Horror"], 40: ["Drama", "Horror"],
          50: ["(no genres listed)"]}
ITEMS = np.array([10, 20, 30, 40, 50])


def test_genre_matrix_splits_a_movie_between_its_genres():
    weights, names = genre_matrix(ITEMS, GENRES)
    assert names == ["Comedy", "Drama", "Horror"]
    np.testing.assert_allclose(weights.toarray(), [[0, 1, 0], [1, 0, 0], [0, 0, 1],
                                                   [0, 0.5, 0.5], [0, 0, 0]])


def test_leaning_genre_by_hand():
    clicks = sp.csr_matrix(np.array([[1, 1, 0, 0, 0],    # Drama 1, Comedy 1
                                     [0, 0, 1, 1, 0],    # Horror 1.5, Drama 0.5
                                     [1, 1, 1, 0, 0],    # one of each
                                     [0, 0, 0, 0, 1]]))  # only a movie without genres
    # everyone: Drama 2.5, Comedy 2, Horror 2.5 of 7. User 0: Comedy 1/2 − 2/7 = 0.21 beats
    # Drama 1/2 − 2.5/7 = 0.14; user 2: Comedy 1/3 − 2/7 > 0 > Drama, Horror 1/3 − 2.5/7.
    assert leaning_genres(clicks, ITEMS, GENRES).tolist() == ["Comedy", "Horror", "Comedy",
                                                               "no genre"]


def test_one_rare_click_among_many_does_not_decide():
    genres = {i: ["Drama"] for i in range(20)} | {20: ["Documentary"], 21: ["Comedy"]}
    items = np.arange(22)
    everyone = sp.csr_matrix(np.r_[np.eye(22)[:21].sum(0, keepdims=True),   # user 0
                                   np.eye(22)[[21]] * 1, np.eye(22)[[20]]])  # users 1, 2
    # User 0: 20 dramas and 1 documentary → Drama; user 2: only the documentary.
    assert leaning_genres(everyone, items, genres).tolist() == ["Drama", "Comedy", "Documentary"]


def test_reference_shares_come_from_the_reference_matrix():
    clicks = sp.csr_matrix(np.array([[1, 1, 0, 0, 0]]))
    drama_heavy = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]] * 5 + [[0, 1, 0, 0, 0]]))
    comedy_heavy = sp.csr_matrix(np.array([[0, 1, 0, 0, 0]] * 5 + [[1, 0, 0, 0, 0]]))
    assert leaning_genres(clicks, ITEMS, GENRES, reference=drama_heavy)[0] == "Comedy"
    assert leaning_genres(clicks, ITEMS, GENRES, reference=comedy_heavy)[0] == "Drama"


def test_most_specific_genre_is_the_least_common_listed():
    genres = {1: ["Drama"], 2: ["Drama"], 3: ["Drama", "Horror"],
              4: ["Animation", "Children's", "Comedy"], 5: ["Comedy"], 6: ["(no genres listed)"]}
    # Items per genre: Drama 3, Comedy 2, Horror 1, Animation 1, Children's 1; a tie goes to
    # the first name in alphabetical order (Animation before Children's).
    assert specific_genres([1, 2, 3, 4, 5, 6, 7], genres).tolist() == [
        "Drama", "Drama", "Horror", "Animation", "Comedy", "no genre", "no genre"]


def test_bad_input_says_what_to_do():
    clicks = sp.csr_matrix(np.ones((2, 5)))
    with pytest.raises(ValueError, match="no item genres"):
        leaning_genres(clicks, ITEMS, {})
    with pytest.raises(ValueError, match="no item genres"):
        specific_genres(ITEMS, {})
    with pytest.raises(ValueError, match=r"5 items but 3 item ids .*split.item_ids"):
        leaning_genres(clicks, ITEMS[:3], GENRES)


def test_user_properties_lead_with_the_leaning_genre_when_genres_are_known():
    genres = {item: [("Comedy", "Drama", "Horror")[item % 3]] for item in range(12)}
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(60), 8)  # every user clicks 8 of the 12 movies
    items = np.concatenate([rng.choice(12, 8, replace=False) for _ in range(60)])
    table = RatingTable(user_ids=users, item_ids=items, ratings=np.full(users.size, 5.0))
    split = paper_split(table, n_heldout=10, seed=0)
    plain = user_properties(split)
    labelled = user_properties(split, item_genres=genres)
    assert list(plain) == ["activity (fold-in clicks)"]
    assert list(labelled)[0] == "leaning genre"
    assert len(labelled["leaning genre"]) == split.valid_fold_in.shape[0]
    assert set(labelled["leaning genre"]) <= {"Comedy", "Drama", "Horror"}
