"""The plain autoencoder (AE) beside Mult-DAE and Mult-VAE."""
import pytest
import torch

from conftest import click_batch
from vaecf.data import make_synthetic, paper_split
from vaecf.models import AE, MultVAE
from vaecf.models.inputs import csr_to_torch
from vaecf.train import TrainConfig, fit


def test_same_sizes_as_mult_vae_but_a_single_code():
    ae, vae = AE(1000), MultVAE(1000)
    shapes = lambda m: [tuple(p.shape) for n, p in m.named_parameters() if n.endswith("weight")]
    assert shapes(ae) == [(1000, 600), (200, 600), (600, 200), (1000, 600)]
    assert shapes(vae)[2:] == shapes(ae)[2:] and shapes(vae)[0] == shapes(ae)[0]
    assert ae.dropout == 0 and not ae.uses_kl


def test_deterministic_even_in_training_mode():
    torch.manual_seed(0)
    model = AE(30, hidden_dims=(8,), latent_dim=3).train()
    x = csr_to_torch(click_batch())
    torch.testing.assert_close(model(x)[0], model(x)[0])


@pytest.mark.parametrize("likelihood", ["multinomial", "gaussian", "logistic"])
def test_loss_is_the_negative_log_likelihood_of_the_reconstruction(likelihood):
    torch.manual_seed(0)
    model = AE(30, hidden_dims=(8,), latent_dim=3, likelihood=likelihood, l2=0.01)
    x = csr_to_torch(click_batch())
    dense = x.to_dense()
    h = torch.tanh(model.encoder[0](torch.nn.functional.normalize(dense, dim=1)))
    z = model.encoder[1](h)
    logits = model.decoder[1](torch.tanh(model.decoder[0](z)))
    if likelihood == "multinomial":
        log_p = (torch.log_softmax(logits, -1) * dense).sum(-1)
    elif likelihood == "gaussian":
        log_p = -((dense - logits) ** 2).sum(-1) / 2
    else:
        log_p = (dense * torch.log(torch.sigmoid(logits))
                 + (1 - dense) * torch.log(1 - torch.sigmoid(logits))).sum(-1)
    penalty = 0.01 * sum((m.weight ** 2).sum() for m in (*model.encoder, *model.decoder))
    terms = model.loss(x)
    torch.testing.assert_close(terms["nll"], -log_p.mean())
    torch.testing.assert_close(terms["loss"], -log_p.mean() + penalty)
    assert terms["kl"].item() == 0


def test_ae_learns_on_synthetic_data():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    split = paper_split(table, n_heldout=40, seed=0)
    torch.manual_seed(0)
    model = AE(split.n_items, hidden_dims=(32,), latent_dim=8)
    result = fit(model, split, TrainConfig(epochs=8, batch_size=50), progress=False)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    assert model.config()["model"] == "AE"


@pytest.mark.parametrize("build,message", [
    (lambda: AE(30, latent_dim=0), "positive whole numbers"),
    (lambda: AE(30, hidden_dims=(0,)), "positive whole numbers"),
    (lambda: AE(30, likelihood="poisson"), "Unknown likelihood 'poisson'"),
    (lambda: AE(30, l2=-1.0), "must not be negative"),
    (lambda: AE(-3), "n_items"),
])
def test_bad_parameters(build, message):
    with pytest.raises(ValueError, match=message):
        build()
