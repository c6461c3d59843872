import numpy as np
import pytest
import scipy.sparse as sp
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.metrics import evaluate
from vaecf.models import EASE, WMF, Popularity
from vaecf.models.inputs import csr_to_torch


def _clicks(n_users=40, n_items=25, density=0.2, seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < density).astype(np.float32)
    dense[0] = 0  # a user with no clicks must still get a solution
    return sp.csr_matrix(dense)


def _naive_user_solve(x, items, l2, alpha):
    """Hu et al.'s eq. (4) for one user, with the full confidence matrix C_u."""
    c = np.diag(1 + alpha * x)
    k = items.shape[1]
    return np.linalg.solve(items.T @ c @ items + l2 * np.eye(k), items.T @ c @ (x > 0))


def test_batched_solve_matches_the_per_user_formula():
    x = _clicks()
    items = np.random.default_rng(1).normal(size=(25, 4))
    model = WMF(n_factors=4, l2=0.5, alpha=7.0, batch_elements=300)  # forces many small batches
    got = model.solve(x, torch.from_numpy(items)).numpy()
    want = np.stack([_naive_user_solve(row, items, 0.5, 7.0) for row in x.toarray()])
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_batching_does_not_change_the_fit():
    x = _clicks()
    small = WMF(3, iterations=3, batch_elements=400).fit(x)
    large = WMF(3, iterations=3).fit(x)
    torch.testing.assert_close(small.item_factors, large.item_factors, rtol=1e-4, atol=1e-5)


def test_als_objective_never_increases_and_matches_direct_formula():
    x = _clicks(seed=3)
    model = WMF(n_factors=5, l2=0.1, alpha=4.0, iterations=6).fit(x)
    losses = np.array(model.loss_history)
    assert np.all(np.diff(losses) <= 1e-3 * losses[:-1])
    u, v = model.user_factors.double().numpy(), model.item_factors.double().numpy()
    d = x.toarray()
    direct = ((1 + 4.0 * d) * (d - u @ v.T) ** 2).sum() + 0.1 * ((u ** 2).sum() + (v ** 2).sum())
    assert losses[-1] == pytest.approx(direct, rel=1e-4)


def test_objective_is_the_same_in_chunks_and_the_cpu_budget_is_cache_sized():
    x = _clicks(seed=3)
    whole = WMF(n_factors=5, l2=0.1, alpha=4.0, iterations=2).fit(x)
    assert whole.batch_elements == 1_000_000  # the CPU default; a GPU gets 20,000,000
    clicked = csr_to_torch(x).indices()
    tiny = WMF(n_factors=5, l2=0.1, alpha=4.0, batch_elements=7)  # 1 click a chunk
    assert tiny._objective(clicked, whole.user_factors, whole.item_factors) == pytest.approx(
        whole.loss_history[-1], rel=1e-6)


def test_fold_in_is_the_closed_form_solve_with_items_fixed():
    x = _clicks(seed=4)
    model = WMF(n_factors=4, l2=2.0, alpha=3.0, iterations=2).fit(x[5:])
    new_users = x[:5]
    items = model.item_factors.double().numpy()
    want = np.stack([_naive_user_solve(row, items, 2.0, 3.0) for row in new_users.toarray()])
    np.testing.assert_allclose(model.fold_in(new_users).double().numpy(), want, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(model.score(new_users), want @ items.T, rtol=1e-3, atol=1e-5)


def _ease_by_regressions(x, l2):
    """EASE column by column: ridge-regress item j on every other item (Steck 2019, eq. 1)."""
    g = (x.T @ x).toarray().astype(np.float64)
    n = g.shape[0]
    b = np.zeros((n, n))
    for j in range(n):
        others = np.arange(n) != j
        b[others, j] = np.linalg.solve(g[np.ix_(others, others)] + l2 * np.eye(n - 1), g[others, j])
    return b


def test_ease_matches_per_item_ridge_regressions():
    x = _clicks(n_users=60, n_items=12, density=0.3)
    model = EASE(l2=3.0).fit(x)
    np.testing.assert_allclose(model.weights.numpy(), _ease_by_regressions(x, 3.0), atol=1e-5)
    assert np.all(np.diag(model.weights.numpy()) == 0)
    np.testing.assert_allclose(model.score(x[:4]), x[:4].toarray() @ model.weights.numpy(), atol=1e-5)


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=0)
    return paper_split(table, n_heldout=40, seed=0)


def _ndcg(model, split):
    return evaluate(model.score, split.test_fold_in, split.test_target)["ndcg@100"].mean()


def test_linear_models_beat_popularity_on_synthetic_data(split):
    floor = _ndcg(Popularity().fit(split.train), split)
    assert _ndcg(WMF(n_factors=10, l2=10.0, alpha=5.0, iterations=5).fit(split.train), split) > floor
    assert _ndcg(EASE(l2=50.0).fit(split.train), split) > floor


@pytest.mark.parametrize("build,error,message", [
    (lambda: WMF(l2=-1.0), ValueError, "λ.*positive"),
    (lambda: WMF(l2=0.0), ValueError, "λ.*positive"),
    (lambda: WMF(n_factors=0), ValueError, "latent size.*positive"),
    (lambda: WMF(n_factors=2.5), ValueError, "whole number"),
    (lambda: WMF(alpha=-1.0), ValueError, "confidence.*≥ 0"),
    (lambda: WMF(iterations=0), ValueError, "iterations"),
    (lambda: WMF(alpha="high"), TypeError, "must be a number"),
    (lambda: EASE(l2=-500.0), ValueError, "λ.*positive"),
    (lambda: WMF().fit(np.ones((3, 3))), TypeError, "SciPy sparse"),
    (lambda: WMF().fold_in(sp.csr_matrix((2, 3))), RuntimeError, "fit the model"),
    (lambda: EASE().score(sp.csr_matrix((2, 3))), RuntimeError, "fit the model"),
    (lambda: EASE(1.0).fit(_clicks()).score(sp.csr_matrix((2, 7))), ValueError, "fitted on 25"),
    (lambda: WMF(2, iterations=1).fit(_clicks()).score(sp.csr_matrix((2, 7))), ValueError, "fitted on 25"),
    (lambda: EASE(1.0).fit(sp.csr_matrix(np.array([[np.nan, 1.0]]))), ValueError, "NaN"),
])
def test_bad_parameters_and_inputs(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize("alpha", [0.0, 3.0, 40.0])
def test_users_with_fewer_clicks_than_factors_get_the_same_solution(alpha):
    """Rows with fewer than k clicks take the Woodbury route, the others the k × k Cholesky
    one; both must give eq. (4)'s solution, in one batch or many."""
    x = _clicks(n_users=60, n_items=30, density=0.3, seed=2)
    assert np.diff(x.indptr).min() == 0 and np.diff(x.indptr).max() > 12
    items = np.random.default_rng(3).normal(size=(30, 12))
    want = np.stack([_naive_user_solve(row, items, 0.7, alpha) for row in x.toarray()])
    for budget in (100_000, 500):
        model = WMF(n_factors=12, l2=0.7, alpha=alpha, batch_elements=budget)
        got = model.solve(x, torch.from_numpy(items)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
