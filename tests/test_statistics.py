import numpy as np
import pytest
import scipy.sparse as sp

from vaecf.data import RatingTable, paper_split
from vaecf.data.statistics import click_statistics, gini


def test_gini_by_hand():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    # sorted (0, 0, 0, 4): Σ (2i − n − 1) x_i / (n Σx) = (3 · 4) / (4 · 4) = 0.75
    assert gini([0, 4, 0, 0]) == pytest.approx(0.75)
    # (1, 2, 3): (−2·1 + 0·2 + 2·3) / (3 · 6) = 4 / 18
    assert gini([3, 1, 2]) == pytest.approx(4 / 18)


@pytest.mark.parametrize("counts", [[], [0, 0], [-1, 3]])
def test_gini_refuses_empty_or_negative(counts):
    with pytest.raises(ValueError, match="gini needs"):
        gini(counts)


def test_statistics_of_a_hand_made_split():
    # 30 users: user u clicks items 0..(4 + u % 6); every rating is a click (5 stars).
    users, items = [], []
    for u in range(30):
        for i in range(5 + u % 6):
            users.append(u)
            items.append(i)
    table = RatingTable(np.array(users), np.array(items), np.full(len(users), 5.0))
    split = paper_split(table, n_heldout=3, seed=0)
    stats = click_statistics(split)
    per_user = np.array([5 + u % 6 for u in range(30)])
    assert (stats.users, stats.items, stats.clicks) == (30, 10, per_user.sum())
    assert stats.density == pytest.approx(per_user.sum() / 300)
    assert stats.median_clicks_per_user == np.median(per_user)
    assert stats.p90_clicks_per_user == pytest.approx(np.percentile(per_user, 90))
    per_item = np.array([(per_user > i).sum() for i in range(10)])
    assert stats.item_gini == pytest.approx(gini(per_item))
    assert stats.head_share == pytest.approx(per_item.max() / per_item.sum())  # 10% of 10 = 1 item
    assert set(stats.as_dict()) >= {"users", "items", "item_gini", "head_share"}


def test_head_share_by_hand():
    from vaecf.data.statistics import head_share

    assert head_share(np.array([1, 9, 0, 0, 0, 0, 0, 0, 0, 0])) == pytest.approx(0.9)  # 1 of 10 items
    assert head_share(np.array([2, 2, 4, 2]), fraction=0.5) == pytest.approx(0.6)  # 4 + 2 of 10


def test_shape_agreement_uses_each_statistics_tolerance():
    from vaecf.data.statistics import ClickStatistics, shape_agreement

    reference = ClickStatistics(users=100, items=50, clicks=1000, density=0.2, item_gini=0.70,
                                head_share=0.50, median_clicks_per_user=60.0, p90_clicks_per_user=200.0)
    close = ClickStatistics(users=90, items=40, clicks=800, density=0.23, item_gini=0.72,
                            head_share=0.47, median_clicks_per_user=65.0, p90_clicks_per_user=190.0)
    assert shape_agreement(close, reference) == dict.fromkeys(
        ["item_gini", "head_share", "density", "median_clicks_per_user", "p90_clicks_per_user"], True)
    far = ClickStatistics(users=90, items=40, clicks=800, density=0.25, item_gini=0.74,
                          head_share=0.45, median_clicks_per_user=67.0, p90_clicks_per_user=175.0)
    # Gini 0.04 apart (> 0.03), head share 0.05 (> 0.04), density 25% off (> 20%), median 11.7% off
    # (> 10%), 90th percentile 12.5% off (> 10%).
    assert not any(shape_agreement(far, reference.as_dict()).values())
    with pytest.raises(ValueError, match="lack item_gini"):
        shape_agreement(close, {"head_share": 0.5})


def test_calibrated_statistics_are_those_of_the_synthetic_size_after_the_protocol():
    from vaecf.data import load_dataset, paper_split
    from vaecf.data.statistics import calibrated_statistics

    table, _ = load_dataset("synthetic", size="tiny", seed=4)
    expected = click_statistics(paper_split(table, n_heldout=0.2, seed=4))
    assert calibrated_statistics("tiny", seed=4, n_heldout=0.2) == expected
    with pytest.raises(ValueError, match="size"):
        calibrated_statistics("huge")
