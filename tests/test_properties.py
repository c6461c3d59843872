"""Property tests (hypothesis) for the rating loaders and the paper's split protocol.

For any small random rating table, either the protocol's invariants hold or a
:class:`SplitError` says why the table cannot be split; the expectations are computed
here independently of :mod:`vaecf.data.protocol`, from plain Python sets.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vaecf.data import RatingFileError, RatingTable, SplitError, paper_split, read_ratings

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rating_tables(draw, stars=(1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 5.0)):
    """Distinct (user, item) pairs with ratings, in any file order; ids are arbitrary
    non-negative numbers (not from 0, not dense). Sizes and density are drawn, the cells
    come from a drawn NumPy seed so that tables are large enough to split."""
    n_users = draw(st.sampled_from([1, 4, 9, 16, 25, 40]) | st.integers(1, 40))
    n_items = draw(st.sampled_from([25, 40, 12]) | st.integers(1, 40))
    density = draw(st.sampled_from([0.6, 0.9, 1.0, 0.3, 0.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rated = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(rated)
    order = rng.permutation(users.size)
    users, items = users[order], items[order]
    ratings = rng.choice(np.array(stars, dtype=np.float32), size=users.size)
    id_offset = draw(st.sampled_from([0, 1, 10_000]))
    return RatingTable(users.astype(np.int64) * 7 + id_offset,
                       items.astype(np.int64) * 3 + id_offset, ratings, name="random")


heldout_sizes = st.one_of(st.integers(1, 6), st.sampled_from([0.05, 0.1, 0.2, 0.3]))


def rows_of(matrix, row_ids, item_ids) -> dict:
    """{raw user id: set of raw item ids} for a CSR click matrix."""
    return {int(u): {int(item_ids[c]) for c in matrix[r].indices}
            for r, u in enumerate(row_ids)}


@SETTINGS
@given(table=rating_tables(), n_heldout=heldout_sizes, seed=st.integers(0, 2**31 - 1))
def test_split_invariants_or_a_clear_error(table, n_heldout, seed):
    clicks = {}
    for u, i, r in zip(table.user_ids, table.item_ids, table.ratings):
        if r > 3.5:
            clicks.setdefault(int(u), set()).add(int(i))
    active = {u for u, items in clicks.items() if len(items) >= 5}
    h = n_heldout if isinstance(n_heldout, int) else max(1, round(n_heldout * len(active)))

    if not active:
        event("split refused: no active user")
        with pytest.raises(SplitError, match=r"rating table is empty|No user has 5 or more "
                                             r"ratings above 3\.5"):
            paper_split(table, n_heldout=n_heldout, seed=seed)
        return
    if len(active) - 2 * h < 1:
        event("split refused: too few users")
        with pytest.raises(SplitError, match=rf"{len(active)} users after filtering, too few "
                                             rf"for {h} validation"):
            paper_split(table, n_heldout=n_heldout, seed=seed)
        return
    try:
        split = paper_split(table, n_heldout=n_heldout, seed=seed)
    except SplitError as error:
        assert "no held-out user has enough clicks left" in str(error)
        event("split refused: held-out users without target")
        return
    event("split made")

    train, valid, test = (set(map(int, users)) for users in
                          (split.train_users, split.valid_users, split.test_users))
    # No user in two splits; only users with >= 5 clicks anywhere; the train group is whole.
    assert not (train & valid) and not (train & test) and not (valid & test)
    assert train | valid | test <= active
    assert len(train) == len(active) - 2 * h
    assert len(split.valid_users) == len(valid) and len(split.test_users) == len(test)

    # Items = exactly those clicked by training users; train rows are their clicks.
    item_ids = [int(i) for i in split.item_ids]
    assert item_ids == sorted(set().union(*(clicks[u] for u in train)))
    assert rows_of(split.train, split.train_users, split.item_ids) == {u: clicks[u] for u in train}
    assert (np.asarray(split.train.sum(axis=0)).ravel() >= 1).all()  # no unseen item column

    held_out = active - train
    for group, users, fold_in, target in (
            ("valid", split.valid_users, split.valid_fold_in, split.valid_target),
            ("test", split.test_users, split.test_fold_in, split.test_target)):
        assert fold_in.shape == target.shape == (len(users), len(item_ids))
        seen = rows_of(fold_in, users, split.item_ids)
        hidden = rows_of(target, users, split.item_ids)
        for u in map(int, users):
            on_train_items = clicks[u] & set(item_ids)
            assert seen[u] | hidden[u] == on_train_items
            assert not seen[u] & hidden[u]
            assert len(hidden[u]) == int(0.2 * len(on_train_items)) >= 1
    # Held-out users are evaluated iff they keep >= 5 clicks on training items.
    assert valid | test == {u for u in held_out if len(clicks[u] & set(item_ids)) >= 5}
    for matrix in (split.train, split.valid_fold_in, split.valid_target,
                   split.test_fold_in, split.test_target):
        assert matrix.dtype == np.float32 and set(np.unique(matrix.data)) <= {1.0}


@SETTINGS
@given(table=rating_tables(), seed=st.integers(0, 1000))
def test_split_is_a_function_of_the_table_and_seed(table, seed):
    """The same table in another row order, same seed, gives the same users and items."""
    try:
        first = paper_split(table, n_heldout=2, seed=seed)
    except SplitError:
        return
    order = np.random.default_rng(seed).permutation(len(table))
    shuffled = RatingTable(table.user_ids[order], table.item_ids[order], table.ratings[order])
    second = paper_split(shuffled, n_heldout=2, seed=seed)
    for name in ("item_ids", "train_users", "valid_users", "test_users"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert (first.train != second.train).nnz == 0


def write(folder: Path, fmt: str, table: RatingTable, timestamps: bool = True) -> Path:
    rows = zip(table.user_ids, table.item_ids, table.ratings)
    if fmt == "u.data":
        text = "".join(f"{u}\t{i}\t{int(r)}\t881250949\n" for u, i, r in rows)
        path = folder / "u.data"
    elif fmt == "ratings.dat":
        tail = "::978300760" if timestamps else ""
        text = "".join(f"{u}::{i}::{int(r)}{tail}\n" for u, i, r in rows)
        path = folder / "ratings.dat"
    else:
        text = "userId,movieId,rating,timestamp\n" + "".join(
            f"{u},{i},{r:.1f},1112486027\n" for u, i, r in rows)
        path = folder / "ratings.csv"
    path.write_text(text)
    return path


@settings(max_examples=25, deadline=None)
@given(table=rating_tables().filter(len), fmt=st.sampled_from(["u.data", "ratings.dat",
                                                               "ratings.csv"]),
       timestamps=st.booleans())
def test_loaders_read_back_what_was_written(table, fmt, timestamps):
    if fmt != "ratings.csv":  # only ML-20M's csv has half stars
        table.ratings[:] = np.ceil(table.ratings)
    with tempfile.TemporaryDirectory() as folder:
        read = read_ratings(write(Path(folder), fmt, table, timestamps))
    np.testing.assert_array_equal(read.user_ids, table.user_ids)
    np.testing.assert_array_equal(read.item_ids, table.item_ids)
    np.testing.assert_array_equal(read.ratings, table.ratings)
    assert read.user_ids.dtype == np.int64 and read.ratings.dtype == np.float32


@settings(max_examples=25, deadline=None)
@given(table=rating_tables().filter(len), fmt=st.sampled_from(["u.data", "ratings.dat",
                                                               "ratings.csv"]),
       data=st.data())
def test_loaders_refuse_any_repeated_pair(table, fmt, data):
    row = data.draw(st.integers(0, len(table) - 1))
    at = data.draw(st.integers(0, len(table)))
    take = np.insert(np.arange(len(table)), at, row)  # a copy of one row, anywhere
    doubled = RatingTable(table.user_ids[take], table.item_ids[take], table.ratings[take])
    lines = sorted(int(p) for p in np.flatnonzero(take == row))
    first_line = 2 if fmt == "ratings.csv" else 1
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder), fmt, doubled)
        with pytest.raises(RatingFileError,
                           match=rf"user {table.user_ids[row]} rated item "
                                 rf"{table.item_ids[row]} twice \(lines {lines[0] + first_line} "
                                 rf"and {lines[1] + first_line}\)"):
            read_ratings(path)
