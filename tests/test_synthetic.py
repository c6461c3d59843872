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


def test_netflix_and_msd_sizes_have_table_1_shapes():
    from vaecf.data import SYNTHETIC_SIZES

    netflix, msd = SYNTHETIC_SIZES["netflix"], SYNTHETIC_SIZES["msd"]
    assert (netflix["n_users"], netflix["n_items"]) == (463_435, 17_769)
    assert (msd["n_users"], msd["n_items"]) == (571_355, 41_140)
    # Clicks per user: Table 1's 56.9 M and 33.6 M clicks over those users.
    assert abs(netflix["n_users"] * netflix["mean_clicks"] / 1e6 - 56.9) < 0.5
    assert abs(msd["n_users"] * msd["mean_clicks"] / 1e6 - 33.6) < 0.5
    assert netflix["sampler"] == msd["sampler"] == "stream"


def test_stream_sampler_gives_each_user_its_activity_in_distinct_items():
    table, _ = make_synthetic(n_users=600, n_items=4_114, seed=3, mean_clicks=59,
                              min_clicks=20, sampler="stream", chunk_users=128)
    counts = np.bincount(table.user_ids, minlength=600)
    assert counts.min() >= 20 and counts.max() <= 4_114 // 2
    assert len(set(zip(table.user_ids.tolist(), table.item_ids.tolist()))) == len(table)
    again, _ = make_synthetic(n_users=600, n_items=4_114, seed=3, mean_clicks=59,
                              min_clicks=20, sampler="stream", chunk_users=128)
    np.testing.assert_array_equal(table.item_ids, again.item_ids)
    with pytest.raises(ValueError, match="sampler"):
        make_synthetic(n_users=10, n_items=20, sampler="urn")


def test_stream_and_gumbel_draws_have_the_same_distribution():
    """Both are successive draws without replacement: for one row of logits repeated, the
    share of rows whose first item is i is π_i, and the items' inclusion rates agree."""
    from vaecf.data.synthetic import _gumbel_top_k, _stream_top_k

    rng = np.random.default_rng(0)
    logits = np.repeat(rng.normal(0, 1.5, size=(1, 150)).astype(np.float32), 20_000, axis=0)
    p = np.exp(logits[0] - logits[0].max())
    p /= p.sum()
    rows, items = _stream_top_k(logits, np.ones(20_000, dtype=np.int64), rng)
    first = np.bincount(items, minlength=150) / 20_000
    assert np.abs(first - p).max() < 5 * np.sqrt(p.max() / 20_000)
    counts = np.full(20_000, 40)
    _, stream_items = _stream_top_k(logits, counts, rng)
    _, gumbel_items = _gumbel_top_k(logits, counts, rng)
    stream_rate = np.bincount(stream_items, minlength=150) / 20_000
    gumbel_rate = np.bincount(gumbel_items, minlength=150) / 20_000
    assert np.abs(stream_rate - gumbel_rate).max() < 5 * np.sqrt(0.25 * 2 / 20_000)


def test_rows_whose_stream_runs_short_are_completed_by_gumbel():
    from vaecf.data.synthetic import _stream_top_k

    rng = np.random.default_rng(1)
    logits = np.tile(np.linspace(8, -8, 200, dtype=np.float32), (3, 1))  # a steep head
    counts = np.array([100, 199, 5])
    rows, items = _stream_top_k(logits, counts, rng, rounds=1)
    np.testing.assert_array_equal(np.bincount(rows), counts)
    for row in range(3):
        assert len(set(items[rows == row].tolist())) == counts[row]
