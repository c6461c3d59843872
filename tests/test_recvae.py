import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.stats import multivariate_normal

from vaecf.data import load_dataset, paper_split
from vaecf.models import RecVAE
from vaecf.models.gaussian import kl_to_standard_normal, reparameterise
from vaecf.models.inputs import csr_to_torch, normalise_rows
from vaecf.models.recvae import PRIOR_WEIGHTS, WIDE_LOGVAR, composite_prior_log_density, composite_prior_on_a_line
from vaecf.train import TrainConfig, _train_phases, fit, make_optimiser, train_epoch


def _clicks(n_users=12, n_items=30, seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.3).astype(np.float32)
    dense[:, 0] = 1.0  # nobody without a click
    return sp.csr_matrix(dense)


def test_composite_prior_density_is_the_weighted_mixture_of_three_gaussians():
    rng = np.random.default_rng(1)
    z, old_mu = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    old_logvar = rng.normal(scale=0.5, size=(5, 3))
    ours = composite_prior_log_density(*(torch.tensor(a) for a in (z, old_mu, old_logvar))).numpy()
    for row in range(5):
        density = (PRIOR_WEIGHTS[0] * multivariate_normal(np.zeros(3), np.eye(3)).pdf(z[row])
                   + PRIOR_WEIGHTS[1] * multivariate_normal(old_mu[row], np.diag(np.exp(old_logvar[row]))).pdf(z[row])
                   + PRIOR_WEIGHTS[2] * multivariate_normal(np.zeros(3), math.exp(WIDE_LOGVAR) * np.eye(3)).pdf(z[row]))
        assert ours[row] == pytest.approx(math.log(density), rel=1e-9)


def test_composite_prior_integrates_to_one():
    z, density, mass = composite_prior_on_a_line(1.5, -1.0, half_width=800.0, points=400_001)
    assert mass == pytest.approx(1.0, abs=1e-4)
    assert z[0] == -800.0 and z[-1] == 800.0 and density.shape == z.shape
    assert torch.trapezoid(density, z).item() == mass


def test_the_line_density_is_the_composite_prior_and_a_short_line_misses_the_wide_mass():
    z, density, mass = composite_prior_on_a_line(0.5, 0.2, half_width=5.0, points=1001)
    expected = composite_prior_log_density(z[:, None], torch.full((1001, 1), 0.5, dtype=torch.float64),
                                           torch.full((1001, 1), 0.2, dtype=torch.float64)).exp()
    assert torch.allclose(density, expected)
    # within ±5 only the two narrow components' 9/10 and a sliver of the wide one lie
    assert 0.9 < mass < 0.93


def test_the_one_sample_kl_estimate_averages_to_the_closed_form_under_a_standard_normal():
    torch.manual_seed(0)
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[-0.3, 0.4]])
    z = reparameterise(mu.expand(200_000, 2), logvar.expand(200_000, 2))
    from vaecf.models.recvae import gaussian_log_density
    log_q = gaussian_log_density(z, mu, logvar)
    log_p = composite_prior_log_density(z, torch.zeros_like(z), torch.zeros_like(z),
                                        weights=(1.0, 0.0, 0.0))
    assert (log_q - log_p).mean().item() == pytest.approx(kl_to_standard_normal(mu, logvar).item(),
                                                          abs=0.01)


def test_shapes_and_kl_weights_scale_with_each_users_clicks():
    clicks = _clicks()
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=3, gamma=0.01)
    x = csr_to_torch(clicks)
    logits, mu, logvar, z = model(x)
    assert logits.shape == (12, 30) and mu.shape == logvar.shape == z.shape == (12, 4)
    assert torch.allclose(model.kl_weights(x, beta=0.7),
                          0.01 * torch.tensor(np.asarray(clicks.sum(axis=1)).ravel()))
    off = RecVAE(30, hidden=16, latent_dim=4, user_beta=False)
    assert off.kl_weights(x, beta=0.7) == 0.7 and off.uses_kl
    assert model.score(clicks).shape == (12, 30)


def test_without_the_composite_prior_the_kl_is_mult_vaes_closed_form():
    model = RecVAE(30, hidden=16, latent_dim=4, composite_prior=False).train()
    x = csr_to_torch(_clicks())
    _, mu, logvar, z = model(x)
    assert torch.equal(model.kl_terms(x, mu, logvar, z), kl_to_standard_normal(mu, logvar))


def _parameters(module):
    return [p.detach().clone() for p in module.parameters()]


def _same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_each_phase_updates_only_its_own_part():
    clicks = _clicks()
    torch.manual_seed(0)
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=2).train()
    optimiser = make_optimiser(model, 1e-2)
    config = TrainConfig(epochs=1, batch_size=5)
    for phase, moves, stays in (("encoder", model.encoder, model.decoder),
                                ("decoder", model.decoder, model.encoder)):
        model.start_phase(phase)
        before_moves, before_stays = _parameters(moves), _parameters(stays)
        train_epoch(model, clicks, optimiser, np.arange(12), config)
        assert not _same(before_moves, _parameters(moves)), phase
        assert _same(before_stays, _parameters(stays)), phase


def test_an_epoch_is_three_encoder_passes_then_one_decoder_pass_then_the_prior_moves(monkeypatch):
    import vaecf.train as train

    clicks = _clicks()
    torch.manual_seed(0)
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=2).train()
    phases = []
    real = train.train_epoch

    def recording(model, *args, **kwargs):
        phases.append(model.phase)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(train, "train_epoch", recording)
    prior_before = _parameters(model.prior_encoder)
    _train_phases(model, clicks, make_optimiser(model, 1e-2), np.random.default_rng(0),
                  TrainConfig(epochs=1, batch_size=5), 0, 10, 1)
    assert phases == ["encoder"] * 3 + ["decoder"]
    assert not _same(prior_before, _parameters(model.prior_encoder))
    assert _same(_parameters(model.encoder), _parameters(model.prior_encoder))
    assert model.phase == "joint" and all(p.requires_grad for p in model.encoder.parameters())
    assert not any(p.requires_grad for p in model.prior_encoder.parameters())

    phases.clear()
    joint = RecVAE(30, hidden=16, latent_dim=4, alternating=False).train()
    _train_phases(joint, clicks, make_optimiser(joint, 1e-2), np.random.default_rng(0),
                  TrainConfig(epochs=1, batch_size=5), 0, 10, 1)
    assert phases == ["joint"]


def _record_encoder_runs(monkeypatch, model) -> list:
    """Each later call of the model's encoders, as ``(ran the previous epoch's, batch rows)``."""
    runs, real = [], model._encode_with

    def recording(encoder, h):
        runs.append((encoder is model.prior_encoder, h.shape[0]))
        return real(encoder, h)

    monkeypatch.setattr(model, "_encode_with", recording)
    return runs


def test_a_decoder_pass_leaves_out_the_kl_term_and_the_decoder_gets_the_same_gradient(monkeypatch):
    x = csr_to_torch(_clicks())
    torch.manual_seed(0)
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=2).train()
    model.start_phase("decoder")

    def gradients(loss_terms):
        model.zero_grad(set_to_none=True)
        loss_terms["loss"].backward()
        return [p.grad.clone() for p in model.decoder.parameters()]

    torch.manual_seed(1)
    logits, mu, logvar, z = model(x)
    kl = model.kl_terms(x, mu, logvar, z)
    with_kl = {"loss": -model.likelihood(logits, x).mean() + (model.kl_weights(x, 0.0) * kl).mean()}
    assert kl.abs().sum() > 0
    expected = gradients(with_kl)

    runs = _record_encoder_runs(monkeypatch, model)
    torch.manual_seed(1)
    terms = model.loss(x)
    # only the trained encoder ran, not the previous epoch's
    assert [prior for prior, _ in runs] == [False]
    assert terms["kl"].item() == 0 and terms["loss"].item() == terms["nll"].item()
    for ours, theirs in zip(gradients(terms), expected):
        assert torch.equal(ours, theirs)


def test_the_encoder_passes_read_the_previous_epochs_prior_from_a_table(monkeypatch):
    clicks = _clicks(n_users=23)
    x = csr_to_torch(clicks)
    torch.manual_seed(0)
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=2).train()
    model.start_phase("encoder")
    model.remember_prior(clicks, batch_size=5)
    on_the_fly = torch.cat(model._encode_with(model.prior_encoder, normalise_rows(x)), dim=1)
    torch.testing.assert_close(model._prior_table, on_the_fly, rtol=1e-6, atol=1e-6)

    torch.manual_seed(1)
    from_scratch = model.loss(x)["kl"]
    runs = _record_encoder_runs(monkeypatch, model)
    torch.manual_seed(1)
    users = np.arange(23)
    from_table = model.loss(x, users=users)["kl"]
    assert [prior for prior, _ in runs] == [False]  # the previous epoch's encoder did not run
    torch.testing.assert_close(from_table, from_scratch, rtol=1e-5, atol=1e-5)
    some = np.random.default_rng(0).permutation(23)[:9]  # a batch of users in any order
    batch = csr_to_torch(clicks[some])
    mu, logvar = model._encode_with(model.encoder, normalise_rows(batch))
    z = torch.randn(9, 4)
    torch.testing.assert_close(model.kl_terms(batch, mu, logvar, z, users=some),
                               model.kl_terms(batch, mu, logvar, z), rtol=1e-5, atol=1e-5)

    model.end_epoch()
    assert model._prior_table is None  # the prior moved: the table is stale
    for phase, switches in (("decoder", {}), ("joint", {}), ("encoder", {"composite_prior": False})):
        other = RecVAE(30, hidden=16, latent_dim=4, n_layers=2, **switches)
        other.start_phase(phase)
        other.remember_prior(clicks)
        assert other._prior_table is None, (phase, switches)


def test_a_training_epoch_builds_the_table_once_before_the_encoder_passes(monkeypatch):
    clicks = _clicks()
    torch.manual_seed(0)
    model = RecVAE(30, hidden=16, latent_dim=4, n_layers=2).train()
    runs = _record_encoder_runs(monkeypatch, model)
    _train_phases(model, clicks, make_optimiser(model, 1e-2), np.random.default_rng(0),
                  TrainConfig(epochs=1, batch_size=5), 0, 10, 1)
    # the 12 users once, in the training batch size
    assert [rows for prior, rows in runs if prior] == [5, 5, 2]
    assert model._prior_table is None


def test_no_input_dropout_while_the_decoder_learns():
    model = RecVAE(30, hidden=16, latent_dim=4).train()
    x = csr_to_torch(_clicks())
    model.start_phase("decoder")
    assert torch.equal(model.prepare_input(x).to_dense(), model.prepare_input(x).to_dense())
    model.start_phase("encoder")
    assert not torch.equal(model.prepare_input(x).to_dense(), model.prepare_input(x).to_dense())


def test_switches_are_checked_and_recorded():
    with pytest.raises(ValueError, match="encoder must be 'dense' or 'mlp'"):
        RecVAE(30, encoder="cnn")
    with pytest.raises(ValueError, match="gamma"):
        RecVAE(30, gamma=0)
    config = RecVAE(30, hidden=8, latent_dim=2, composite_prior=False, encoder="mlp").config()
    assert config["composite_prior"] is False and config["encoder"] == "mlp"


def test_training_is_seeded_and_stops_on_a_validation_plateau():
    table, _ = load_dataset("synthetic", size="tiny", seed=5)
    split = paper_split(table, n_heldout=20, seed=5)
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        model = RecVAE(split.n_items, hidden=32, latent_dim=8, n_layers=2)
        runs.append(fit(model, split, TrainConfig(seed=2, patience=3, batch_size=50),
                        progress=False))
    assert [h["val_ndcg@100"] for h in runs[0].history] == [h["val_ndcg@100"] for h in runs[1].history]
    assert runs[0].converged and runs[0].epochs_run < runs[0].budget_epochs
    assert runs[0].best_score > 0


def test_reproduce_runs_recvae_when_asked_and_only_with_the_multinomial():
    from vaecf.experiments.reproduce import prepare_data, run_models

    data = prepare_data("synthetic", size="tiny", seed=3)
    results, histories = run_models(data, epochs=1, models="RecVAE", progress=False)
    assert list(results["models"]) == ["RecVAE"] and len(histories["RecVAE"]) == 1
    assert results["models"]["RecVAE"]["model_config"]["composite_prior"] is True
    with pytest.raises(ValueError, match="only the multinomial"):
        run_models(data, epochs=1, models="RecVAE", likelihood="gaussian", progress=False)
