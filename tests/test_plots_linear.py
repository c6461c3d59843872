"""Notebook 2's computations and figures: the fold-in by hand, the rank sweep, one user's
recommendations, the item map's colours and the either-or figure."""
import types

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from vaecf.data import RatingTable, make_synthetic, paper_split  # noqa: E402
from vaecf.metrics import evaluate  # noqa: E402
from vaecf.models import WMF, Popularity  # noqa: E402
from vaecf.toys.one_user import median_activity_user, top_new_items  # noqa: E402
from vaecf.plots.linear import (item_map_colours, log_popularity, plot_either_or_fits,  # noqa: E402
                                plot_rank_sweep)
from vaecf.toys.nonlinear_taste import compare_linear_and_network, make_either_or  # noqa: E402
from vaecf.toys.wmf_walkthrough import fold_in_by_hand, validation_ndcg, wmf_rank_sweep  # noqa: E402


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=200, n_items=120, seed=0)
    return paper_split(table, n_heldout=30, seed=1)


def test_fold_in_by_hand_is_the_weighted_ridge_solve_with_the_full_confidence_matrix():
    rng = np.random.default_rng(0)
    V = rng.normal(size=(12, 3))
    clicked = np.array([1, 4, 7])
    x = np.zeros(12)
    x[clicked] = 1
    C = np.diag(1 + 5.0 * x)
    want = np.linalg.solve(V.T @ C @ V + 0.5 * np.eye(3), V.T @ C @ x)
    np.testing.assert_allclose(fold_in_by_hand(V, clicked, alpha=5.0, l2=0.5), want, rtol=1e-12)


def test_fold_in_by_hand_matches_wmf_fold_in(split):
    wmf = WMF(n_factors=4, l2=1.0, alpha=10.0, iterations=2, seed=0).fit(split.train)
    row = split.valid_fold_in[0]
    by_hand = fold_in_by_hand(wmf.item_factors.double().numpy(), row.indices, alpha=10.0, l2=1.0)
    np.testing.assert_allclose(by_hand, wmf.fold_in(row).double().numpy()[0], atol=1e-4)


def test_validation_ndcg_is_the_mean_over_validation_users(split):
    popularity = Popularity().fit(split.train)
    want = evaluate(popularity.score, split.valid_fold_in, split.valid_target)["ndcg@100"].mean()
    assert validation_ndcg(popularity, split) == pytest.approx(want, rel=1e-12)


def test_rank_sweep_fits_one_model_per_rank(split):
    sweep = wmf_rank_sweep(split, [1, 3], l2=1.0, alpha=10.0, iterations=2, seed=0, progress=False)
    assert list(sweep) == [1, 3]
    one = WMF(n_factors=3, l2=1.0, alpha=10.0, iterations=2, seed=0).fit(split.train)
    assert sweep[3] == pytest.approx(validation_ndcg(one, split), rel=1e-9)


def test_median_activity_user_by_hand():
    clicks = sp.csr_matrix(np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 1, 1]]))
    # clicks per user 3, 1, 2, 2: stable order 1, 2, 3, 0 -> the middle (index 2) is user 3
    assert median_activity_user(clicks) == 3


def test_top_new_items_skips_the_seen_items_and_keeps_the_scores():
    scores = np.array([0.9, 0.1, 0.8, 0.5, 0.7])
    assert top_new_items(scores, {0, 2}, 2).tolist() == [4, 3]
    assert scores[0] == 0.9


def test_item_map_colours_without_genres_is_log_popularity():
    train = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0], [1, 1, 0]]))
    table = types.SimpleNamespace(item_genres={}, item_titles={})
    colour, what, names = item_map_colours(train, np.array([10, 11, 12]), table)
    np.testing.assert_allclose(colour, np.log10([4, 2, 2]))
    np.testing.assert_allclose(log_popularity(train), np.log10([4, 2, 2]))
    assert "clicks" in what and names == {}


def test_item_map_colours_names_the_most_clicked_item_of_the_commonest_genres():
    # items 0, 1 Drama; item 2 Comedy; item 3 Horror (rarest genre)
    train = sp.csr_matrix(np.array([[1, 1, 1, 1], [0, 1, 1, 0], [0, 1, 0, 0]]))
    table = RatingTable(np.zeros(0), np.zeros(0), np.zeros(0),
                        item_genres={10: ["Drama"], 11: ["Drama"], 12: ["Comedy"], 13: ["Horror"]},
                        item_titles={11: "Heat"})
    colour, what, names = item_map_colours(train, np.array([10, 11, 12, 13]), table, n_named=2)
    assert list(colour) == ["Drama", "Drama", "Comedy", "Horror"] and what == "most specific genre"
    # Drama (2 items) first: its most clicked is item 1; then Comedy (ties to Horror broken
    # alphabetically by np.unique): item 2, which has no title
    assert names == {1: "Heat", 2: "item 12"}


def test_rank_sweep_plot_draws_the_sweep_and_stars_the_best_rank():
    fig = plot_rank_sweep({1: 0.1, 5: 0.3, 20: 0.2}, popularity_ndcg=0.05)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 5, 20])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.1, 0.3, 0.2])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[5, 0.3]])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.05, 0.05])
    assert ax.get_xlabel().startswith("latent dimension k") and "NDCG@100" in ax.get_ylabel()
    assert "★" in ax.get_title()
    plt.close(fig)


def test_either_or_plot_draws_the_errors_and_the_mean_score_of_each_kind():
    data = make_either_or(n_users=80, items_per_group=2, seed=0)
    fits = compare_linear_and_network(data, epochs=5, seed=0)
    fig = plot_either_or_fits(data, fits)
    ax_err, ax_kind = fig.axes
    np.testing.assert_allclose(ax_err.lines[0].get_ydata(), list(fits["linear_mse"].values()))
    assert ax_err.lines[1].get_ydata()[0] == pytest.approx(fits["network_mse"])
    network_bars = [bar.get_height() for bar in ax_kind.containers[1]]
    want = [fits["network_scores"][fits["test_kind"] == kind].mean()
            for kind in ("neither", "A only", "B only", "both")]
    np.testing.assert_allclose(network_bars, want, rtol=1e-6)
    np.testing.assert_allclose(ax_kind.collections[0].get_offsets()[:, 1],
                               [data.p_other, data.p_like, data.p_like, data.p_other])
    for ax in (ax_err, ax_kind):
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def test_als_objective_plot_draws_one_point_per_sweep():
    from vaecf.plots.linear import plot_als_objective

    fig = plot_als_objective([9.0, 5.0, 4.5], k=7)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [9.0, 5.0, 4.5])
    assert ax.get_xlabel() == "ALS sweep" and ax.get_ylabel() == "WMF objective"
    assert ax.get_title().endswith("(k = 7)")
    plt.close(fig)


def test_item_name_is_the_title_or_the_raw_id():
    table = RatingTable(np.zeros(0), np.zeros(0), np.zeros(0), item_titles={3: "Heat"})
    assert table.item_name(3) == "Heat" and table.item_name(4) == "item 4"
