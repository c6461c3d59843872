import numpy as np
import pytest
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.models import MultDAE, MultVAE
from vaecf.models.amortisation import amortisation_gap
from vaecf.train import TrainConfig, fit


@pytest.fixture(scope="module")
def trained():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    split = paper_split(table, n_heldout=40, seed=0)
    torch.manual_seed(0)
    model = MultVAE(split.n_items, hidden_dims=(32,), latent_dim=8)
    fit(model, split, TrainConfig(epochs=10, batch_size=50, beta_cap=1.0, seed=0), progress=False)
    return model, split


def test_gap_is_non_negative_up_to_monte_carlo_noise(trained):
    model, split = trained
    result = amortisation_gap(model, split.test_fold_in, beta=1.0, steps=150, lr=0.02,
                              eval_samples=400, seed=0)
    users = split.test_fold_in.shape[0]
    assert result.amortised.shape == result.per_user.shape == (users,)
    np.testing.assert_allclose(result.per_user, np.maximum(result.from_encoder, result.from_prior))
    np.testing.assert_allclose(result.gap, result.per_user - result.amortised)
    assert 0 <= result.share_prior_start_better <= 1
    # Each ELBO is a 400-draw average; their difference shares the draws, so its noise is
    # far below one nat. Per-user VI started from the encoder's q may not end below it.
    assert result.gap.min() > -0.5
    assert result.gap.mean() > 0
    assert result.per_user_seconds > result.encoder_seconds > 0
    assert model.training is False  # the mode it was in (fit leaves it in eval mode)


def test_no_steps_budget_means_no_gap(trained):
    model, split = trained
    # With a tiny learning rate per-user VI stays at the encoder's q: the gap is ~0.
    result = amortisation_gap(model, split.test_fold_in[:10], beta=1.0, steps=1, lr=1e-6,
                              eval_samples=50)
    np.testing.assert_allclose(result.from_encoder, result.amortised, atol=1e-3)
    # ... while one tiny step from the prior is far worse than the encoder: the better start wins
    assert (result.from_prior < result.amortised - 1).all()
    np.testing.assert_allclose(result.gap, 0.0, atol=1e-3)


def test_the_gap_is_measured_at_the_beta_asked_for(trained):
    """The same q's under β = 0.2 and β = 1 differ by 0.8·KL(q‖p) for the encoder's q."""
    from vaecf.models import kl_to_standard_normal
    from vaecf.models.inputs import csr_to_torch

    model, split = trained
    clicks = split.test_fold_in[:10]
    low = amortisation_gap(model, clicks, beta=0.2, steps=1, lr=1e-6, eval_samples=50, seed=3)
    high = amortisation_gap(model, clicks, beta=1.0, steps=1, lr=1e-6, eval_samples=50, seed=3)
    with torch.no_grad():
        kl = kl_to_standard_normal(*model.encode(csr_to_torch(clicks, model.device))).numpy()
    np.testing.assert_allclose(low.amortised - high.amortised, 0.8 * kl, rtol=1e-4, atol=1e-4)
    assert low.beta == 0.2
    with pytest.raises(ValueError, match="beta"):
        amortisation_gap(model, clicks, beta=-1.0)


def test_needs_an_encoder(trained):
    _, split = trained
    with pytest.raises(TypeError, match="needs a Mult-VAE"):
        amortisation_gap(MultDAE(split.n_items), split.test_fold_in, beta=0.2)
    with pytest.raises(TypeError, match="SciPy sparse"):
        amortisation_gap(trained[0], split.test_fold_in.toarray(), beta=0.2)


def test_refinement_ndcg_ranks_with_the_encoders_and_the_refined_codes(trained):
    from vaecf.metrics import evaluate, exclude_fold_in, ndcg_at_k
    from vaecf.models.amortisation import refinement_ndcg
    from vaecf.models.inputs import csr_to_torch
    from vaecf.models.per_user_vi import fit_user_posteriors

    model, split = trained
    model.train()
    clicks, target = split.test_fold_in[:20], split.test_target[:20]
    encoder, refined = refinement_ndcg(model, clicks, target, beta=0.5, steps=30, seed=2)
    assert model.training  # the mode it was in
    model.eval()
    np.testing.assert_allclose(encoder, evaluate(model.score, clicks, target, ks_recall=())["ndcg@100"],
                               atol=1e-6)
    with torch.no_grad():
        mu, logvar = model.encode(csr_to_torch(clicks, model.device))
    mu_star, _ = fit_user_posteriors(model.decode, clicks, init=(mu, logvar), steps=30, beta=0.5,
                                     lr=0.01, seed=2)
    with torch.no_grad():
        expected = ndcg_at_k(exclude_fold_in(model.decode(mu_star).numpy(), clicks), target, 100)
    np.testing.assert_allclose(refined, expected)
    assert not np.allclose(mu_star, mu)  # the refinement moved the codes
    with pytest.raises(ValueError, match="same users"):
        refinement_ndcg(model, clicks, split.test_target[:10], beta=0.5)


def test_relative_gap_and_share_nonnegative_by_hand():
    from vaecf.models.amortisation import AmortisationGap

    gap = AmortisationGap(beta=0.2, amortised=np.array([-100.0, -50.0, -10.0, -20.0]),
                          from_encoder=np.array([-99.0, -50.04, -10.2, -19.0]),
                          from_prior=np.array([-101.0, -60.0, -10.1, -25.0]),
                          encoder_seconds=0.1, per_user_seconds=5.0)
    # gaps: 1, -0.04, -0.1, 1
    np.testing.assert_allclose(gap.relative, [0.01, -0.0008, -0.01, 0.05])
    assert gap.share_nonnegative() == pytest.approx(0.75)
    assert gap.share_nonnegative(tolerance=0.2) == 1.0 and gap.share_nonnegative(tolerance=0.0) == 0.5
