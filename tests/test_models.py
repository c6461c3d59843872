import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from conftest import click_batch
from vaecf.models import MultDAE, MultVAE, Popularity, kl_to_standard_normal, reparameterise
from vaecf.models.inputs import SparseInputLinear, csr_to_torch, normalise_rows, sparse_dropout


def test_kl_closed_form_matches_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4) * 0.5
    z = reparameterise(mu.expand(200_000, 3, 4), logvar.expand(200_000, 3, 4))
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(0.0, 1.0)
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    torch.testing.assert_close(kl_to_standard_normal(mu, logvar), monte_carlo, atol=0.02, rtol=0.01)


def test_reparameterised_sample_has_the_right_moments_and_gradient():
    mu = torch.full((100_000, 1), 2.0, requires_grad=True)
    logvar = torch.full((100_000, 1), np.log(0.25), requires_grad=True)
    z = reparameterise(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert z.mean().item() == pytest.approx(2.0, abs=0.01)
    assert z.std().item() == pytest.approx(0.5, abs=0.01)
    z.sum().backward()
    assert torch.all(mu.grad == 1)


def test_sparse_input_path_equals_dense_path():
    x = click_batch()
    sparse, dense = csr_to_torch(x), torch.from_numpy(x.toarray())
    torch.testing.assert_close(normalise_rows(sparse).to_dense(), normalise_rows(dense))
    torch.manual_seed(0)
    model = MultVAE(30, hidden_dims=(8,), latent_dim=3).eval()
    torch.testing.assert_close(model(sparse)[0], model(dense)[0])


def test_sparse_input_layer_gradients_equal_the_dense_product():
    torch.manual_seed(0)
    layer = SparseInputLinear(30, 5)
    torch.nn.init.normal_(layer.weight)
    x = click_batch()
    x.data = np.arange(1, x.nnz + 1, dtype=np.float32) / 10  # weighted, not just 0/1
    upstream = torch.randn(x.shape[0], 5)
    (layer(csr_to_torch(x)) * upstream).sum().backward()
    sparse_grads = [layer.weight.grad.clone(), layer.bias.grad.clone()]
    layer.zero_grad()
    dense = torch.from_numpy(x.toarray())
    (layer(dense) * upstream).sum().backward()
    torch.testing.assert_close(sparse_grads, [layer.weight.grad, layer.bias.grad])
    torch.testing.assert_close(layer.weight.grad, dense.t() @ upstream)  # ∂/∂W of x W + b
    assert sparse_grads[0][dense.sum(0) == 0].abs().max() == 0  # unclicked items untouched


def test_sparse_input_layer_backward_matches_pytorchs_embedding_bag():
    """The layer's own weight gradient (a second embedding bag over the clicks sorted by
    item) equals PyTorch's embedding-bag backward, including for items clicked by many
    users and a batch whose size is not a round number; the gradient of the click values
    is checked against finite differences."""
    torch.manual_seed(4)
    rng = np.random.default_rng(4)
    dense = (rng.random((37, 60)) < np.linspace(0.9, 0.02, 60)).astype(np.float32)
    x = csr_to_torch(sp.csr_matrix(dense * rng.random(dense.shape).astype(np.float32)))
    rows, items = x.indices()
    per_user = torch.bincount(rows, minlength=x.shape[0])
    offsets = torch.cumsum(per_user, 0) - per_user
    weight = torch.randn(60, 9, requires_grad=True)
    upstream = torch.randn(37, 9)
    F.embedding_bag(items, weight, offsets, mode="sum", per_sample_weights=x.values()).backward(upstream)
    want, weight.grad = weight.grad, None
    layer = SparseInputLinear(60, 9)
    with torch.no_grad():
        layer.weight.copy_(weight)
    (layer(x) * upstream).sum().backward()
    torch.testing.assert_close(layer.weight.grad, want, rtol=1e-6, atol=1e-6)
    values = x.values().double().requires_grad_()
    layer64 = SparseInputLinear(60, 9).double()
    torch.nn.init.normal_(layer64.weight)  # the layer leaves its weight to the model's init
    torch.autograd.gradcheck(lambda v: layer64(torch.sparse_coo_tensor(
        x.indices(), v, x.shape, is_coalesced=True)), (values,))


def test_input_layer_is_initialised_like_the_other_layers():
    torch.manual_seed(3)
    weight = MultVAE(4000, hidden_dims=(50,), latent_dim=3).encoder[0].weight
    bound = (6 / (4000 + 50)) ** 0.5  # Xavier/Glorot uniform
    assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
    assert weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.02)


def test_dropout_touches_only_clicks_and_rescales():
    x = csr_to_torch(sp.csr_matrix(np.ones((200, 100), dtype=np.float32)))
    torch.manual_seed(0)
    dropped = sparse_dropout(x, 0.5, training=True).to_dense()
    assert set(dropped.unique().tolist()) == {0.0, 2.0}
    assert dropped.mean().item() == pytest.approx(1.0, abs=0.02)
    assert torch.equal(sparse_dropout(x, 0.5, training=False).to_dense(), x.to_dense())


@pytest.mark.parametrize("model_class", [MultVAE, MultDAE])
def test_shapes_and_loss_gradients(model_class):
    torch.manual_seed(0)
    model = model_class(30, hidden_dims=(8,))
    x = csr_to_torch(click_batch())
    terms = model.loss(x, beta=0.2)
    assert terms["loss"].shape == ()
    terms["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    scores = model.score(click_batch())
    assert scores.shape == (6, 30) and np.isfinite(scores).all()


def test_paper_architecture():
    vae = MultVAE(1000)
    shapes = [tuple(p.shape) for name, p in vae.named_parameters() if name.endswith("weight")]
    assert shapes == [(1000, 600), (400, 600), (600, 200), (1000, 600)]  # the input layer: items × hidden
    dae = MultDAE(1000)
    assert [tuple(p.shape) for n, p in dae.named_parameters() if n.endswith("weight")] == [(1000, 200), (1000, 200)]
    assert dae.l2 == pytest.approx(0.01 / 500)


def test_vae_loss_is_negative_beta_elbo():
    torch.manual_seed(0)
    model = MultVAE(30, hidden_dims=(8,), latent_dim=3).eval()  # z = μ, no dropout
    x = csr_to_torch(click_batch())
    logits, mu, logvar = model(x)
    nll = -(torch.log_softmax(logits, -1) * x.to_dense()).sum(-1).mean()
    kl = kl_to_standard_normal(mu, logvar).mean()
    terms = model.loss(x, beta=0.3)
    torch.testing.assert_close(terms["loss"], nll + 0.3 * kl)


def test_scoring_is_deterministic_and_uses_the_mean():
    torch.manual_seed(0)
    model = MultVAE(30, hidden_dims=(8,), latent_dim=3)
    np.testing.assert_array_equal(model.score(click_batch()), model.score(click_batch()))
    assert model.training  # score() restores the mode it found


def test_popularity_scores_training_counts():
    train = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 0, 1]], dtype=np.float32))
    scores = Popularity().fit(train).score(sp.csr_matrix((2, 3)))
    np.testing.assert_array_equal(scores, [[3, 1, 2], [3, 1, 2]])


@pytest.mark.parametrize("build,message", [
    (lambda: MultVAE(30, latent_dim=0), "positive whole numbers"),
    (lambda: MultVAE(0), "n_items"),
    (lambda: MultDAE(30, hidden_dims=(-5,)), "positive whole numbers"),
    (lambda: MultVAE(30, dropout=1.0), "dropout"),
    (lambda: MultDAE(30, l2=-0.1), "must not be negative"),
    (lambda: MultVAE(30, likelihood="poisson"), "Unknown likelihood 'poisson'"),
])
def test_bad_parameters(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_wrong_item_count_and_dense_input():
    model = MultVAE(30, hidden_dims=(8,), latent_dim=3)
    with pytest.raises(ValueError, match="built for 30"):
        model.score(click_batch(n_items=31))
    with pytest.raises(TypeError, match="SciPy sparse"):
        model.score(click_batch().toarray())


NO_SPARSE_WARNING = """
import warnings
import numpy as np, scipy.sparse as sp, torch
from vaecf.models import MultVAE
from vaecf.models.inputs import csr_to_torch
warnings.simplefilter("error")  # any warning fails the run
clicks = sp.random(20, 30, density=0.2, format="csr", dtype=np.float32, random_state=0)
clicks.data[:] = 1
MultVAE(30).train().loss(csr_to_torch(clicks), 0.2)["loss"].backward()
print(torch.sparse.check_sparse_tensor_invariants.is_enabled())
"""


def test_the_sparse_input_path_warns_nothing_and_keeps_the_users_setting():
    """A fresh process (torch warns once per process): building the batch, normalising,
    dropout and a loss step print no warning (torch 2.11 warned on the first sparse
    tensor), and leave the user's own invariant-check setting as it was."""
    import subprocess
    import sys

    user = "import torch; torch.sparse.check_sparse_tensor_invariants.{}()\n"
    for prelude, setting in (("", "False"), (user.format("enable"), "True"),
                             (user.format("disable"), "False")):
        run = subprocess.run([sys.executable, "-c", prelude + NO_SPARSE_WARNING],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and run.stderr == "", run.stderr
        assert run.stdout.strip() == setting
