import numpy as np
import pytest
import torch

from vaecf.likelihoods import gaussian, get_likelihood, logistic, multinomial
from vaecf.models.inputs import csr_to_torch
import scipy.sparse as sp

LOGITS = torch.tensor([[2.0, -1.0, 0.5, 0.0], [0.1, 0.2, -3.0, 1.0]], dtype=torch.float64)
X = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 1.0]], dtype=torch.float64)


def _direct(name, f, x):
    f, x = f.numpy(), x.numpy()
    if name == "multinomial":
        pi = np.exp(f) / np.exp(f).sum(1, keepdims=True)
        return (x * np.log(pi)).sum(1)
    if name == "gaussian":
        return -((x - f) ** 2).sum(1) / 2
    sigma = 1 / (1 + np.exp(-f))
    return (x * np.log(sigma) + (1 - x) * np.log(1 - sigma)).sum(1)


@pytest.mark.parametrize("name", ["multinomial", "gaussian", "logistic"])
def test_value_matches_the_direct_formula(name):
    np.testing.assert_allclose(get_likelihood(name)(LOGITS, X).numpy(), _direct(name, LOGITS, X))


@pytest.mark.parametrize("fn", [multinomial, gaussian, logistic])
def test_gradient_matches_finite_differences(fn):
    f = LOGITS.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: fn(t, X), (f,))


def test_multinomial_gradient_is_x_minus_n_pi():
    f = LOGITS.clone().requires_grad_(True)
    multinomial(f, X).sum().backward()
    pi = torch.softmax(LOGITS, -1)
    torch.testing.assert_close(f.grad, X - X.sum(1, keepdim=True) * pi)


def test_sparse_multinomial_gradient_matches_finite_differences_and_x_minus_n_pi():
    counts = X * torch.tensor([[2.0], [1.0]], dtype=torch.float64)  # repeated clicks too
    sparse = csr_to_torch(sp.csr_matrix(counts.numpy())).double()
    f = LOGITS.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: multinomial(t, sparse), (f,))
    upstream = torch.tensor([0.5, -2.0], dtype=torch.float64)
    (multinomial(f, sparse) * upstream).sum().backward()
    pi = torch.softmax(LOGITS, -1)
    expected = (counts - counts.sum(1, keepdim=True) * pi) * upstream[:, None]
    torch.testing.assert_close(f.grad, expected)


def test_sparse_and_dense_clicks_agree():
    sparse = csr_to_torch(sp.csr_matrix(X.numpy())).double()
    for fn in (multinomial, gaussian, logistic):
        torch.testing.assert_close(fn(LOGITS, sparse), fn(LOGITS, X))


def test_stable_for_extreme_logits():
    f = torch.tensor([[1000.0, -1000.0, 0.0]])
    x = torch.tensor([[1.0, 0.0, 1.0]])
    for fn in (multinomial, logistic):
        assert torch.isfinite(fn(f, x)).all()


def test_confidence_weights_clicks_in_the_gaussian():
    np.testing.assert_allclose(gaussian(LOGITS, X, confidence=3.0).numpy(),
                               -(((1 + 2 * X) * (X - LOGITS) ** 2).sum(1) / 2).numpy())


def test_unknown_likelihood():
    with pytest.raises(ValueError, match="choose one of"):
        get_likelihood("bernoulli")


def test_gaussian_and_logistic_gradients_match_their_formulas():
    f = LOGITS.clone().requires_grad_(True)
    gaussian(f, X, confidence=2.0).sum().backward()
    torch.testing.assert_close(f.grad, (1 + X) * (X - LOGITS))  # c (x − f), c = 2 on clicks
    f = LOGITS.clone().requires_grad_(True)
    logistic(f, X).sum().backward()
    torch.testing.assert_close(f.grad, X - torch.sigmoid(LOGITS))  # x − σ(f)
