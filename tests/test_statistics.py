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
