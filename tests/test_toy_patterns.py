import numpy as np
import pytest

from vaecf.toys.nonlinear_taste import (auc, compare_linear_and_network, fit_one_hidden_layer,
                                fit_rank_k_linear, make_either_or, score_recommender)


def test_either_or_items_follow_the_xor_of_the_two_tastes():
    data = make_either_or(n_users=4000, items_per_group=3, p_like=0.9, p_other=0.1, seed=1)
    assert data.clicks.shape == (4000, 9)
    assert list(data.groups) == ["A"] * 3 + ["B"] * 3 + ["C"] * 3
    rate = data.targets.mean(axis=1)
    for kind, expected in (("neither", 0.1), ("A only", 0.9), ("B only", 0.9), ("both", 0.1)):
        assert abs(rate[data.kind == kind].mean() - expected) < 0.03, kind
    np.testing.assert_array_equal(data.either_or, np.isin(data.kind, ["A only", "B only"]))
    # the C clicks are uncorrelated with each of the two observed groups
    a, b, c = (data.clicks[:, data.groups == g].sum(1) for g in "ABC")
    assert abs(np.corrcoef(a, c)[0, 1]) < 0.05 and abs(np.corrcoef(b, c)[0, 1]) < 0.05


def test_same_seed_same_data():
    one, two = make_either_or(seed=3), make_either_or(seed=3)
    np.testing.assert_array_equal(one.clicks, two.clicks)
    assert not np.array_equal(one.clicks, make_either_or(seed=4).clicks)


def test_full_rank_linear_fit_is_ordinary_least_squares():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    design = np.c_[np.ones(50), x]
    expected = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(fit_rank_k_linear(x, y, 3).predict(x), expected, atol=1e-10)
    np.testing.assert_allclose(fit_rank_k_linear(x, y, 0).predict(x), np.tile(y.mean(0), (50, 1)))


def test_rank_k_weights_have_rank_k_and_error_falls_with_rank():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(80, 6))
    y = x @ rng.normal(size=(6, 5)) + 0.1 * rng.normal(size=(80, 5))
    errors = []
    for k in range(6):
        fit = fit_rank_k_linear(x, y, k)
        assert np.linalg.matrix_rank(fit.weights, tol=1e-8) == k
        errors.append(((fit.predict(x) - y) ** 2).sum())
    assert all(a > b for a, b in zip(errors, errors[1:]))


def test_one_hidden_layer_fits_exact_xor():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 10, dtype=float)
    y = (x[:, :1] != x[:, 1:]).astype(float)
    predict = fit_one_hidden_layer(x, y, hidden=4, epochs=600, seed=0)
    assert np.abs(predict(x) - y).max() < 0.1
    # while the best linear map predicts ½ for every pattern
    np.testing.assert_allclose(fit_rank_k_linear(x, y, 1).predict(x), 0.5, atol=1e-10)


def test_auc_against_hand_counts():
    # positives 0.9, 0.4; negatives 0.5, 0.1, 0.4: pairs won 3 + (1 + ½ tie) = 4.5 of 6
    assert auc(np.array([0.9, 0.4, 0.5, 0.1, 0.4]), np.array([1, 1, 0, 0, 0])) == pytest.approx(4.5 / 6)
    assert auc(np.array([1.0, 2.0]), np.array([0, 1])) == 1.0
    with pytest.raises(ValueError, match="positive and one negative"):
        auc(np.array([1.0, 2.0]), np.array([1, 1]))


def test_network_beats_every_linear_rank_on_held_out_users():
    result = compare_linear_and_network(make_either_or(seed=0), seed=0)
    assert result["network_mse"] < min(result["linear_mse"].values()) - 0.05
    assert result["network_auc"] > 0.9
    assert max(result["linear_auc"].values()) < 0.65
    assert result["oracle_mse"] <= result["network_mse"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_users=0), "n_users"),
    (dict(p_like=0.1, p_other=0.5), "p_other < p_like"),
])
def test_bad_parameters_are_explained(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_either_or(**kwargs)


def test_bad_rank_is_explained():
    with pytest.raises(ValueError, match="rank must be"):
        fit_rank_k_linear(np.zeros((5, 2)), np.zeros((5, 3)), 4)


class _OracleOfGroupC:
    """A stand-in recommender that scores C items by the XOR of the A and B clicks."""

    def fit(self, train):
        self.n_items = train.shape[1]
        return self

    def score(self, fold_in):
        x = fold_in.toarray()
        per = self.n_items // 3
        a, b = x[:, :per].mean(1) > 0.5, x[:, per:2 * per].mean(1) > 0.5
        return np.repeat((a ^ b).astype(float)[:, None], self.n_items, axis=1)


def test_score_recommender_hides_the_target_and_scores_it():
    data = make_either_or(seed=2)
    perfect = score_recommender(data, _OracleOfGroupC, seed=2)
    assert perfect["auc"] > 0.9
    from vaecf.models import WMF
    wmf = score_recommender(data, lambda: WMF(n_factors=3, iterations=5, seed=0), seed=2)
    assert wmf["auc"] < 0.75 < perfect["auc"]


def test_mean_by_kind_by_hand():
    from vaecf.toys.nonlinear_taste import KINDS, mean_by_kind
    values = np.array([[1.0, 0.0], [0.5, 0.5], [2.0, 2.0], [0.0, 0.0], [3.0, 1.0]])
    kind = np.array(["both", "A only", "neither", "B only", "both"])
    assert mean_by_kind(values, kind) == {"neither": 2.0, "A only": 0.5, "B only": 0.0, "both": 1.25}
    assert tuple(mean_by_kind(values, kind)) == KINDS
    with pytest.raises(ValueError):
        mean_by_kind(values, kind[:3])
