import numpy as np
import pytest
import torch

from vaecf.toys.latent_toy import elbo_quadrature, grid_posterior, make_toy_model
from vaecf.toys.elbo_gaps import (GapDecomposition, best_gaussians, draw_toy_users, elbo_quadrature_batch,
                            fit_toy_encoder, gap_decomposition)


@pytest.fixture(scope="module")
def model():
    return make_toy_model(n_items=6, hidden=8, scale=3.0, seed=2)


def test_batched_quadrature_matches_the_single_user_one(model):
    x = draw_toy_users(model, 3, 8, seed=0)
    mu = torch.tensor([[0.0, 0.0], [-1.0, 0.5], [0.3, 1.2]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, 0.0], [-1.0, -0.5], [-2.0, 0.3]], dtype=torch.float64)
    batch = elbo_quadrature_batch(model, x, mu, logvar, n_points=60)
    for u in range(3):
        single = elbo_quadrature(model, x[u].numpy(), mu[u], logvar[u], n_points=60)
        assert batch[u].item() == pytest.approx(single.item(), abs=1e-9)


def test_users_are_drawn_with_the_asked_clicks_and_seed(model):
    x = draw_toy_users(model, 5, 8, seed=1)
    assert x.shape == (5, 6) and (x.sum(1) == 8).all()
    assert torch.equal(x, draw_toy_users(model, 5, 8, seed=1))


def test_per_user_vi_is_never_worse_than_its_starts_and_below_the_evidence(model):
    x = draw_toy_users(model, 4, 8, seed=2)
    start = (torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))
    _, _, best = best_gaussians(model, x, [start], steps=60)
    at_start = elbo_quadrature_batch(model, x, *start, n_points=60)
    assert (best >= at_start).all() and (best > at_start + 0.1).any()
    evidence = np.array([grid_posterior(model, row.numpy(), n=241).log_evidence for row in x])
    assert (best.numpy() <= evidence + 1e-3).all()  # an ELBO never exceeds log p(x)


def test_a_trained_encoder_beats_the_prior_on_new_users(model):
    encoder = fit_toy_encoder(model, draw_toy_users(model, 100, 8, seed=3), steps=120)
    test = draw_toy_users(model, 50, 8, seed=4)
    with torch.no_grad():
        amortised = elbo_quadrature_batch(model, test, *encoder(test))
        prior = elbo_quadrature_batch(model, test, torch.zeros(50, 2, dtype=torch.float64),
                                      torch.zeros(50, 2, dtype=torch.float64))
    assert amortised.mean() > prior.mean() + 1


def test_both_gaps_are_non_negative_and_add_up(model):
    gaps = gap_decomposition(model, n_train=60, n_test=6, encoder_steps=60, vi_steps=60)
    assert (gaps.approximation_gap > -1e-3).all()  # grid and quadrature errors only
    assert (gaps.amortisation_gap >= 0).all()  # the encoder's q is itself a candidate for q*
    np.testing.assert_allclose(gaps.approximation_gap + gaps.amortisation_gap,
                               gaps.log_evidence - gaps.elbo_encoder)
    with pytest.raises(ValueError, match="steps"):
        fit_toy_encoder(model, draw_toy_users(model, 5, 8, seed=0), steps=0)


def test_gap_summaries_on_hand_made_gaps():
    gaps = GapDecomposition(log_evidence=np.array([0.0, 0.0, 0.0]), elbo_best=np.array([-1.0, -2.0, -6.0]),
                            elbo_encoder=np.array([-1.5, -2.5, -8.0]))
    # approximation gaps 1, 2, 6 (mean 3, median 2); amortisation gaps 0.5, 0.5, 2 (mean 1, median 0.5)
    assert gaps.ratio(np.mean) == pytest.approx(1 / 3) and gaps.ratio(np.median) == pytest.approx(0.25)
    assert gaps.nonnegative()
    assert gaps.describe().splitlines() == ["  approximation gap: mean 3.000 nats, median 2.000",
                                            "  amortisation gap:  mean 1.000 nats, median 0.500"]
    below = GapDecomposition(np.zeros(2), np.array([0.0005, -1.0]), np.array([-1.0, -2.0]))
    assert below.nonnegative(tolerance=1e-3) and not below.nonnegative(tolerance=1e-4)
    encoder_above = GapDecomposition(np.zeros(2), np.array([-1.0, -1.0]), np.array([-0.9, -2.0]))
    assert not encoder_above.nonnegative()
