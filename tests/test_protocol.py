import numpy as np
import pytest

from vaecf.data import RatingTable, SplitError, make_synthetic, paper_split


@pytest.fixture(scope="module")
def table():
    return make_synthetic(n_users=400, n_items=150, seed=3, mean_clicks=20)[0]


def _clicks_by_user(table, item_ids):
    clicks = {}
    for u, i in zip(table.user_ids, table.item_ids):
        clicks.setdefault(int(u), set()).add(int(i))
    return clicks


def test_user_groups_are_disjoint_and_sized(table):
    split = paper_split(table, n_heldout=40, seed=1)
    groups = [set(split.train_users), set(split.valid_users), set(split.test_users)]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])
    assert split.valid_fold_in.shape == split.valid_target.shape == (len(split.valid_users), split.n_items)
    assert split.protocol["n_heldout"] == 40


def test_fold_in_and_target_partition_each_users_clicks(table):
    split = paper_split(table, n_heldout=40, seed=1)
    clicks = _clicks_by_user(table, split.item_ids)
    known = set(split.item_ids.tolist())
    for users, fold_in, target in ((split.valid_users, split.valid_fold_in, split.valid_target),
                                   (split.test_users, split.test_fold_in, split.test_target)):
        for row, user in enumerate(users):
            a = set(split.item_ids[fold_in[row].indices].tolist())
            b = set(split.item_ids[target[row].indices].tolist())
            assert not (a & b)
            assert a | b == clicks[int(user)] & known
            assert len(b) == int(0.2 * len(a | b))


def test_items_are_those_clicked_by_training_users(table):
    split = paper_split(table, n_heldout=40, seed=1)
    train_items = set(table.item_ids[np.isin(table.user_ids, split.train_users)].tolist())
    assert set(split.item_ids.tolist()) == train_items
    assert (np.asarray(split.train.sum(axis=0)).ravel() > 0).all()


def test_low_ratings_and_light_users_are_filtered():
    users = np.array([1] * 6 + [2] * 6 + [3] * 4 + [4] * 6 + [5] * 6 + [6] * 6)
    items = np.concatenate([np.arange(6), np.arange(6), np.arange(4), np.arange(6), np.arange(6),
                            np.arange(6)])
    ratings = np.full(users.size, 5.0)
    ratings[users == 2] = 3.0  # all below the threshold: user 2 has no clicks
    split = paper_split(RatingTable(users, items, ratings), n_heldout=1, seed=0)
    everyone = set(split.train_users) | set(split.valid_users) | set(split.test_users)
    assert everyone == {1, 4, 5, 6}


def test_same_seed_same_split_other_seed_other_split(table):
    a, b, c = (paper_split(table, 0.1, seed=s) for s in (5, 5, 6))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != c.fingerprint()


def test_fraction_of_users(table):
    split = paper_split(table, n_heldout=0.1)
    assert split.protocol["n_heldout"] == round(0.1 * split.protocol["users_after_filtering"])


def test_too_few_users_is_a_clear_error(table):
    with pytest.raises(SplitError, match="too few for 300 validation"):
        paper_split(table, n_heldout=300)
    with pytest.raises(SplitError, match="fraction must lie in"):
        paper_split(table, n_heldout=0.7)


def test_nothing_left_after_filtering():
    table = RatingTable(np.array([1, 1, 2]), np.array([1, 2, 1]), np.array([5.0, 5.0, 5.0]))
    with pytest.raises(SplitError, match="No user has 5 or more"):
        paper_split(table)


def _order_example():
    """Seven users, items a..g (0..6) and x, y (7, 8) that every user clicked; the three
    ways of filtering (at least 2 users per item, 5 clicks per user) give three answers.

    Item users: a 6, b 6, c 5, d 1, e 1, f 1, g 2, x 7, y 7.
    * items first, once (the authors' order): d, e, f go; then u3 ({a, g, x, y}) and u4
      ({b, x, y}) are too light: users 1, 2, 5, 6, 7 with 6 + 5 + 3·5 = 26 clicks on
      a, b, c, g, x, y (g is left with one user, u1);
    * users first, once: u4 goes, then d, e: u3 keeps {a, g, x, y}: six users, 30 clicks;
    * both repeated until they hold: g then falls below 2 users too: 25 clicks, 5 items.
    """
    a, b, c, d, e, f, g, x, y = range(9)
    baskets = {1: [a, b, c, g], 2: [a, b, c], 3: [a, d, e, g], 4: [b, f],
               5: [a, b, c], 6: [a, b, c], 7: [a, b, c]}
    users = np.array([u for u, basket in baskets.items() for _ in basket + [x, y]])
    items = np.array([i for basket in baskets.values() for i in basket + [x, y]])
    return users, items


def test_items_are_filtered_first_and_once():
    from vaecf.data.protocol import filter_clicks

    users, items, active = filter_clicks(*_order_example(), min_user_clicks=5, min_item_users=2)
    assert active.tolist() == [1, 2, 5, 6, 7]
    assert users.size == 26
    assert sorted(set(items.tolist())) == [0, 1, 2, 6, 7, 8]
    assert (items == 6).sum() == 1  # g kept, with one user left: the filters are not repeated


def test_item_filter_reaches_the_split_and_its_record():
    users, items = _order_example()
    table = RatingTable(users, items, np.ones(users.size), click_threshold=0.0)
    split = paper_split(table, n_heldout=1, seed=0, min_user_clicks=5, min_item_users=2)
    everyone = set(split.train_users) | set(split.valid_users) | set(split.test_users)
    assert everyone == {1, 2, 5, 6, 7}
    assert split.protocol["min_item_users"] == 2
    assert split.protocol["items_before_filtering"] == 9
    assert split.protocol["users_after_filtering"] == 5
    assert split.protocol["clicks_after_filtering"] == 26
    assert split.protocol["items_clicked"] == 6  # a, b, c, g, x, y
    without = paper_split(table, n_heldout=1, seed=0, min_user_clicks=5)
    assert without.protocol["users_after_filtering"] == 6  # u3 keeps a, d, e, g, x, y
    assert without.protocol["min_item_users"] == 0


def test_min_item_users_must_be_a_count(table):
    with pytest.raises(SplitError, match="min_item_users"):
        paper_split(table, min_item_users=-1)
    with pytest.raises(SplitError, match="min_item_users"):
        paper_split(table, min_item_users=2.5)


def test_choose_models_accepts_any_case_and_short_names_in_table_order():
    from vaecf.experiments.reproduce import DEFAULT_MODELS, choose_models

    assert choose_models(None) == DEFAULT_MODELS
    assert choose_models(["vae", "EASE", "dae"]) == ("EASE", "Mult-DAE", "Mult-VAE")
    assert choose_models(" wmf , ae ") == ("WMF", "AE")
    with pytest.raises(ValueError, match="choose among"):
        choose_models("")
