"""Notebook 1's figures and its statistics table."""
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from vaecf.data import make_synthetic, paper_split  # noqa: E402
from vaecf.data.statistics import click_statistics  # noqa: E402
from vaecf.plots.clicks import (most_popular_columns, plot_floor_and_ceiling,  # noqa: E402
                                plot_long_tail, plot_matrix_corner, plot_split_sample,
                                statistics_table)


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    return paper_split(table, n_heldout=30, seed=1)


def test_most_popular_columns_by_hand():
    clicks = sp.csr_matrix(np.array([[1, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 0]]))
    assert most_popular_columns(clicks, 3).tolist() == [2, 3, 0]


def test_corner_is_the_most_active_users_on_the_most_popular_items():
    clicks = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 1, 0], [0, 0, 0]]))
    fig, share = plot_matrix_corner(clicks, n_users=2, n_items=2)
    # users 1 and 0 (3 and 2 clicks) on items 1 and 0 (3 and 2 clicks): all ones
    assert share == 1.0 and "100% ones" in fig.axes[0].get_title()
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), np.ones((2, 2)))


def test_long_tail_draws_every_item_and_names_the_head_share(split):
    fig = plot_long_tail(split.train, head_share=0.43)
    left, right = fig.axes
    assert len(left.lines[0].get_xdata()) == split.n_items
    assert "43%" in left.get_title() and left.get_xlabel() and right.get_ylabel()


def test_split_sample_has_the_three_groups(split):
    fig = plot_split_sample(split, n_users=5, n_items=10)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (15, 10)
    assert set(np.unique(image[:5])) <= {0, 1} and set(np.unique(image[5:])) <= {0, 2, 3}


def test_floor_and_ceiling_bars_and_title():
    results = {"popularity": ({"ndcg@100": 0.3}, {"ndcg@100": 0.01}),
               "oracle": ({"ndcg@100": 0.6}, {"ndcg@100": 0.02})}
    fig = plot_floor_and_ceiling(results)
    heights = sorted(p.get_height() for p in fig.axes[0].patches)
    assert heights == [0.3, 0.6] and "ceiling" in fig.axes[0].get_title()
    assert "ceiling" not in plot_floor_and_ceiling({"popularity": results["popularity"]}).axes[0].get_title()


def test_statistics_table_sets_datasets_side_by_side(split):
    stats = click_statistics(split)
    text = statistics_table({"synthetic": stats, "other": stats.as_dict()})
    lines = text.splitlines()
    assert "synthetic" in lines[0] and "other" in lines[0]
    assert any(line.startswith("items") and line.count(f"{stats.items:,}") == 2 for line in lines)
    assert f"{stats.item_gini:.3f}" in text
