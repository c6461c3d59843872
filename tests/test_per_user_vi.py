import numpy as np
import pytest
import scipy.sparse as sp
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.models import kl_to_standard_normal, reparameterise
from vaecf.models.per_user_vi import PerUserVI, elbo, fit_user_posteriors, per_user_elbo

torch.set_default_dtype(torch.float32)
RNG = np.random.default_rng(0)
N_ITEMS, LATENT = 6, 2
W = torch.tensor(RNG.normal(size=(N_ITEMS, LATENT)), dtype=torch.float32)
B = torch.tensor(RNG.normal(scale=0.3, size=N_ITEMS), dtype=torch.float32)
CLICKS = sp.csr_matrix((RNG.random((5, N_ITEMS)) < 0.5).astype(np.float32))


def linear_decoder(z):
    return z @ W.T + B


def exact_posterior(x):
    """Linear decoder + Gaussian likelihood: p(z | x) = N(m, Λ⁻¹), Λ = WᵀW + I."""
    w, b = W.double().numpy(), B.double().numpy()
    precision = w.T @ w + np.eye(LATENT)
    mean = np.linalg.solve(precision, w.T @ (x - b).T).T
    return mean, precision


def test_elbo_is_likelihood_at_the_sampled_codes_minus_kl():
    mu, logvar = torch.randn(5, LATENT), torch.randn(5, LATENT) * 0.3
    x = torch.from_numpy(CLICKS.toarray())
    got = elbo(linear_decoder, "gaussian", x, mu, logvar, n_samples=3,
               generator=torch.Generator().manual_seed(7))
    eps = torch.randn((3, 5, LATENT), generator=torch.Generator().manual_seed(7))
    draws = [mu + e * (0.5 * logvar).exp() for e in eps]
    log_p = sum(-((x - linear_decoder(z)) ** 2).sum(-1) / 2 for z in draws) / 3
    kl = 0.5 * (logvar.exp() + mu ** 2 - 1 - logvar).sum(-1)
    torch.testing.assert_close(got, log_p - kl)
    torch.testing.assert_close(elbo(linear_decoder, "gaussian", x, mu, logvar, n_samples=3,
                                    beta=0.0, generator=torch.Generator().manual_seed(7)), log_p)


def test_kl_closed_form_agrees_with_monte_carlo():
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    z = reparameterise(mu.expand(100_000, 4, 3), logvar.expand(100_000, 4, 3),
                       generator=torch.Generator().manual_seed(0))
    log_q = torch.distributions.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), (log_q - log_p).mean(0),
                               atol=0.03, rtol=0.02)


def test_per_user_vi_finds_the_mean_field_optimum_of_a_linear_gaussian_model():
    mu, logvar = fit_user_posteriors(linear_decoder, CLICKS, "gaussian", latent_dim=LATENT,
                                     steps=400, lr=0.05, n_samples=16, seed=0)
    mean, precision = exact_posterior(CLICKS.toarray())
    # The best factorised Gaussian has the exact mean and variances 1 / Λ_kk.
    np.testing.assert_allclose(mu.numpy(), mean, atol=0.06)
    np.testing.assert_allclose(logvar.exp().numpy(), np.broadcast_to(1 / np.diag(precision), mean.shape),
                               rtol=0.15)


def test_elbo_is_below_the_exact_log_evidence_by_kl_to_the_posterior():
    x = CLICKS.toarray().astype(np.float64)
    mean, precision = exact_posterior(x)
    variance = 1 / np.diag(precision)
    mu = torch.tensor(mean, dtype=torch.float32)
    logvar = torch.tensor(np.log(np.broadcast_to(variance, mean.shape)), dtype=torch.float32)
    values = per_user_elbo(linear_decoder, CLICKS, mu, logvar, "gaussian", n_samples=20_000)
    w, b = W.double().numpy(), B.double().numpy()
    cov = w @ w.T + np.eye(N_ITEMS)  # x ~ N(b, WWᵀ + I)
    r = x - b
    log_evidence = -0.5 * (np.einsum("ui,ij,uj->u", r, np.linalg.inv(cov), r) + np.linalg.slogdet(cov)[1])
    # (both sides leave out the same −(I/2) log 2π: the Gaussian likelihood omits it)
    # KL(q ‖ p(z|x)) for q with the posterior mean and variances 1/Λ_kk: ½(log|diag Λ| − log|Λ|)
    kl_to_posterior = 0.5 * (np.log(np.diag(precision)).sum() - np.linalg.slogdet(precision)[1])
    assert np.all(values <= log_evidence + 0.05)
    np.testing.assert_allclose(values, log_evidence - kl_to_posterior, atol=0.05)


def test_per_user_elbo_is_reproducible_with_its_seed():
    mu, logvar = torch.zeros(5, LATENT), torch.zeros(5, LATENT)
    first = per_user_elbo(linear_decoder, CLICKS, mu, logvar, "logistic", n_samples=5, seed=3)
    np.testing.assert_array_equal(first, per_user_elbo(linear_decoder, CLICKS, mu, logvar,
                                                       "logistic", n_samples=5, seed=3))
    assert not np.array_equal(first, per_user_elbo(linear_decoder, CLICKS, mu, logvar,
                                                   "logistic", n_samples=5, seed=4))


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    return paper_split(table, n_heldout=40, seed=0)


def test_joint_training_raises_the_elbo_and_fold_in_leaves_the_decoder_alone(split):
    torch.manual_seed(0)
    model = PerUserVI(split.train.shape[0], split.n_items, hidden_dims=(16,), latent_dim=4)
    history = model.fit(split.train, epochs=4, batch_size=64, lr=3e-3, seed=0, progress=False)
    assert history[-1]["elbo"] > history[0]["elbo"]
    before = [p.detach().clone() for p in model.decoder.parameters()]
    mu, logvar = model.fold_in(split.test_fold_in, steps=30, seed=0)
    assert mu.shape == (split.test_fold_in.shape[0], 4)
    assert all(torch.equal(a, b) for a, b in zip(before, model.decoder.parameters()))
    start = per_user_elbo(model.decode, split.test_fold_in, torch.zeros_like(mu),
                          torch.full_like(mu, -2.0), n_samples=20)
    end = per_user_elbo(model.decode, split.test_fold_in, mu, logvar, n_samples=20)
    assert end.mean() > start.mean()
    scores = model.score(split.test_fold_in[:3])
    assert scores.shape == (3, split.n_items) and np.isfinite(scores).all()


def test_parameters_grow_with_users_but_the_decoder_does_not():
    small, large = PerUserVI(100, 50, (8,), 4), PerUserVI(1000, 50, (8,), 4)
    assert small.parameter_counts()["decoder"] == large.parameter_counts()["decoder"] == 4 * 8 + 8 + 8 * 50 + 50
    assert small.parameter_counts()["per_user"] == 100 * 2 * 4
    assert large.parameter_counts()["per_user"] == 10 * small.parameter_counts()["per_user"]


@pytest.mark.parametrize("call,error,message", [
    (lambda: PerUserVI(10, 20, latent_dim=0), ValueError, "positive whole numbers"),
    (lambda: PerUserVI(0, 20), ValueError, "n_users"),
    (lambda: PerUserVI(10, 20, likelihood="poisson"), ValueError, "Unknown likelihood"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, "gaussian", latent_dim=0), ValueError, "latent_dim"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, "gaussian"), ValueError, "give latent_dim"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, "gaussian", latent_dim=2, lr=-1), ValueError, "lr"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, "gaussian", latent_dim=2, steps=0), ValueError, "steps"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, "nope", latent_dim=2), ValueError, "Unknown likelihood"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS, init=(torch.zeros(2, 2), torch.zeros(2, 2))),
     ValueError, "one row|users × latent"),
    (lambda: fit_user_posteriors(linear_decoder, sp.csr_matrix((2, 9)), latent_dim=2), ValueError, "decoder gives"),
    (lambda: fit_user_posteriors(linear_decoder, CLICKS.toarray(), latent_dim=2), TypeError, "SciPy sparse"),
    (lambda: PerUserVI(10, 20).fit(sp.csr_matrix((10, 21))), ValueError, "built for"),
])
def test_bad_parameters(call, error, message):
    with pytest.raises(error, match=message):
        call()
