import math

import numpy as np
import pytest
import torch

from vaecf.toys import latent_toy as toy

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def case():
    model = toy.make_toy_model(n_items=6, hidden=8, scale=3.0, seed=2)
    x = model.sample_clicks(np.array([-1.0, 1.0]), 8, seed=1)
    return model, x, toy.grid_posterior(model, x, limit=5.0, n=241)


def test_linear_decoder_evidence_matches_brute_force_integration():
    # One item set, x with a single click on item 0: p(x | z) = π_0(z); integrate by Monte
    # Carlo over the prior (independent of the grid code).
    model = toy.make_toy_model(n_items=3, hidden=2, scale=1.0, seed=5)
    x = np.array([1.0, 0.0, 0.0])
    grid = toy.grid_posterior(model, x, limit=6.0, n=401)
    z = torch.randn(400_000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    mc = math.log(model.probabilities(z)[:, 0].mean().item())
    assert grid.log_evidence == pytest.approx(mc, abs=3e-3)


def test_posterior_integrates_to_one(case):
    _, _, grid = case
    assert np.exp(grid.log_posterior).sum() * grid.cell_area == pytest.approx(1.0, abs=1e-9)


def test_quadrature_elbo_matches_monte_carlo(case):
    model, x, _ = case
    mu, logvar = torch.tensor([0.3, -0.2], dtype=torch.float64), torch.tensor([-1.0, -0.5], dtype=torch.float64)
    exact = toy.elbo_quadrature(model, x, mu, logvar).item()
    gen = torch.Generator().manual_seed(1)
    mc = toy.elbo_estimate(model, x, mu, logvar, 200_000, gen).item()
    assert mc == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize("mu, logvar", [([0.0, 0.0], [0.0, 0.0]), ([-1.0, 1.0], [-2.0, -1.0]),
                                        ([0.5, 0.5], [-3.0, -3.0])])
def test_gap_equals_kl_to_the_posterior_and_elbo_below_evidence(case, mu, logvar):
    model, x, grid = case
    elbo = toy.elbo_quadrature(model, x, torch.tensor(mu, dtype=torch.float64),
                               torch.tensor(logvar, dtype=torch.float64)).item()
    kl = grid.kl_from(mu, logvar)
    assert elbo <= grid.log_evidence
    assert kl >= 0
    assert grid.log_evidence - elbo == pytest.approx(kl, abs=1e-4)


def test_kl_refuses_q_off_the_grid(case):
    _, _, grid = case
    with pytest.raises(ValueError, match="widen the grid"):
        grid.kl_from([4.9, 0.0], [0.0, 0.0])


def test_fitted_q_improves_the_elbo_and_sits_near_the_posterior(case):
    model, x, grid = case
    q = toy.fit_gaussian_q(model, x, steps=600, seed=0)
    fitted = toy.elbo_quadrature(model, x, q.mu, q.logvar).item()
    prior = toy.elbo_quadrature(model, x, np.zeros(2), np.zeros(2)).item()
    assert prior < fitted <= grid.log_evidence
    assert grid.kl_from(q.mu, q.logvar) < grid.kl_from(np.zeros(2), np.zeros(2))
    # The fitted mean lies in the region of high posterior density.
    i, j = (np.abs(grid.axis[:, None] - q.mu[None, :])).argmin(axis=0)
    assert grid.log_posterior[i, j] > grid.log_posterior.max() - 3


@pytest.mark.parametrize("mu, logvar", [([0.0, 0.0], [0.0, 0.0]), ([-0.5, 0.8], [-1.5, -1.0])])
def test_both_gradient_estimators_are_unbiased_and_reparam_has_lower_variance(case, mu, logvar):
    model, x, _ = case
    exact = toy.exact_mu_gradient(model, x, mu, logvar)
    variance = {}
    for method in ("reparam", "score"):
        g = toy.gradient_estimates(model, x, mu, logvar, method, n_samples=10, n_repeats=4000, seed=3)
        se = g.std(axis=0, ddof=1) / math.sqrt(len(g))
        assert np.all(np.abs(g.mean(axis=0) - exact) < 4 * se + 1e-9), method
        variance[method] = g.var(axis=0, ddof=1).sum()
    assert variance["reparam"] < variance["score"]


def test_variance_shrinks_like_one_over_samples(case):
    model, x, _ = case
    v = [toy.gradient_estimates(model, x, [0, 0], [0, 0], "reparam", s, 3000, seed=4).var(0).sum()
         for s in (1, 16)]
    assert v[0] / v[1] == pytest.approx(16, rel=0.2)


def test_bad_inputs_are_explained():
    model = toy.make_toy_model(n_items=4)
    with pytest.raises(ValueError, match="one click count per item"):
        toy.grid_posterior(model, [1, 0])
    with pytest.raises(ValueError, match="at least one click"):
        toy.grid_posterior(model, [0, 0, 0, 0])
    with pytest.raises(ValueError, match="method"):
        toy.gradient_estimates(model, [1, 0, 0, 0], [0, 0], [0, 0], "pathwise", 1, 1)
    with pytest.raises(ValueError, match="n_items"):
        toy.make_toy_model(n_items=1)


def test_fit_starts_where_asked(case):
    model, x, _ = case
    q = toy.fit_gaussian_q(model, x, steps=3, lr=1e-3, seed=0, init_mu=(-1.5, 1.5))
    np.testing.assert_allclose(q.mu, [-1.5, 1.5], atol=0.01)
    with pytest.raises(ValueError, match="init_mu"):
        toy.fit_gaussian_q(model, x, steps=3, init_mu=(0.0, 0.0, 0.0))


def test_prior_and_likelihood_add_up_to_the_joint(case):
    model, x, grid = case
    log_prior, log_likelihood = grid.prior_and_likelihood(x)
    z1, z2 = np.meshgrid(grid.axis, grid.axis, indexing="ij")
    np.testing.assert_allclose(log_prior, -0.5 * (z1 ** 2 + z2 ** 2) - math.log(2 * math.pi), atol=1e-10)
    # the likelihood at one grid point, from the decoder's probabilities directly
    point = torch.tensor([grid.axis[7], grid.axis[100]], dtype=torch.float64)
    direct = float((torch.tensor(x, dtype=torch.float64) * model.probabilities(point).log()).sum())
    assert log_likelihood[7, 100] == pytest.approx(direct, abs=1e-10)


def test_posterior_sd_is_the_priors_when_the_decoder_ignores_z():
    # with no weights on z the likelihood is constant: the posterior is the prior, sd 1 per axis
    model = toy.make_toy_model(n_items=3, hidden=2, scale=1.0, seed=0)
    model.item_weights.zero_()
    grid = toy.grid_posterior(model, np.array([1.0, 0.0, 2.0]), limit=7.0, n=281)
    np.testing.assert_allclose(grid.posterior_sd(), [1.0, 1.0], atol=1e-6)


def test_fit_from_starts_measures_every_fit_exactly(case):
    model, x, grid = case
    starts = {"origin": (0.0, 0.0), "left": (-1.5, 1.5)}
    fitted = toy.fit_from_starts(model, x, grid, starts, steps=40, n_samples=4, lr=0.05, seed=3)
    fits, elbo, kl, gap = fitted.fits, fitted.elbo, fitted.kl, fitted.gap
    assert list(fits) == list(elbo) == list(kl) == list(gap) == ["origin", "left"]
    for name, init in starts.items():
        alone = toy.fit_gaussian_q(model, x, steps=40, n_samples=4, lr=0.05, seed=3, init_mu=init)
        np.testing.assert_array_equal(fits[name].mu, alone.mu)
        np.testing.assert_allclose(fits[name].sigma, np.exp(alone.logvar / 2))
        assert elbo[name] == pytest.approx(toy.elbo_quadrature(model, x, alone.mu, alone.logvar).item())
        assert kl[name] == pytest.approx(grid.kl_from(alone.mu, alone.logvar))
        assert gap[name] == pytest.approx(grid.log_evidence - elbo[name])
    assert fitted.log_evidence == grid.log_evidence
    assert fitted.best == max(elbo, key=elbo.get)
    assert fitted.elbo_spread == pytest.approx(abs(elbo["origin"] - elbo["left"]))
    lines = fitted.describe("left", elbo_prior=-9.0).splitlines()
    assert len(lines) == 3 and lines[0].startswith("q left: μ = ") and "(q = prior: -9.0000;" in lines[1]
    assert lines[2].endswith(f"ELBO ≤ log p(x): {elbo['left'] <= grid.log_evidence}")


def test_fits_from_starts_bounded_checks_the_bound_and_the_gap():
    q = toy.FittedQ(np.zeros(2), np.log(np.array([4.0, 0.25])), np.zeros(1))
    np.testing.assert_allclose(q.sigma, [2.0, 0.5])
    fitted = toy.FitsFromStarts({"a": q, "b": q}, elbo={"a": -5.0, "b": -4.0}, kl={"a": 1.0, "b": 0.0},
                                gap={"a": 1.0, "b": 0.0}, log_evidence=-4.0)
    assert fitted.best == "b" and fitted.elbo_spread == pytest.approx(1.0) and fitted.bounded()
    fitted.kl["a"] = 1.01  # the gap no longer equals the KL
    assert not fitted.bounded() and fitted.bounded(tolerance=0.02)
    fitted.elbo["b"] = -3.9  # above log p(x): not a lower bound
    assert not fitted.bounded(tolerance=0.02)


def test_gradient_estimator_stats_summarise_the_estimates(case):
    model, x, _ = case
    mu, logvar = np.zeros(2), np.zeros(2)
    exact = toy.exact_mu_gradient(model, x, mu, logvar, n_points=60)
    stats = toy.gradient_estimator_stats(model, x, mu, logvar, exact, [2, 8], n_repeats=50, seed=7)
    assert set(stats) == {(m, s) for m in ("reparam", "score") for s in (2, 8)}
    g = toy.gradient_estimates(model, x, mu, logvar, "score", n_samples=8, n_repeats=50, seed=7 + 8)
    np.testing.assert_allclose(stats["score", 8]["mean"], g.mean(axis=0))
    assert stats["score", 8]["variance"] == pytest.approx(g.var(axis=0, ddof=1).sum())
    np.testing.assert_allclose(stats["score", 8]["z"],
                               np.abs(g.mean(axis=0) - exact) / (g.std(axis=0, ddof=1) / np.sqrt(50)))


def test_estimator_variances_and_table_read_the_stats():
    stats = {(method, S): {"mean": np.array([1.234, -0.5]), "variance": 10.0 * S + (method == "score"),
                           "z": np.array([0.5, 1.25])}
             for method in ("reparam", "score") for S in (1, 4)}
    np.testing.assert_allclose(toy.estimator_variances(stats, [1, 4], "score"), [11.0, 41.0])
    np.testing.assert_allclose(toy.estimator_variances(stats, [4], "reparam"), [40.0])
    lines = toy.estimator_table(stats, [1, 4]).splitlines()
    assert len(lines) == 5 and lines[0].split()[:2] == ["S", "method"]
    assert lines[2].split()[:2] == ["1", "score"] and lines[2].endswith(" 1.25           11.00")
    with pytest.raises(ValueError, match="gradient_estimator_stats"):
        toy.estimator_variances(stats, [16], "score")
