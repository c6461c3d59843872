"""Checks a student runs on their own implementation (``check_ndcg(my_ndcg)``).

Each check calls the student's function on hand-worked, random and edge-case inputs and
compares the answer with the package's reference implementation (:mod:`vaecf.metrics`,
:mod:`vaecf.likelihoods`, :mod:`vaecf.models.gaussian`, :mod:`vaecf.train`). On the first
mismatch it raises :class:`CheckFailed` naming the input, the expected and the obtained
values and, where the answer matches a common mistake, what that mistake is. On success it
prints one line and returns ``None``.

Every check is a :class:`Check` in three parts, so that grading can split them across two
processes: :meth:`Check.cases` builds the inputs (plain arrays), :meth:`Check.call` runs the
student's function on one of them and returns what came back as plain arrays (in grading,
inside the sandbox: :mod:`vaecf.assignments.sandbox_driver`), and :meth:`Check.judge`
compares those arrays with the reference (in grading, in the grader's own process). A
student's ``check_ndcg(fn)`` runs the same three parts in the notebook, so a grade holds
no surprises. :data:`CHECKS` names them as the masters' test cells do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .. import likelihoods
from ..metrics import ndcg_at_k, recall_at_k
from ..models.autoencoders import MultVAE
from ..models.gaussian import kl_to_standard_normal
from ..train import beta_at

__all__ = ["CheckFailed", "Case", "Outcome", "Check", "CHECKS", "run_case", "judge_case",
           "check_ndcg", "check_recall", "check_multinomial", "check_gaussian",
           "check_multinomial_gradient", "check_reparameterise", "check_kl",
           "check_beta_schedule", "check_elbo_loss", "check_train_step"]


class CheckFailed(AssertionError):
    """The student's function gave a wrong answer (the message says where and how)."""


@dataclass
class Case:
    """One input of a check.

    ``inputs`` (plain numpy arrays) is all the student's side receives; ``reference`` holds
    what only the judging side needs (values computed from the reference, tolerances).
    """
    description: str
    inputs: dict[str, np.ndarray]
    reference: dict = field(default_factory=dict)

    def value(self, name: str):
        """An input as a Python scalar (0-d arrays) or an array."""
        array = self.inputs[name]
        return array.item() if array.ndim == 0 else array

    def tensor(self, name: str, requires_grad: bool = False) -> torch.Tensor:
        return torch.from_numpy(np.array(self.inputs[name])).requires_grad_(requires_grad)


@dataclass
class Outcome:
    """What one call of the student's function did.

    ``status`` is ``"returned"`` (``outputs`` holds the answer as arrays),
    ``"not_implemented"``, ``"raised"`` (``type_name`` is the exception's class),
    ``"bad_return"`` (``type_name`` is the type of what came back) or ``"timed_out"``.
    ``message`` (an exception's text) is shown only in the student's own notebook: it
    never leaves the sandbox in grading.
    """
    status: str
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    type_name: str = ""
    message: str = ""
    error: BaseException | None = None


class BadReturn(Exception):
    """The student's function returned something that is not the kind of value asked for."""

    def __init__(self, value):
        super().__init__(type(value).__name__)
        self.type_name = type(value).__name__


class Check:
    """One exercise's check: see the module docstring for how the parts fit together."""

    #: the name of the function the student writes
    function: str = ""
    #: the package's implementations this check compares with (reference use is flagged)
    references: tuple[str, ...] = ()
    #: what the function should return, for the message when it returns something else
    returns: str = "numbers"

    def cases(self) -> list[Case]:
        raise NotImplementedError

    def call(self, fn: Callable, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def judge(self, case: Case, outputs: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def _as_array(value) -> np.ndarray:
    """The student's answer as float64 numbers, or :class:`BadReturn`."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise BadReturn(value) from None


def run_case(check: Check, fn: Callable, case: Case) -> Outcome:
    """Call the student's function on one case, turning every way it can go wrong into
    an :class:`Outcome` (the student's side: in grading, this runs in the sandbox)."""
    try:
        return Outcome("returned", check.call(fn, case))
    except NotImplementedError:
        return Outcome("not_implemented")
    except BadReturn as bad:
        return Outcome("bad_return", type_name=bad.type_name)
    except Exception as error:  # the student's bug, reported with the input that caused it
        return Outcome("raised", type_name=type(error).__name__, message=str(error), error=error)


def judge_case(check: Check, case: Case, outcome: Outcome) -> None:
    """Raise :class:`CheckFailed` unless ``outcome`` is the right answer on ``case``."""
    name = check.function
    if outcome.status == "returned":
        check.judge(case, outcome.outputs)
    elif outcome.status == "not_implemented":
        raise CheckFailed(f"{name} is not implemented yet: replace `raise NotImplementedError` "
                          f"under `# YOUR CODE HERE` with your code, run that cell, then "
                          f"run this check again.")
    elif outcome.status == "raised":
        detail = (f": {outcome.message}" if outcome.message
                  else " (run the check cell in your notebook to see its message)")
        raise CheckFailed(f"{name} raised {outcome.type_name}{detail}\n"
                          f"  on case: {case.description}") from outcome.error
    elif outcome.status == "bad_return":
        raise CheckFailed(f"{name} should return {check.returns}, got {outcome.type_name} "
                          f"on case: {case.description}")
    elif outcome.status == "timed_out":
        raise CheckFailed(f"{name} was stopped: it ran past its time limit (an endless loop?)"
                          f"\n  on case: {case.description}")
    else:
        raise CheckFailed(f"{name} gave no answer on case: {case.description}")


def _run_check(check: Check, fn: Callable) -> None:
    cases = check.cases()
    for case in cases:
        judge_case(check, case, run_case(check, fn, case))
    print(f"✓ {check.function}: all {len(cases)} cases agree with the reference.")


def _output(outputs: dict, key: str, name: str, case: str) -> np.ndarray:
    if key not in outputs:
        raise CheckFailed(f"{name} gave no answer on case: {case}")
    return outputs[key]


def _flag(outputs: dict, key: str) -> bool:
    return bool(outputs.get(key, np.array(False)).item()) if key in outputs else False


def _fmt(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values), precision=4, separator=", ",
                           suppress_small=True, threshold=12)


def _compare(name: str, case: str, inputs: str, expected, got, atol: float = 1e-5,
             rtol: float = 1e-5, hints: dict | None = None):
    """Raise :class:`CheckFailed` unless ``got`` matches ``expected`` elementwise."""
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
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


# ---------------------------------------------------------------- 1. ranking metrics

def _ranking_cases(seed: int = 0) -> list[Case]:
    """A worked example, edge cases, random cases: scores, 0/1 target and k."""
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
    return [Case(description, {"scores": np.asarray(scores, dtype=np.float64),
                               "target": np.asarray(target), "k": np.array(k)})
            for description, scores, target, k in cases]


def _inputs(case: Case) -> str:
    scores, target, k = case.value("scores"), case.value("target"), case.value("k")
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


class _RankingCheck(Check):
    seed = 0

    def cases(self):
        return _ranking_cases(self.seed)

    def call(self, fn, case):
        return {"value": _as_array(fn(case.value("scores").copy(), case.value("target").copy(),
                                      case.value("k")))}


class NdcgCheck(_RankingCheck):
    function = "ndcg_at_k"
    references = ("vaecf.metrics.ndcg_at_k",)

    def judge(self, case, outputs):
        scores, target, k = case.value("scores"), case.value("target"), case.value("k")
        _compare(self.function, case.description, _inputs(case), ndcg_at_k(scores, target, k),
                 _output(outputs, "value", self.function, case.description),
                 hints=_ndcg_variants(scores, target, k))


class RecallCheck(_RankingCheck):
    function = "recall_at_k"
    references = ("vaecf.metrics.recall_at_k",)
    seed = 1

    def judge(self, case, outputs):
        scores, target, k = case.value("scores"), case.value("target"), case.value("k")
        relevant = target > 0
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        hits = np.take_along_axis(relevant, order, axis=1).sum(1)
        hints = {"recall divided by |target| instead of min(K, |target|)": hits / relevant.sum(1),
                 "recall divided by K instead of min(K, |target|) (that is precision@K)": hits / k,
                 "the number of hits, not divided by anything": hits}
        _compare(self.function, case.description, _inputs(case), recall_at_k(scores, target, k),
                 _output(outputs, "value", self.function, case.description), hints=hints)


# ---------------------------------------------------------------- 2. likelihoods

def _likelihood_cases(seed: int = 0) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    clicks = (torch.rand(6, 20, generator=gen) < 0.3).float()
    clicks[:, 0] = 1.0
    cases = [
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
    return [Case(description, {"logits": logits.numpy(), "x": x.numpy()})
            for description, logits, x in cases]


def _tensor_inputs(case: Case, *names) -> str:
    arrays = [case.inputs[name] for name in names]
    return ", ".join(_fmt(a) for a in arrays) if arrays[0].size <= 10 else ""


class _LikelihoodCheck(Check):
    def call(self, fn, case):
        return {"value": _as_array(fn(case.tensor("logits"), case.tensor("x")))}

    def _judge(self, case, outputs, expected, hints, atol, rtol=1e-5):
        _compare(self.function, case.description, _tensor_inputs(case, "logits", "x"), expected,
                 _output(outputs, "value", self.function, case.description),
                 atol=atol, rtol=rtol, hints=hints)


class MultinomialCheck(_LikelihoodCheck):
    function = "multinomial_log_likelihood"
    references = ("vaecf.likelihoods.multinomial",)

    def cases(self):
        return _likelihood_cases()

    def judge(self, case, outputs):
        logits, x = case.tensor("logits"), case.tensor("x")
        expected = likelihoods.multinomial(logits.double(), x.double()).numpy()
        hints = {"log-probabilities from log(softmax(...)) that overflow; use torch.log_softmax":
                 (x * torch.log(torch.softmax(logits, -1))).sum(-1).numpy(),
                 "a sum of log π over all items instead of only the clicked ones (weight by x)":
                 torch.log_softmax(logits.double(), -1).sum(-1).numpy(),
                 "the negative log-likelihood (the sign is flipped)": -expected}
        self._judge(case, outputs, expected, hints, atol=1e-4)


class GaussianCheck(_LikelihoodCheck):
    function = "gaussian_log_likelihood"
    references = ("vaecf.likelihoods.gaussian",)

    def cases(self):
        cases = _likelihood_cases(seed=1)
        return cases[:3] + [cases[4]]

    def judge(self, case, outputs):
        logits, x = case.tensor("logits"), case.tensor("x")
        expected = likelihoods.gaussian(logits.double(), x.double()).numpy()
        hints = {"a missing factor ½": 2 * expected, "the sign is flipped": -expected,
                 "a mean over items instead of a sum": expected / x.shape[1]}
        self._judge(case, outputs, expected, hints, atol=1e-4)


class MultinomialGradientCheck(_LikelihoodCheck):
    function = "multinomial_gradient"
    references = ("vaecf.likelihoods.multinomial",)

    def cases(self):
        return _likelihood_cases(seed=2)[:4]

    def judge(self, case, outputs):
        logits, x = case.tensor("logits"), case.tensor("x")
        leaf = logits.double().clone().requires_grad_(True)
        likelihoods.multinomial(leaf, x.double()).sum().backward()
        expected = leaf.grad.numpy()
        soft = torch.softmax(logits.double(), -1).numpy()
        hints = {"x − softmax(f), forgetting to multiply softmax by the user's number of clicks":
                 x.numpy() - soft, "the gradient of the negative log-likelihood": -expected}
        self._judge(case, outputs, expected, hints, atol=1e-4)


# ---------------------------------------------------------------- 3. Gaussian posterior

def _gaussian_cases(seed: int = 0) -> list[Case]:
    gen = torch.Generator().manual_seed(seed)
    cases = [
        ("μ = 0, log σ² = 0 (the prior itself)", torch.zeros(2, 3), torch.zeros(2, 3)),
        ("μ = [1, -2], log σ² = [0, 0]", torch.tensor([[1.0, -2.0]]), torch.zeros(1, 2)),
        ("μ = 0, log σ² = [log 4, log 0.25]", torch.zeros(1, 2),
         torch.log(torch.tensor([[4.0, 0.25]]))),
        ("random μ and log σ², 8 users × 5 latent dimensions",
         torch.randn(8, 5, generator=gen), torch.randn(8, 5, generator=gen)),
        ("very small variances (log σ² = -10)", torch.randn(3, 4, generator=gen),
         torch.full((3, 4), -10.0)),
    ]
    return [Case(description, {"mu": mu.numpy(), "logvar": logvar.numpy()})
            for description, mu, logvar in cases]


class ReparameteriseCheck(Check):
    function = "reparameterise"
    references = ("vaecf.models.gaussian.reparameterise",)

    def cases(self):
        gen = torch.Generator().manual_seed(3)
        cases = _gaussian_cases(seed=3)
        for case in cases:
            case.inputs["eps"] = torch.randn(case.inputs["mu"].shape, generator=gen).numpy()
            case.description += " (with fixed ε)"
        return cases

    def call(self, fn, case):
        mu, logvar = case.tensor("mu", requires_grad=True), case.tensor("logvar", requires_grad=True)
        z = fn(mu, logvar, case.tensor("eps"))
        outputs = {"value": _as_array(z)}
        tracked = isinstance(z, torch.Tensor) and z.requires_grad
        outputs["requires_grad"] = np.array(tracked)
        if tracked:
            z.sum().backward()
            outputs["mu_has_grad"] = np.array(mu.grad is not None)
            if logvar.grad is not None:
                outputs["logvar_grad"] = logvar.grad.numpy()
        return outputs

    def judge(self, case, outputs):
        mu, logvar, eps = case.tensor("mu"), case.tensor("logvar"), case.tensor("eps")
        expected = (mu + torch.exp(0.5 * logvar) * eps).numpy()
        hints = {"σ = exp(log σ²), i.e. using the variance instead of the standard deviation":
                 (mu + torch.exp(logvar) * eps).numpy(),
                 "z = μ + log σ² · ε (exponentiate ½ log σ² first)": (mu + logvar * eps).numpy(),
                 "z = μ + ε (the noise is not scaled by σ)": (mu + eps).numpy()}
        _compare(self.function, case.description, "", expected,
                 _output(outputs, "value", self.function, case.description), hints=hints)
        if not _flag(outputs, "requires_grad"):
            raise CheckFailed("reparameterise must return a torch tensor that depends on μ and "
                              "log σ² (so gradients can flow); build z with torch operations "
                              f"and do not call .detach() or .numpy().\n  on case: {case.description}")
        if not _flag(outputs, "mu_has_grad") or "logvar_grad" not in outputs:
            missing = "μ" if not _flag(outputs, "mu_has_grad") else "log σ²"
            raise CheckFailed(f"no gradient reached {missing}; build z from both inputs with "
                              f"torch operations.\n  on case: {case.description}")
        _compare("the gradient ∂z/∂(log σ²) of reparameterise", case.description, "",
                 (0.5 * torch.exp(0.5 * logvar) * eps).numpy(), outputs["logvar_grad"],
                 hints={"σ = exp(log σ²): the standard deviation is exp(½ log σ²)":
                        (torch.exp(logvar) * eps).numpy()})


class KlCheck(Check):
    function = "gaussian_kl"
    references = ("vaecf.models.gaussian.kl_to_standard_normal",)

    def cases(self):
        return _gaussian_cases(seed=4)

    def call(self, fn, case):
        return {"value": _as_array(fn(case.tensor("mu"), case.tensor("logvar")))}

    def judge(self, case, outputs):
        mu, logvar = case.tensor("mu").double(), case.tensor("logvar").double()
        expected = kl_to_standard_normal(mu, logvar).numpy()
        var = logvar.exp()
        hints = {"a sign error on the log σ² term (+ log σ² instead of − log σ²)":
                 0.5 * (var + mu ** 2 - 1 + logvar).sum(-1).numpy(),
                 "the KL with its sign flipped": -expected,
                 "a missing factor ½": 2 * expected,
                 "a mean over latent dimensions instead of a sum": expected / mu.shape[1],
                 "σ instead of σ² in the first term":
                 0.5 * ((0.5 * logvar).exp() + mu ** 2 - 1 - logvar).sum(-1).numpy()}
        _compare(self.function, case.description, _tensor_inputs(case, "mu", "logvar"), expected,
                 _output(outputs, "value", self.function, case.description), atol=1e-4,
                 hints=hints)


# ---------------------------------------------------------------- 4. the β-ELBO

class BetaScheduleCheck(Check):
    function = "beta_schedule"
    references = ("vaecf.train.beta_at",)

    def cases(self):
        steps = [(0, 100, 0.2), (10, 100, 0.2), (20, 100, 0.2), (150, 100, 0.2), (50, 100, 1.0),
                 (199_999, 200_000, 0.2), (7, 3, 0.5), (1000, 2000, 0.0)]
        return [Case(f"step={step}, anneal_steps={anneal}, cap={cap}",
                     {"step": np.array(step), "anneal_steps": np.array(anneal),
                      "cap": np.array(float(cap))}) for step, anneal, cap in steps]

    def call(self, fn, case):
        return {"value": _as_array(fn(case.value("step"), case.value("anneal_steps"),
                                      case.value("cap")))}

    def judge(self, case, outputs):
        step, anneal, cap = case.value("step"), case.value("anneal_steps"), case.value("cap")
        hints = {"β without the cap (take the minimum with cap)": step / anneal,
                 "cap · step / anneal_steps (β reaches the cap already at anneal_steps·cap)":
                 min(cap, cap * step / anneal)}
        _compare(self.function, case.description, "", beta_at(step, anneal, cap),
                 _output(outputs, "value", self.function, case.description), atol=1e-9,
                 hints=hints)


def _reference_elbo(logits, x, mu, logvar, beta):
    nll = -likelihoods.multinomial(logits, x).mean()
    return nll + beta * kl_to_standard_normal(mu, logvar).mean()


def _small_vae(n_items: int, latent_dim: int, seed: int) -> MultVAE:
    torch.manual_seed(seed)
    return MultVAE(n_items, hidden_dims=(8,), latent_dim=latent_dim, dropout=0.0).double()


class ElboLossCheck(Check):
    function = "elbo_loss"
    references = ("vaecf.models.autoencoders.MultVAE.loss",)

    def cases(self):
        gen = torch.Generator().manual_seed(5)
        cases = []
        for beta in (0.0, 0.2, 1.0):
            tensors = (torch.randn(6, 15, generator=gen) * 2,
                       (torch.rand(6, 15, generator=gen) < 0.3).float(),
                       torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen))
            cases.append(Case(f"random batch of 6 users × 15 items, 4 latent dims, β={beta}",
                              {**{k: t.numpy() for k, t in zip(("logits", "x", "mu", "logvar"),
                                                               tensors)},
                               "beta": np.array(beta), "track_grad": np.array(False)}))
        model = _small_vae(15, 4, seed=0).eval()
        x = torch.from_numpy(cases[1].inputs["x"]).double()
        with torch.no_grad():
            logits, mu, logvar = model(x)
            loss = model.loss(x, 0.2)["loss"].item()
        cases.append(Case("the outputs of a small vaecf MultVAE (eval mode, z = μ), β=0.2",
                          {"logits": logits.numpy(), "x": x.numpy(), "mu": mu.numpy(),
                           "logvar": logvar.numpy(), "beta": np.array(0.2),
                           "track_grad": np.array(True)},
                          reference={"expected": loss, "atol": 1e-6}))
        return cases

    def call(self, fn, case):
        track = bool(case.value("track_grad"))
        loss = fn(case.tensor("logits", track), case.tensor("x"), case.tensor("mu", track),
                  case.tensor("logvar", track), case.value("beta"))
        return {"value": _as_array(loss),
                "requires_grad": np.array(isinstance(loss, torch.Tensor) and loss.requires_grad)}

    def judge(self, case, outputs):
        got = _output(outputs, "value", self.function, case.description)
        if "expected" in case.reference:
            _compare(self.function, case.description, "", case.reference["expected"], got,
                     atol=case.reference["atol"])
            if not _flag(outputs, "requires_grad"):
                raise CheckFailed("elbo_loss must return a torch scalar that gradients can flow "
                                  "through (do not call .item(), .detach() or .numpy() on it).")
            return
        logits, x, mu, logvar = (case.tensor(k).double() for k in ("logits", "x", "mu", "logvar"))
        beta = case.value("beta")
        ll = likelihoods.multinomial(logits, x)
        kl = kl_to_standard_normal(mu, logvar)
        hints = {"a sum over users instead of a mean": (-ll.sum() + beta * kl.sum()).item(),
                 "the ELBO itself; the loss to minimise is the negative ELBO":
                 (ll.mean() - beta * kl.mean()).item(),
                 "−log p(x|z) − β·KL (the KL must be added: it is a penalty)":
                 (-ll.mean() - beta * kl.mean()).item(),
                 "the loss without the β·KL term": (-ll.mean()).item()}
        _compare(self.function, case.description, "",
                 _reference_elbo(logits, x, mu, logvar, beta).item(), got, atol=1e-4, hints=hints)


class TrainStepCheck(Check):
    function = "train_step"
    references = ("vaecf.models.autoencoders.MultVAE.loss", "vaecf.train.train_epoch",
                  "vaecf.train.fit")
    returns = "the loss as a Python float (loss.item())"
    n_items, latent_dim = 12, 3

    def cases(self):
        gen = torch.Generator().manual_seed(6)
        x = (torch.rand(5, self.n_items, generator=gen) < 0.4).double()
        x[:, 0] = 1.0
        reference = _small_vae(self.n_items, self.latent_dim, seed=1)
        cases = []
        for beta in (0.0, 0.3):
            start = {f"state.{k}": v.detach().numpy().copy()
                     for k, v in reference.state_dict().items()}
            start.update({f"grad.{name}": p.grad.numpy().copy()  # left from the step before
                          for name, p in reference.named_parameters() if p.grad is not None})
            optimiser = torch.optim.SGD(reference.parameters(), lr=0.1)
            reference.train()
            torch.manual_seed(10)
            terms = reference.loss(x, beta)
            optimiser.zero_grad()
            terms["loss"].backward()
            optimiser.step()
            after = {name: p.detach().numpy().copy() for name, p in reference.named_parameters()}
            cases.append(Case(f"one SGD step (lr=0.1) on 5 users × 12 items, β={beta}"
                              + (", after an earlier step" if cases else ""),
                              {"x": x.numpy(), "beta": np.array(beta), **start},
                              reference={"loss": terms["loss"].item(), "after": after}))
        return cases

    def call(self, fn, case):
        model = MultVAE(self.n_items, hidden_dims=(8,), latent_dim=self.latent_dim,
                        dropout=0.0).double()
        model.load_state_dict({k[len("state."):]: torch.from_numpy(v.copy())
                               for k, v in case.inputs.items() if k.startswith("state.")})
        for name, parameter in model.named_parameters():
            if f"grad.{name}" in case.inputs:
                parameter.grad = case.tensor(f"grad.{name}")
        optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        torch.manual_seed(10)
        loss = fn(model, optimiser, case.tensor("x"), case.value("beta"))
        if not isinstance(loss, float):
            raise BadReturn(loss)
        return {"value": np.array(loss),
                **{f"param.{name}": p.detach().numpy().copy()
                   for name, p in model.named_parameters()}}

    def judge(self, case, outputs):
        _compare("train_step's returned loss", case.description, "", case.reference["loss"],
                 _output(outputs, "value", self.function, case.description), atol=1e-6)
        for name, expected in case.reference["after"].items():
            got = _output(outputs, f"param.{name}", self.function, case.description)
            if got.shape != expected.shape or not np.allclose(expected, got, atol=1e-8):
                diff = (np.abs(expected - got).max() if got.shape == expected.shape
                        else float("inf"))
                raise CheckFailed(
                    f"after train_step the parameter {name!r} differs from the reference step "
                    f"by up to {diff:.3g}.\n  on case: {case.description}\n  Did you call "
                    "optimiser.zero_grad() before loss.backward() and optimiser.step() after "
                    "it, with the loss from your elbo_loss on model(x)?")


#: every check, under the name the masters' test cells call it by
CHECKS: dict[str, Check] = {
    "check_ndcg": NdcgCheck(), "check_recall": RecallCheck(),
    "check_multinomial": MultinomialCheck(), "check_gaussian": GaussianCheck(),
    "check_multinomial_gradient": MultinomialGradientCheck(),
    "check_reparameterise": ReparameteriseCheck(), "check_kl": KlCheck(),
    "check_beta_schedule": BetaScheduleCheck(), "check_elbo_loss": ElboLossCheck(),
    "check_train_step": TrainStepCheck(),
}


def check_ndcg(student_ndcg: Callable) -> None:
    """Check ``student_ndcg(scores, target, k) -> per-user NDCG@k`` against
    :func:`vaecf.metrics.ndcg_at_k` (scores: users × items floats, target: 0/1 array)."""
    _run_check(CHECKS["check_ndcg"], student_ndcg)


def check_recall(student_recall: Callable) -> None:
    """Check ``student_recall(scores, target, k) -> per-user Recall@k`` against
    :func:`vaecf.metrics.recall_at_k` (normalised by min(k, |target|) as in the paper)."""
    _run_check(CHECKS["check_recall"], student_recall)


def check_multinomial(student_multinomial: Callable) -> None:
    """Check ``student_multinomial(logits, x) -> per-user log p(x)`` (eq. 2, without the
    multinomial coefficient) against :func:`vaecf.likelihoods.multinomial`."""
    _run_check(CHECKS["check_multinomial"], student_multinomial)


def check_gaussian(student_gaussian: Callable) -> None:
    """Check ``student_gaussian(logits, x) -> per-user log p(x)`` (eq. 3 with c = 1, up to
    a constant: −½ Σ_i (x_i − f_i)²) against :func:`vaecf.likelihoods.gaussian`."""
    _run_check(CHECKS["check_gaussian"], student_gaussian)


def check_multinomial_gradient(student_gradient: Callable) -> None:
    """Check ``student_gradient(logits, x) -> ∂ log p(x) / ∂ logits`` for the multinomial
    likelihood (closed form x − (Σ_i x_i)·softmax(f)) against autograd on the reference."""
    _run_check(CHECKS["check_multinomial_gradient"], student_gradient)


def check_reparameterise(student_reparameterise: Callable) -> None:
    """Check ``student_reparameterise(mu, logvar, eps) -> z = μ + σ ε`` (σ = exp(½ log σ²)):
    the values, and that gradients flow to μ and log σ²."""
    _run_check(CHECKS["check_reparameterise"], student_reparameterise)


def check_kl(student_kl: Callable) -> None:
    """Check ``student_kl(mu, logvar) -> KL(N(μ, σ²) ‖ N(0, I))`` per row against
    :func:`vaecf.models.gaussian.kl_to_standard_normal`."""
    _run_check(CHECKS["check_kl"], student_kl)


def check_beta_schedule(student_beta: Callable) -> None:
    """Check ``student_beta(step, anneal_steps, cap) -> β = min(cap, step / anneal_steps)``
    against :func:`vaecf.train.beta_at`."""
    _run_check(CHECKS["check_beta_schedule"], student_beta)


def check_elbo_loss(student_loss: Callable) -> None:
    """Check ``student_loss(logits, x, mu, logvar, beta) -> scalar −ELBO_β`` (eq. 6, mean
    over users) against the reference and against :meth:`vaecf.models.MultVAE.loss`."""
    _run_check(CHECKS["check_elbo_loss"], student_loss)


def check_train_step(student_step: Callable) -> None:
    """Check ``student_step(model, optimiser, x, beta) -> loss as a float``: one gradient
    step on −ELBO_β must move the parameters exactly as the reference step does."""
    _run_check(CHECKS["check_train_step"], student_step)
