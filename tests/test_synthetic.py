import numpy as np
import pytest

from vaecf.data import make_synthetic


def test_shapes_and_distinct_clicks():
    table, truth = make_synthetic(n_users=200, n_items=80, seed=0, mean_clicks=15)
    assert table.user_ids.max() < 200 and table.item_ids.max() < 80
    pairs = set(zip(table.user_ids.tolist(), table.item_ids.tolist()))
    assert len(pairs) == len(table)  # no item drawn twice for a user
    counts = np.bincount(table.user_ids, minlength=200)
    assert counts.min() >= 3 and counts.max() <= 40
    p = truth.probabilities(np.arange(5))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_same_data():
    a, _ = make_synthetic(n_users=100, n_items=50, seed=4)
    b, _ = make_synthetic(n_users=100, n_items=50, seed=4)
    c, _ = make_synthetic(n_users=100, n_items=50, seed=5)
    np.testing.assert_array_equal(a.item_ids, b.item_ids)
    assert len(a) != len(c) or not np.array_equal(a.item_ids, c.item_ids)


def test_popularity_is_long_tailed_and_follows_the_truth():
    table, truth = make_synthetic(n_users=3000, n_items=600, seed=1)
    counts = np.bincount(table.item_ids, minlength=600)
    top = np.sort(counts)[::-1]
    assert top[:60].sum() > 0.4 * counts.sum()  # 10% of items take > 40% of clicks
    expected = truth.probabilities(np.arange(3000)).mean(axis=0)
    # Drawing without replacement caps the most popular items, so the relation is not exact.
    assert np.corrcoef(expected, counts)[0, 1] > 0.7


def test_truth_is_not_linear_in_the_taste():
    """Doubling a taste vector does not double the logits (the map is non-linear)."""
    _, truth = make_synthetic(n_users=10, n_items=30, seed=2)
    hidden = np.tanh(truth.tastes[:1] @ truth.hidden_weights.T + truth.hidden_bias)
    doubled = np.tanh(2 * truth.tastes[:1] @ truth.hidden_weights.T + truth.hidden_bias)
    assert not np.allclose(2 * hidden, doubled, atol=1e-2)


def test_steeper_tail_leaves_the_last_items_fewer_clicks():
    flat, truth = make_synthetic(n_users=600, n_items=200, seed=3)
    steep, _ = make_synthetic(n_users=600, n_items=200, seed=3, tail_steepness=8.0)
    last = np.argsort(truth.item_bias)[:40]  # the 40 least popular items by construction
    clicks = lambda table: np.bincount(table.item_ids, minlength=200)[last].sum()
    assert clicks(steep) < 0.5 * clicks(flat)


def test_unequal_clusters_follow_their_exponent():
    _, truth = make_synthetic(n_users=4000, n_items=50, seed=0, n_clusters=10, cluster_exponent=1.0)
    share = np.bincount(truth.clusters, minlength=10) / 4000
    expected = 1 / np.arange(1, 11) / (1 / np.arange(1, 11)).sum()
    np.testing.assert_allclose(share, expected, atol=0.02)
    _, equal = make_synthetic(n_users=4000, n_items=50, seed=0, n_clusters=10)
    assert np.bincount(equal.clusters).max() / 4000 < 0.13


def test_calibrated_size_matches_ml1m_shape():
    """The ``ml-1m`` size's statistics lie near ML-1M's (6,034 users, 3,497 items, Gini 0.696,
    head share 0.52, median 58 and 90th percentile 225 clicks per user after the protocol)."""
    from vaecf.data import SYNTHETIC_SIZES, paper_split
    from vaecf.data.statistics import click_statistics

    table, _ = make_synthetic(seed=0, **SYNTHETIC_SIZES["ml-1m"])
    stats = click_statistics(paper_split(table, n_heldout=0.1, seed=98765))
    assert 3_000 <= stats.items <= 3_800 and 5_800 <= stats.users <= 6_040
    assert abs(stats.item_gini - 0.696) < 0.03 and abs(stats.head_share - 0.52) < 0.04
    assert 50 <= stats.median_clicks_per_user <= 66 and 200 <= stats.p90_clicks_per_user <= 250
    assert 0.02 < stats.density < 0.035


@pytest.mark.parametrize("kwargs,message", [(dict(n_users=0), "n_users"),
                                            (dict(n_items=4), "too small"),
                                            (dict(mean_clicks=-1), "mean_clicks"),
                                            (dict(tail_steepness=-1), "tail_steepness"),
                                            (dict(cluster_exponent=-0.5), "cluster_exponent")])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_synthetic(**kwargs)
