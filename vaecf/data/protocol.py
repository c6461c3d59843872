"""The paper's strong-generalisation protocol (Liang et al. 2018, §4.1; DESIGN §5).

1. Binarise: ratings above ``rating_threshold`` (3.5, i.e. four stars or more) are clicks.
2. Keep items clicked by at least ``min_item_users`` users (0: no item filter, as on
   MovieLens and Netflix; 200 on the Million Song Dataset), then, on what is left, users
   with at least ``min_user_clicks`` clicks (5; 20 on the Million Song Dataset). The
   filters are applied once, items first, as the authors' ``filter_triplets`` does, so
   an item can end below ``min_item_users`` once users are removed.
3. Shuffle the users with a fixed seed; the last ``n_heldout`` are test users, the
   ``n_heldout`` before them validation users, the rest training users.
4. The item set is the items clicked by training users; held-out users' clicks on other
   items are dropped.
5. Each held-out user's clicks are split at random: ``int(0.2 · n)`` become the target
   to predict, the rest the fold-in input the model sees. Users left with fewer than
   five clicks keep them all as fold-in and, having no target, are not evaluated.

The random draws follow the authors' published preprocessing (a NumPy ``RandomState``
seeded once for the user shuffle and once again for each held-out split, users visited
in increasing id order), so the same seed selects the same users and targets.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from .ratings import RatingTable

__all__ = ["Split", "SplitError", "paper_split", "filter_clicks", "resolve_heldout"]


class SplitError(ValueError):
    """The data cannot be split as asked (too few users, nothing left after filtering, ...)."""


@dataclass
class Split:
    """Click matrices for the three user groups, with the raw ids of rows and columns.

    ``train`` is training users × items; ``*_fold_in`` holds what a held-out user shows
    the model and ``*_target`` what it must predict. All matrices are CSR, float32, 0/1.
    """

    train: sp.csr_matrix
    valid_fold_in: sp.csr_matrix
    valid_target: sp.csr_matrix
    test_fold_in: sp.csr_matrix
    test_target: sp.csr_matrix
    item_ids: np.ndarray
    train_users: np.ndarray
    valid_users: np.ndarray
    test_users: np.ndarray
    protocol: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return self.train.shape[1]

    def counts(self) -> dict:
        """Users, items and clicks in each part (the numbers a paper table reports)."""
        held = [self.valid_fold_in, self.valid_target, self.test_fold_in, self.test_target]
        return {
            "items": self.n_items,
            "train_users": self.train.shape[0],
            "valid_users": self.valid_fold_in.shape[0],
            "test_users": self.test_fold_in.shape[0],
            "train_clicks": int(self.train.nnz),
            "heldout_clicks": int(sum(m.nnz for m in held)),
        }

    def fingerprint(self) -> str:
        """A short hash of the split's content: two splits agree iff their fingerprints do."""
        digest = hashlib.sha256()
        for array in (self.item_ids, self.train_users, self.valid_users, self.test_users):
            digest.update(np.ascontiguousarray(array, dtype=np.int64).tobytes())
        for matrix in (self.train, self.valid_fold_in, self.valid_target,
                       self.test_fold_in, self.test_target):
            digest.update(np.asarray(matrix.shape, dtype=np.int64).tobytes())
            digest.update(matrix.indptr.astype(np.int64).tobytes())
            digest.update(matrix.indices.astype(np.int64).tobytes())
        return digest.hexdigest()[:16]


def resolve_heldout(n_heldout: int | float, n_users: int) -> int:
    """Held-out users per group: an absolute count, or a fraction (0 < f < 0.5) of all users."""
    if isinstance(n_heldout, bool) or not isinstance(n_heldout, (int, float, np.integer, np.floating)):
        raise SplitError(f"n_heldout must be a count or a fraction, got {n_heldout!r}.")
    if isinstance(n_heldout, (float, np.floating)) and not float(n_heldout).is_integer():
        if not 0 < n_heldout < 0.5:
            raise SplitError(f"A held-out fraction must lie in (0, 0.5); got {n_heldout}.")
        return max(1, int(round(n_heldout * n_users)))
    count = int(n_heldout)
    if count < 1:
        raise SplitError(f"n_heldout must be at least 1, got {n_heldout}.")
    return count


def paper_split(table: RatingTable, n_heldout: int | float = 0.1, seed: int = 98765,
                rating_threshold: float | None = None, min_user_clicks: int = 5,
                target_fraction: float = 0.2, min_item_users: int = 0) -> Split:
    """Split a rating table into train / validation / test users exactly as the paper does.

    Args:
        table: explicit ratings (see :func:`vaecf.data.read_ratings`).
        n_heldout: validation users and, again, test users: a count (10,000 for ML-20M)
            or a fraction of the users after filtering (0.1 = 10% each).
        seed: the shuffle and target-selection seed (the authors used 98765).
        rating_threshold: ratings strictly above it are clicks (default: the table's
            ``click_threshold``, the paper's 3.5 for star ratings).
        min_user_clicks: users with fewer clicks (after the item filter) are removed.
        target_fraction: share of each held-out user's clicks to predict.
        min_item_users: items clicked by fewer users are removed first (0: none are).
    """
    if min_user_clicks < 1:
        raise SplitError(f"min_user_clicks must be at least 1, got {min_user_clicks}.")
    if isinstance(min_item_users, bool) or int(min_item_users) != min_item_users \
            or min_item_users < 0:
        raise SplitError(f"min_item_users must be a whole number ≥ 0, got {min_item_users!r}.")
    if not 0 < target_fraction < 1:
        raise SplitError(f"target_fraction must lie in (0, 1), got {target_fraction}.")
    if len(table) == 0:
        raise SplitError("The rating table is empty.")
    finite = np.isfinite(table.ratings)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise SplitError(
            f"{table.name} holds {int((~finite).sum())} NaN or infinite rating(s) (the first "
            f"at row {row}: user {table.user_ids[row]}, item {table.item_ids[row]}). Drop or "
            "fix them before splitting.")

    if rating_threshold is None:
        rating_threshold = table.click_threshold
    clicked = table.ratings > rating_threshold
    users, items = table.user_ids[clicked], table.item_ids[clicked]
    items_before = _check_no_repeated_clicks(table.name, users, items)
    users, items, active = filter_clicks(users, items, min_user_clicks, min_item_users)
    if active.size == 0:
        items_rule = (f" on items clicked by {min_item_users} or more users"
                      if min_item_users > 0 else "")
        raise SplitError(
            f"No user has {min_user_clicks} or more ratings above {rating_threshold}"
            f"{items_rule} in {table.name}; nothing is left to split. Use more data, or count "
            "more ratings as clicks (a lower click threshold, --click-threshold, for a click "
            "log of your own).")

    h = resolve_heldout(n_heldout, active.size)
    if active.size - 2 * h < 1:
        raise SplitError(
            f"{table.name} has {active.size} users after filtering, too few for {h} validation "
            f"+ {h} test users and at least one training user. Ask for fewer held-out users "
            "(--heldout), e.g. a fraction such as 0.1.")
    shuffled = active[np.random.RandomState(seed).permutation(active.size)]
    train_users = shuffled[: active.size - 2 * h]
    valid_users = shuffled[active.size - 2 * h: active.size - h]
    test_users = shuffled[active.size - h:]

    in_train = np.isin(users, train_users)
    item_ids = np.unique(items[in_train])
    train = _click_matrix(users[in_train], items[in_train], train_users, item_ids)

    held = {}
    dropped = 0
    for group, group_users in (("valid", valid_users), ("test", test_users)):
        rows = np.isin(users, group_users) & np.isin(items, item_ids)
        fold_in, target, kept = _split_fold_in_target(
            users[rows], items[rows], group_users, item_ids, seed, target_fraction)
        dropped += group_users.size - kept.size
        held[group] = (fold_in, target, kept)
    if held["valid"][2].size == 0 or held["test"][2].size == 0:
        raise SplitError("After dropping clicks on items no training user clicked, no held-out "
                         "user has enough clicks left to evaluate. Use more data.")

    protocol = {
        "rating_threshold": rating_threshold, "min_user_clicks": min_user_clicks,
        "min_item_users": int(min_item_users), "items_before_filtering": items_before,
        "n_heldout": h, "target_fraction": target_fraction, "seed": seed,
        "users_after_filtering": int(active.size), "clicks_after_filtering": int(users.size),
        "items_clicked": int(np.unique(items).size),
        "heldout_users_without_target": int(dropped),
    }
    return Split(train, held["valid"][0], held["valid"][1], held["test"][0], held["test"][1],
                 item_ids, train_users, held["valid"][2], held["test"][2], protocol)


def filter_clicks(users: np.ndarray, items: np.ndarray, min_user_clicks: int = 5,
                  min_item_users: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The protocol's step 2: items clicked by fewer than ``min_item_users`` users are
    dropped, then users with fewer than ``min_user_clicks`` of the remaining clicks.

    Each filter runs once, items first, as in the authors' ``filter_triplets``
    (``min_sc`` then ``min_uc``): it is not repeated until both hold, so an item kept by
    the first filter may have fewer than ``min_item_users`` users once light users are
    gone. Clicks are (user, item) pairs without repeats.

    Returns:
        ``(users, items, active)``: the clicks kept and the sorted ids of the users kept.
    """
    if min_item_users > 0:
        _, item_index, users_per_item = np.unique(items, return_inverse=True, return_counts=True)
        popular = users_per_item[item_index] >= min_item_users
        users, items = users[popular], items[popular]
        del item_index, popular
    unique_users, user_index, clicks_per_user = np.unique(users, return_inverse=True,
                                                          return_counts=True)
    keep = clicks_per_user[user_index] >= min_user_clicks
    return users[keep], items[keep], unique_users[clicks_per_user >= min_user_clicks]


def _check_no_repeated_clicks(name, users, items):
    """A repeated (user, item) click would be counted twice and could land in both fold-in
    and target, so it is refused (:func:`vaecf.data.read_ratings` refuses such files too).
    Returns the number of distinct items clicked."""
    _, user_index = np.unique(users, return_inverse=True)
    item_values, item_index = np.unique(items, return_inverse=True)
    keys = user_index.astype(np.int64) * item_values.size + item_index
    order = np.argsort(keys, kind="stable")
    repeated = np.flatnonzero(np.diff(keys[order]) == 0)
    if repeated.size:
        row = order[repeated[0]]
        raise SplitError(
            f"{name}: user {users[row]} rated item {items[row]} more than once. Keep one "
            "rating per (user, item) pair, e.g. the latest, before splitting.")
    return int(item_values.size)


def _click_matrix(users, items, row_users, item_ids) -> sp.csr_matrix:
    rows = _positions(row_users, users)
    cols = np.searchsorted(item_ids, items)
    matrix = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)),
                           shape=(row_users.size, item_ids.size))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _positions(order, values):
    """Index of each value in ``order`` (every value is assumed present)."""
    sorter = np.argsort(order)
    return sorter[np.searchsorted(order, values, sorter=sorter)]


def _split_fold_in_target(users, items, group_users, item_ids, seed, target_fraction):
    """Per user (increasing id), draw ``int(f · n)`` target clicks; drop users without target."""
    rng = np.random.RandomState(seed)
    order = np.argsort(users, kind="stable")  # keeps each user's clicks in file order
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if users.size else np.array([], int)
    ends = np.r_[starts[1:], users.size]
    is_target = np.zeros(users.size, dtype=bool)
    has_target = set()
    for start, end in zip(starts, ends):
        n = end - start
        if n >= 5:
            chosen = rng.choice(n, size=int(target_fraction * n), replace=False)
            is_target[start + chosen] = True
            if chosen.size:
                has_target.add(users[start])
    kept = np.array([u for u in group_users if u in has_target], dtype=group_users.dtype)
    mask = np.isin(users, kept)
    fold_in = _click_matrix(users[mask & ~is_target], items[mask & ~is_target], kept, item_ids)
    target = _click_matrix(users[mask & is_target], items[mask & is_target], kept, item_ids)
    return fold_in, target, kept
