"""Checks a student runs on their own implementation (``check_ndcg(my_ndcg)``).

Each check calls the student's function on hand-worked, random and edge-case inputs and
compares the answer with the package's reference implementation (:mod:`vaecf.metrics`,
:mod:`vaecf.likelihoods`, :mod:`vaecf.models.gaussian`, :mod:`vaecf.train`). On the first
mismatch it raises :class:`CheckFailed` naming the input, the expected and the obtained
values and, where the answer matches a common mistake, what that mistake is. On success it
prints one line and returns ``None``.

The same functions are the autograder's tests (``assignments/source/*.ipynb``).
"""
from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from .. import likelihoods
from ..metrics import ndcg_at_k, recall_at_k
from ..models.autoencoders import MultVAE
from ..models.gaussian import kl_to_standard_normal
from ..train import beta_at

__all__ = ["CheckFailed", "check_ndcg", "check_recall", "check_multinomial",
           "check_gaussian", "check_multinomial_gradient", "check_reparameterise",
           "check_kl", "check_beta_schedule", "check_elbo_loss", "check_train_step"]


class CheckFailed(AssertionError):
    """The student's function gave a wrong answer (the message says where and how)."""


def _call(fn: Callable, name: str, case: str, *args):
    """Call the student's function, turning 'not written yet' and crashes into feedback."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError` "
                          f"under `# YOUR CODE HERE` with your code, run that cell, then "
                          f"run this check again.") from None
    except Exception as error:  # the student's bug, reported with the input that caused it
        raise CheckFailed(f"{name} raised {type(error).__name__}: {error}\n"
                          f"  on case: {case}") from error


def _as_array(value, name: str, case: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} should return numbers, got {type(value).__name__} "
                          f"on case: {case}") from None


def _fmt(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values), precision=4, separator=", ",
                           suppress_small=True, threshold=12)


def _compare(name: str, case: str, inputs: str, expected, got, atol: float = 1e-5,
             rtol: float = 1e-5, hints: dict | None = None):
    """Raise :class:`CheckFailed` unless ``got`` matches ``expected`` elementwise."""
    expected = np.asarray(expected, dtype=np.float64)
    got = _as_array(got, name, case)
    if got.shape != expected.shape:
        raise CheckFailed(f"{name} returned shape {got.shape}, expected {expected.shape} "
                          f"(one value per row/user).\n  on case: {case}")
    if np.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=False):
        return
    bad = np.flatnonzero(~np.isclose(got, expected, atol=atol, rtol=rtol).ravel())
    first = int(bad[0])
    where = tuple(int(i) for i in np.unravel_index(first, expected.shape)) if expected.ndim else ()
    message = (f"{name} gave a wrong answer on case: {case}\n"
               + (f"  inputs: {inputs}\n" if inputs else "")
               + f"  expected: {_fmt(expected)}\n  got:      {_fmt(got)}\n"
               f"  ({bad.size} of {expected.size} values differ; the first at index "
               f"{list(where)}: expected {expected.ravel()[first]:.6g}, "
               f"got {got.ravel()[first]:.6g})")
    if np.isfinite(expected).all() and not np.isfinite(got).all():
        message += ("\n  Hint: your answer contains NaN or ±inf: a log of 0 or an overflowing "
                    "exp? Use the stable torch.log_softmax / torch.logsumexp.")
    for mistake, wrong in (hints or {}).items():
        if np.allclose(got, np.asarray(wrong, dtype=np.float64), atol=atol, rtol=rtol):
            message += f"\n  Hint: your answer matches {mistake}."
            break
    raise CheckFailed(message)


def _passed(name: str, n_cases: int):
    print(f"✓ {name}: all {n_cases} cases agree with the reference.")


# ---------------------------------------------------------------- 1. ranking metrics

def _ranking_cases(seed: int = 0):
    """(description, scores, target 0/1, k): a worked example, edge cases, random cases."""
    cases = [
        ("the five-item example (clicks on items 0 and 2, K=3)",
         np.array([[0.9, 0.8, 0.7, 0.6, 0.5]]), np.array([[1, 0, 1, 0, 0]]), 3),
        ("K=1, the best item is a hit for user 0 and a miss for user 1",
         np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0]]), np.array([[1, 0, 0], [1, 0, 1]]), 1),
        ("more target items than K (a perfect ranking must score 1)",
         np.array([[6.0, 5, 4, 3, 2, 1]]), np.array([[1, 1, 1, 1, 0, 0]]), 2),
        ("fewer target items than K (normalise by min(K, |target|))",
         np.array([[0.1, 0.9, 0.3, 0.8, 0.2, 0.4]]), np.array([[0, 0, 1, 0, 0, 0]]), 4),
        ("fold-in items scored -inf must never be recommended",
         np.array([[-np.inf, 0.2, -np.inf, 0.1, 0.5]]), np.array([[0, 1, 0, 0, 1]]), 2),
        ("K equal to the number of items",
         np.array([[0.3, 0.1, 0.2, 0.4]]), np.array([[0, 1, 1, 0]]), 4),
    ]
    rng = np.random.default_rng(seed)
    for i, (users, items, k) in enumerate([(7, 30, 5), (12, 50, 10), (5, 40, 40), (20, 25, 3)]):
        scores = rng.permutation(users * items).reshape(users, items) / (users * items)
        target = (rng.random((users, items)) < rng.uniform(0.05, 0.4, size=(users, 1)))
        target[np.arange(users), rng.integers(items, size=users)] = True  # ≥ 1 per user
        cases.append((f"random #{i + 1}: {users} users × {items} items, K={k}",
                      scores, target.astype(np.float64), k))
    return cases


def _inputs(scores, target, k) -> str:
    if scores.size > 12:
        return ""
    return f"scores={_fmt(scores)}, target={_fmt(target)}, k={k}"


def _ndcg_variants(scores, target, k) -> dict:
    """Answers of NDCG implementations with a typical mistake, to name it in the feedback."""
    relevant = target > 0
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    hits = np.take_along_axis(relevant, order, axis=1)
    ranks = np.arange(1, k + 1)
    discount = 1 / np.log2(ranks + 1)
    ideal = np.cumsum(discount)[np.minimum(relevant.sum(1), k) - 1]
    n_rel = relevant.sum(1)
    return {
        "NDCG without the log discount (that is Recall@K)": hits.sum(1) / np.minimum(k, n_rel),
        "a discount of 1/log2(rank) with ranks counted from 2 or 1/log2(rank+2)":
            (hits / np.log2(ranks + 2)).sum(1) / np.cumsum(1 / np.log2(ranks + 2))[np.minimum(n_rel, k) - 1],
        "DCG without dividing by the ideal DCG": (hits * discount).sum(1),
        "an ideal DCG over all |target| items instead of min(K, |target|)":
            (hits * discount).sum(1) / np.cumsum(1 / np.log2(np.arange(2, scores.shape[1] + 2)))[n_rel - 1],
        "ranking by the lowest scores first (sort in descending order)":
            (np.take_along_axis(relevant, np.argsort(scores, axis=1)[:, :k], axis=1) * discount).sum(1) / ideal,
    }


def check_ndcg(student_ndcg: Callable) -> None:
    """Check ``student_ndcg(scores, target, k) -> per-user NDCG@k`` against
    :func:`vaecf.metrics.ndcg_at_k` (scores: users × items floats, target: 0/1 array)."""
    cases = _ranking_cases()
    for case, scores, target, k in cases:
        expected = ndcg_at_k(scores, target, k)
        got = _call(student_ndcg, "ndcg_at_k", case, scores.copy(), target.copy(), k)
        _compare("ndcg_at_k", case, _inputs(scores, target, k), expected, got,
                 hints=_ndcg_variants(scores, target, k))
    _passed("ndcg_at_k", len(cases))


def check_recall(student_recall: Callable) -> None:
    """Check ``student_recall(scores, target, k) -> per-user Recall@k`` against
    :func:`vaecf.metrics.recall_at_k` (normalised by min(k, |target|) as in the paper)."""
    cases = _ranking_cases(seed=1)
    for case, scores, target, k in cases:
        expected = recall_at_k(scores, target, k)
        relevant = target > 0
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        hits = np.take_along_axis(relevant, order, axis=1).sum(1)
        hints = {"recall divided by |target| instead of min(K, |target|)": hits / relevant.sum(1),
                 "recall divided by K instead of min(K, |target|) (that is precision@K)": hits / k,
                 "the number of hits, not divided by anything": hits}
        got = _call(student_recall, "recall_at_k", case, scores.copy(), target.copy(), k)
        _compare("recall_at_k", case, _inputs(scores, target, k), expected, got, hints=hints)
    _passed("recall_at_k", len(cases))


# ---------------------------------------------------------------- 2. likelihoods

def _likelihood_cases(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    clicks = (torch.rand(6, 20, generator=gen) < 0.3).float()
    clicks[:, 0] = 1.0
    return [
        ("one user, two items, logits [0, 0], one click on item 0",
         torch.zeros(1, 2), torch.tensor([[1.0, 0.0]])),
        ("random logits, 6 users × 20 items, 0/1 clicks", torch.randn(6, 20, generator=gen) * 2,
         clicks),
        ("click counts larger than one (x is a count vector)",
         torch.randn(3, 8, generator=gen), torch.randint(0, 4, (3, 8), generator=gen).float()),
        ("large logits (±80): needs a numerically stable log-softmax",
         torch.randn(4, 10, generator=gen) * 80, (torch.rand(4, 10, generator=gen) < 0.5).float()),
        ("a user with no clicks", torch.randn(2, 5, generator=gen),
         torch.tensor([[0.0, 0, 0, 0, 0], [0, 1, 0, 1, 0]])),
    ]


def _tensor_inputs(*tensors) -> str:
    return ", ".join(_fmt(t.detach().numpy()) for t in tensors) if tensors[0].numel() <= 10 else ""


def check_multinomial(student_multinomial: Callable) -> None:
    """Check ``student_multinomial(logits, x) -> per-user log p(x)`` (eq. 2, without the
    multinomial coefficient) against :func:`vaecf.likelihoods.multinomial`."""
    cases = _likelihood_cases()
    for case, logits, x in cases:
        expected = likelihoods.multinomial(logits.double(), x.double()).numpy()
        got = _call(student_multinomial, "multinomial_log_likelihood", case, logits.clone(), x.clone())
        hints = {"log-probabilities from log(softmax(...)) that overflow; use torch.log_softmax":
                 (x * torch.log(torch.softmax(logits, -1))).sum(-1).numpy(),
                 "a sum of log π over all items instead of only the clicked ones (weight by x)":
                 torch.log_softmax(logits.double(), -1).sum(-1).numpy(),
                 "the negative log-likelihood (the sign is flipped)": -expected}
        _compare("multinomial_log_likelihood", case, _tensor_inputs(logits, x), expected, got,
                 atol=1e-4, rtol=1e-5, hints=hints)
    _passed("multinomial_log_likelihood", len(cases))


def check_gaussian(student_gaussian: Callable) -> None:
    """Check ``student_gaussian(logits, x) -> per-user log p(x)`` (eq. 3 with c = 1, up to
    a constant: −½ Σ_i (x_i − f_i)²) against :func:`vaecf.likelihoods.gaussian`."""
    cases = _likelihood_cases(seed=1)[:3] + [_likelihood_cases(seed=1)[4]]
    for case, logits, x in cases:
        expected = likelihoods.gaussian(logits.double(), x.double()).numpy()
        got = _call(student_gaussian, "gaussian_log_likelihood", case, logits.clone(), x.clone())
        hints = {"a missing factor ½": 2 * expected, "the sign is flipped": -expected,
                 "a mean over items instead of a sum": expected / x.shape[1]}
        _compare("gaussian_log_likelihood", case, _tensor_inputs(logits, x), expected, got,
                 atol=1e-4, hints=hints)
    _passed("gaussian_log_likelihood", len(cases))


def check_multinomial_gradient(student_gradient: Callable) -> None:
    """Check ``student_gradient(logits, x) -> ∂ log p(x) / ∂ logits`` for the multinomial
    likelihood (closed form x − (Σ_i x_i)·softmax(f)) against autograd on the reference."""
    cases = _likelihood_cases(seed=2)[:4]
    for case, logits, x in cases:
        leaf = logits.double().clone().requires_grad_(True)
        likelihoods.multinomial(leaf, x.double()).sum().backward()
        expected = leaf.grad.numpy()
        got = _call(student_gradient, "multinomial_gradient", case, logits.clone(), x.clone())
        soft = torch.softmax(logits.double(), -1).numpy()
        hints = {"x − softmax(f), forgetting to multiply softmax by the user's number of clicks":
                 x.numpy() - soft, "the gradient of the negative log-likelihood": -expected}
        _compare("multinomial_gradient", case, _tensor_inputs(logits, x), expected, got,
                 atol=1e-4, hints=hints)
    _passed("multinomial_gradient", len(cases))


# ---------------------------------------------------------------- 3. Gaussian posterior

def _gaussian_cases(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return [
        ("μ = 0, log σ² = 0 (the prior itself)", torch.zeros(2, 3), torch.zeros(2, 3)),
        ("μ = [1, -2], log σ² = [0, 0]", torch.tensor([[1.0, -2.0]]), torch.zeros(1, 2)),
        ("μ = 0, log σ² = [log 4, log 0.25]", torch.zeros(1, 2),
         torch.log(torch.tensor([[4.0, 0.25]]))),
        ("random μ and log σ², 8 users × 5 latent dimensions",
         torch.randn(8, 5, generator=gen), torch.randn(8, 5, generator=gen)),
        ("very small variances (log σ² = -10)", torch.randn(3, 4, generator=gen),
         torch.full((3, 4), -10.0)),
    ]


def check_reparameterise(student_reparameterise: Callable) -> None:
    """Check ``student_reparameterise(mu, logvar, eps) -> z = μ + σ ε`` (σ = exp(½ log σ²)):
    the values, and that gradients flow to μ and log σ²."""
    gen = torch.Generator().manual_seed(3)
    cases = _gaussian_cases(seed=3)
    for case, mu, logvar in cases:
        eps = torch.randn(mu.shape, generator=gen)
        mu_leaf = mu.clone().requires_grad_(True)
        logvar_leaf = logvar.clone().requires_grad_(True)
        got = _call(student_reparameterise, "reparameterise", case, mu_leaf, logvar_leaf, eps.clone())
        expected = (mu + torch.exp(0.5 * logvar) * eps).numpy()
        hints = {"σ = exp(log σ²), i.e. using the variance instead of the standard deviation":
                 (mu + torch.exp(logvar) * eps).numpy(),
                 "z = μ + log σ² · ε (exponentiate ½ log σ² first)": (mu + logvar * eps).numpy(),
                 "z = μ + ε (the noise is not scaled by σ)": (mu + eps).numpy()}
        _compare("reparameterise", f"{case} (with fixed ε)", "", expected, got, hints=hints)
        if not isinstance(got, torch.Tensor) or not got.requires_grad:
            raise CheckFailed("reparameterise must return a torch tensor that depends on μ and "
                              "log σ² (so gradients can flow); build z with torch operations "
                              f"and do not call .detach() or .numpy().\n  on case: {case}")
        got.sum().backward()
        if mu_leaf.grad is None or logvar_leaf.grad is None:
            raise CheckFailed(f"no gradient reached {'μ' if mu_leaf.grad is None else 'log σ²'}"
                              f"; build z from both inputs with torch operations.\n  on case: {case}")
        _compare("the gradient ∂z/∂(log σ²) of reparameterise", case, "",
                 (0.5 * torch.exp(0.5 * logvar) * eps).numpy(), logvar_leaf.grad,
                 hints={"σ = exp(log σ²): the standard deviation is exp(½ log σ²)":
                        (torch.exp(logvar) * eps).numpy()})
    _passed("reparameterise", len(cases))


def check_kl(student_kl: Callable) -> None:
    """Check ``student_kl(mu, logvar) -> KL(N(μ, σ²) ‖ N(0, I))`` per row against
    :func:`vaecf.models.gaussian.kl_to_standard_normal`."""
    cases = _gaussian_cases(seed=4)
    for case, mu, logvar in cases:
        expected = kl_to_standard_normal(mu.double(), logvar.double()).numpy()
        got = _call(student_kl, "gaussian_kl", case, mu.clone(), logvar.clone())
        var = logvar.double().exp()
        hints = {"a sign error on the log σ² term (+ log σ² instead of − log σ²)":
                 0.5 * (var + mu.double() ** 2 - 1 + logvar.double()).sum(-1).numpy(),
                 "the KL with its sign flipped": -expected,
                 "a missing factor ½": 2 * expected,
                 "a mean over latent dimensions instead of a sum": expected / mu.shape[1],
                 "σ instead of σ² in the first term":
                 0.5 * ((0.5 * logvar.double()).exp() + mu.double() ** 2 - 1 - logvar.double()).sum(-1).numpy()}
        _compare("gaussian_kl", case, _tensor_inputs(mu, logvar), expected, got, atol=1e-4,
                 hints=hints)
    _passed("gaussian_kl", len(cases))


# ---------------------------------------------------------------- 4. the β-ELBO

def check_beta_schedule(student_beta: Callable) -> None:
    """Check ``student_beta(step, anneal_steps, cap) -> β = min(cap, step / anneal_steps)``
    against :func:`vaecf.train.beta_at`."""
    cases = [(0, 100, 0.2), (10, 100, 0.2), (20, 100, 0.2), (150, 100, 0.2), (50, 100, 1.0),
             (199_999, 200_000, 0.2), (7, 3, 0.5), (1000, 2000, 0.0)]
    for step, anneal, cap in cases:
        case = f"step={step}, anneal_steps={anneal}, cap={cap}"
        got = _call(student_beta, "beta_schedule", case, step, anneal, cap)
        hints = {"β without the cap (take the minimum with cap)": step / anneal,
                 "cap · step / anneal_steps (β reaches the cap already at anneal_steps·cap)":
                 min(cap, cap * step / anneal)}
        _compare("beta_schedule", case, "", beta_at(step, anneal, cap), got, atol=1e-9,
                 hints=hints)
    _passed("beta_schedule", len(cases))


def _reference_elbo(logits, x, mu, logvar, beta):
    nll = -likelihoods.multinomial(logits, x).mean()
    return nll + beta * kl_to_standard_normal(mu, logvar).mean()


def check_elbo_loss(student_loss: Callable) -> None:
    """Check ``student_loss(logits, x, mu, logvar, beta) -> scalar −ELBO_β`` (eq. 6, mean
    over users) against the reference and against :meth:`vaecf.models.MultVAE.loss`."""
    gen = torch.Generator().manual_seed(5)
    cases = []
    for beta in (0.0, 0.2, 1.0):
        cases.append((f"random batch of 6 users × 15 items, 4 latent dims, β={beta}",
                      torch.randn(6, 15, generator=gen) * 2,
                      (torch.rand(6, 15, generator=gen) < 0.3).float(),
                      torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen), beta))
    for case, logits, x, mu, logvar, beta in cases:
        expected = _reference_elbo(logits.double(), x.double(), mu.double(), logvar.double(), beta)
        got = _call(student_loss, "elbo_loss", case, logits.clone(), x.clone(), mu.clone(),
                    logvar.clone(), beta)
        ll = likelihoods.multinomial(logits.double(), x.double())
        kl = kl_to_standard_normal(mu.double(), logvar.double())
        hints = {"a sum over users instead of a mean": (-ll.sum() + beta * kl.sum()).item(),
                 "the ELBO itself; the loss to minimise is the negative ELBO":
                 (ll.mean() - beta * kl.mean()).item(),
                 "−log p(x|z) − β·KL (the KL must be added: it is a penalty)":
                 (-ll.mean() - beta * kl.mean()).item(),
                 "the loss without the β·KL term": (-ll.mean()).item()}
        _compare("elbo_loss", case, "", expected.item(), got, atol=1e-4, hints=hints)

    torch.manual_seed(0)
    model = MultVAE(15, hidden_dims=(8,), latent_dim=4, dropout=0.0).double().eval()
    x = cases[1][2].double()
    logits, mu, logvar = model(x)
    case = "the outputs of a small vaecf MultVAE (eval mode, z = μ), β=0.2"
    got = _call(student_loss, "elbo_loss", case, logits, x, mu, logvar, 0.2)
    _compare("elbo_loss", case, "", model.loss(x, 0.2)["loss"].item(), got, atol=1e-6)
    if not isinstance(got, torch.Tensor) or not got.requires_grad:
        raise CheckFailed("elbo_loss must return a torch scalar that gradients can flow through "
                          "(do not call .item(), .detach() or .numpy() on it).")
    _passed("elbo_loss", len(cases) + 1)


def check_train_step(student_step: Callable) -> None:
    """Check ``student_step(model, optimiser, x, beta) -> loss as a float``: one gradient
    step on −ELBO_β must move the parameters exactly as the reference step does."""
    gen = torch.Generator().manual_seed(6)
    x = (torch.rand(5, 12, generator=gen) < 0.4).float()
    x[:, 0] = 1.0
    torch.manual_seed(1)
    reference = MultVAE(12, hidden_dims=(8,), latent_dim=3, dropout=0.0).double()
    student = copy.deepcopy(reference)
    for beta in (0.0, 0.3):
        case = f"one SGD step (lr=0.1) on 5 users × 12 items, β={beta}"
        ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
        stu_opt = torch.optim.SGD(student.parameters(), lr=0.1)
        reference.train()
        student.train()
        torch.manual_seed(10)
        terms = reference.loss(x.double(), beta)
        ref_opt.zero_grad()
        terms["loss"].backward()
        ref_opt.step()
        torch.manual_seed(10)
        got = _call(student_step, "train_step", case, student, stu_opt, x.double(), beta)
        if not isinstance(got, float):
            raise CheckFailed(f"train_step should return the loss as a Python float "
                              f"(loss.item()), got {type(got).__name__}.\n  on case: {case}")
        _compare("train_step's returned loss", case, "", terms["loss"].item(), got, atol=1e-6)
        for (name, ref_p), stu_p in zip(reference.named_parameters(), student.parameters()):
            if not torch.allclose(ref_p, stu_p, atol=1e-8):
                diff = (ref_p - stu_p).abs().max().item()
                raise CheckFailed(
                    f"after train_step the parameter {name!r} differs from the reference step "
                    f"by up to {diff:.3g}.\n  on case: {case}\n  Did you call "
                    "optimiser.zero_grad() before loss.backward() and optimiser.step() after "
                    "it, with the loss from your elbo_loss on model(x)?")
    _passed("train_step", 2)
