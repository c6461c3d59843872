import numpy as np
import pytest
import scipy.sparse as sp
import torch

from vaecf.experiments.analysis import ndcg_by_activity
from vaecf.experiments.annealing import anneal_without_cap
from vaecf.data import make_synthetic, paper_split
from vaecf.metrics import evaluate
from vaecf.models import MultVAE, Popularity
from vaecf.train import TrainConfig


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    return paper_split(table, n_heldout=40, seed=0)


def test_activity_groups_are_quantiles_whose_ranges_never_overlap(split):
    scorer = Popularity().fit(split.train).score
    result = ndcg_by_activity(scorer, split.test_fold_in, split.test_target, n_groups=5)
    clicks = np.diff(split.test_fold_in.indptr)
    ndcg = evaluate(scorer, split.test_fold_in, split.test_target)["ndcg@100"]
    assert result.size.sum() == 40 and len(result.size) == 5 and result.size.min() >= 4
    np.testing.assert_allclose(result.ndcg, ndcg)
    for g in range(5):
        members = result.group == g
        assert result.mean[g] == pytest.approx(ndcg[members].mean())
        assert result.low[g] == clicks[members].min() and result.high[g] == clicks[members].max()
        assert result.stderr[g] == pytest.approx(ndcg[members].std(ddof=1) / np.sqrt(members.sum()))
    assert np.all(result.high[:-1] < result.low[1:])  # least active first, no shared count
    assert len(result.labels()) == 5


def test_tied_counts_share_a_group_and_empty_groups_are_dropped():
    from vaecf.experiments.analysis import activity_groups

    clicks = np.array([4, 4, 4, 4, 5, 6, 7, 8, 9, 10])
    # cuts at the 2nd, 4th, 6th, 8th sorted counts: 4, 5, 7, 9; nobody lies below 4
    np.testing.assert_array_equal(activity_groups(clicks, 5), [0, 0, 0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(activity_groups(clicks[::-1], 5), [3, 3, 2, 2, 1, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(activity_groups(np.arange(10), 5), np.arange(10) // 2)
    with pytest.raises(ValueError, match="cannot cut 10 users into 11"):
        activity_groups(clicks, 11)


def test_activity_on_a_hand_made_example():
    fold_in = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float32))
    target = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 0]], dtype=np.float32))
    scorer = lambda batch: np.tile(np.array([4.0, 3.0, 2.0, 1.0]), (batch.shape[0], 1))
    result = ndcg_by_activity(scorer, fold_in, target, n_groups=2, k=2)
    # users by clicks: 0 (1), 3 (1) | 2 (2), 1 (3); NDCG@2: user0 1, user3 1, user2 1, user1 1
    np.testing.assert_array_equal(result.group, [0, 1, 1, 0])
    np.testing.assert_array_equal(result.low, [1, 2])
    np.testing.assert_allclose(result.mean, [1.0, 1.0])
    with pytest.raises(ValueError, match="cannot cut 4 users into 5"):
        ndcg_by_activity(scorer, fold_in, target, n_groups=5, k=2)
    with pytest.raises(ValueError, match="n_groups"):
        ndcg_by_activity(scorer, fold_in, target, n_groups=0, k=2)


def test_annealing_runs_beta_linearly_to_the_maximum(split):
    torch.manual_seed(0)
    model = MultVAE(split.n_items, hidden_dims=(16,), latent_dim=4)
    curve, trained = anneal_without_cap(split, epochs=4, beta_max=1.0, model=model,
                                        config=TrainConfig(batch_size=60, beta_cap=0.2, seed=0),
                                        progress=False)
    np.testing.assert_allclose(curve.betas, [0.25, 0.5, 0.75, 1.0])  # no cap on the way
    assert curve.best_score == curve.scores.max()
    assert curve.best_beta == curve.betas[np.argmax(curve.scores)]
    assert trained is model and len(curve.epochs) == 4
    with pytest.raises(ValueError, match="beta_max"):
        anneal_without_cap(split, epochs=1, beta_max=0.0)


def test_breakdown_from_per_user_values_and_paired_differences_by_group():
    from vaecf.experiments.analysis import activity_breakdown, paired_by_group

    fold_in = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]))
    a = activity_breakdown(np.array([0.1, 0.2, 0.6, 0.8]), fold_in, n_groups=2)
    b = activity_breakdown(np.array([0.0, 0.1, 0.6, 0.9]), fold_in, n_groups=2)
    assert a.group.tolist() == [0, 0, 1, 1] and a.mean.tolist() == pytest.approx([0.15, 0.7])
    light, heavy = paired_by_group(a, b, "A", "B")
    assert light.difference == pytest.approx(0.1) and light.n == 2
    assert heavy.difference == pytest.approx(-0.05)
    with pytest.raises(ValueError, match="one NDCG value per user"):
        activity_breakdown(np.array([0.1]), fold_in)
    other = activity_breakdown(np.array([0.1, 0.2, 0.6, 0.8]), fold_in, n_groups=4)
    with pytest.raises(ValueError, match="group the users differently"):
        paired_by_group(a, other)


def test_breakdown_read_back_from_the_figures_numbers(split):
    from vaecf.experiments.analysis import ActivityBreakdown, activity_breakdown
    from vaecf.figures import activity_numbers

    rng = np.random.default_rng(0)
    ndcg = rng.uniform(size=split.test_fold_in.shape[0]).round(6)
    saved = activity_breakdown(ndcg, split.test_fold_in, n_groups=4)
    entry = activity_numbers({"model": saved}, np.diff(split.test_fold_in.indptr))["model"]
    back = ActivityBreakdown.from_numbers(entry)
    assert back.labels() == entry["labels"] == saved.labels()
    for field in ("low", "high", "mean", "stderr", "size", "group", "ndcg"):
        np.testing.assert_allclose(getattr(back, field), getattr(saved, field))
    entry["group"] = [0] * len(entry["group"])  # the saved groups are used, not recomputed
    assert len(ActivityBreakdown.from_numbers(entry).size) == 1
    with pytest.raises(ValueError, match="fold_in_clicks"):
        ActivityBreakdown.from_numbers({"ndcg": [0.5], "group": [0]})
    with pytest.raises(ValueError, match="one NDCG value"):
        ActivityBreakdown.from_numbers({"ndcg": [0.5, 0.2], "group": [0], "fold_in_clicks": [3, 4]})


def test_group_gains_relative_to_the_second_model():
    from vaecf.experiments.analysis import activity_breakdown, group_gains

    clicks = np.array([1, 1, 1, 5, 5, 5])
    a = activity_breakdown(np.array([0.3, 0.3, 0.6, 0.5, 0.5, 0.5]), clicks, n_groups=2)
    b = activity_breakdown(np.array([0.2, 0.2, 0.2, 0.4, 0.5, 0.6]), clicks, n_groups=2)
    gains = group_gains(a, b, "A", "B")
    # light users: 0.4 vs 0.2 (+100%); heavy users: 0.5 vs 0.5 (+0%)
    np.testing.assert_allclose(gains.relative, [1.0, 0.0], atol=1e-12)
    assert gains.labels == ["1 clicks", "5 clicks"] and gains.sizes.tolist() == [3, 3]
    assert gains.differences[0].a == "A" and gains.differences[0].difference == pytest.approx(0.2)
    assert gains.largest_for_lightest and gains.falls_with_activity
    reverse = group_gains(b, a, "B", "A")
    assert not reverse.largest_for_lightest and not reverse.falls_with_activity
