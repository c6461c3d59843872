"""Notebook 2: a constructed taste that no linear map can express, "likes A or B, but not both".

Users have two hidden yes/no tastes, *likes A* and *likes B* (each with probability ½,
independently). The catalogue has three groups of items:

* group A: clicked often by users who like A, rarely by the others;
* group B: the same for taste B;
* group C ("either-or" items): clicked often by users who like **exactly one** of A and B.

A recommender sees a user's clicks on groups A and B (the fold-in) and must score the C
items (the target). The C taste is the XOR of the two others, and it is uncorrelated with
each of them, so *every* linear map from clicks to scores (of any rank, with an intercept)
gives the four kinds of user the same expected score: the best it can do is the base rate.
A network with one hidden tanh layer computes the XOR and fits it. The paper's argument
for a non-linear f_θ (Liang et al. 2018, §2) is this example at scale.

The linear model is reduced-rank least squares (the best rank-k linear map under squared
error, with an intercept); rank-k matrix factorisation folded in by least squares is a
linear map of the same kind.
"""
from __future__ import annotations

from dataclasses import dataclass

from typing import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn as nn

__all__ = ["KINDS", "EitherOrData", "make_either_or", "mean_by_kind", "RankKLinear",
           "fit_rank_k_linear", "fit_one_hidden_layer", "auc", "compare_linear_and_network",
           "score_recommender"]

GROUPS = ("A", "B", "C")
KINDS = ("neither", "A only", "B only", "both")
"""The four kinds of user, by which of the tastes A and B they have."""


@dataclass
class EitherOrData:
    """Clicks (users × items, 0/1) with the users' hidden tastes and each item's group."""

    clicks: np.ndarray
    likes: np.ndarray  # (users, 2) bool: likes A, likes B
    groups: np.ndarray  # (items,) "A", "B" or "C"
    p_like: float
    p_other: float

    @property
    def inputs(self) -> np.ndarray:
        """What the recommender sees: the clicks on groups A and B."""
        return self.clicks[:, self.groups != "C"]

    @property
    def targets(self) -> np.ndarray:
        """What it must predict: the clicks on the either-or items (group C)."""
        return self.clicks[:, self.groups == "C"]

    @property
    def either_or(self) -> np.ndarray:
        """True for users who like exactly one of A and B (the XOR of the two tastes)."""
        return self.likes[:, 0] ^ self.likes[:, 1]

    @property
    def kind(self) -> np.ndarray:
        """Each user's taste as a label: "neither", "A only", "B only" or "both"."""
        names = np.array(["neither", "B only", "A only", "both"])
        return names[2 * self.likes[:, 0] + self.likes[:, 1]]

    def true_target_probability(self) -> np.ndarray:
        """The click probability of every C item for every user (what an oracle predicts)."""
        p = np.where(self.either_or, self.p_like, self.p_other)
        return np.repeat(p[:, None], int((self.groups == "C").sum()), axis=1)


def make_either_or(n_users: int = 600, items_per_group: int = 5, p_like: float = 0.8,
                   p_other: float = 0.05, seed: int = 0) -> EitherOrData:
    """Draw the either-or click data.

    Args:
        n_users: number of users.
        items_per_group: items in each of the groups A, B and C.
        p_like: click probability of an item whose group the user likes.
        p_other: click probability otherwise.
        seed: every random draw comes from this seed.
    """
    for label, value in (("n_users", n_users), ("items_per_group", items_per_group)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{label} must be a positive whole number, got {value!r}.")
    if not 0 <= p_other < p_like <= 1:
        raise ValueError(f"need 0 ≤ p_other < p_like ≤ 1 (liked items are clicked more often), "
                         f"got p_like={p_like}, p_other={p_other}.")
    rng = np.random.default_rng(seed)
    likes = rng.random((n_users, 2)) < 0.5
    liked = np.stack([likes[:, 0], likes[:, 1], likes[:, 0] ^ likes[:, 1]], axis=1)
    groups = np.repeat(np.array(GROUPS), items_per_group)
    liked_item = np.repeat(liked, items_per_group, axis=1)
    probability = np.where(liked_item, p_like, p_other)
    clicks = (rng.random(probability.shape) < probability).astype(np.float32)
    return EitherOrData(clicks, likes, groups, float(p_like), float(p_other))


def mean_by_kind(values: np.ndarray, kind: np.ndarray) -> dict:
    """``{kind of user: mean of values over that kind's rows}`` for each of :data:`KINDS`
    (``values``: one row per user, e.g. the C clicks or a model's C scores)."""
    values, kind = np.asarray(values), np.asarray(kind)
    if values.shape[0] != kind.shape[0]:
        raise ValueError(f"values has {values.shape[0]} rows but kind {kind.shape[0]} users.")
    return {name: float(values[kind == name].mean()) for name in KINDS}


@dataclass
class RankKLinear:
    """scores = target_mean + (inputs − input_mean) W with rank(W) ≤ k."""

    input_mean: np.ndarray
    target_mean: np.ndarray
    weights: np.ndarray
    rank: int

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        return self.target_mean + (np.asarray(inputs, dtype=np.float64) - self.input_mean) @ self.weights


def fit_rank_k_linear(inputs: np.ndarray, targets: np.ndarray, rank: int) -> RankKLinear:
    """The best rank-``rank`` linear map (with intercept) under squared error.

    Reduced-rank regression: the least-squares weights W_ols, then the fitted values
    projected on their top ``rank`` principal directions V_k: W = W_ols V_k V_kᵀ.
    ``rank=0`` predicts the mean (the base rate).
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    if inputs.ndim != 2 or targets.ndim != 2 or inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs and targets must be users × items matrices with the same "
                         f"users; got shapes {inputs.shape} and {targets.shape}.")
    if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank <= targets.shape[1]:
        raise ValueError(f"rank must be a whole number between 0 and {targets.shape[1]} "
                         f"(the number of target items), got {rank!r}.")
    x_mean, y_mean = inputs.mean(axis=0), targets.mean(axis=0)
    xc, yc = inputs - x_mean, targets - y_mean
    w_ols = np.linalg.lstsq(xc, yc, rcond=None)[0]
    _, _, vt = np.linalg.svd(xc @ w_ols, full_matrices=False)
    projector = vt[:rank].T @ vt[:rank]
    return RankKLinear(x_mean, y_mean, w_ols @ projector, int(rank))


def fit_one_hidden_layer(inputs: np.ndarray, targets: np.ndarray, hidden: int = 8,
                         epochs: int = 400, lr: float = 0.03, restarts: int = 3, seed: int = 0):
    """Fit scores = W₂ tanh(W₁ x + b₁) + b₂ by full-batch Adam on squared error.

    XOR-like targets have poor local minima, so ``restarts`` networks start from different
    random weights and the one with the lowest training error is kept. Returns a function
    mapping an inputs array to predicted scores (NumPy). The networks are tiny, so they
    train on one CPU thread (more threads only add overhead here).
    """
    inputs = np.asarray(inputs, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.float32)
    if inputs.ndim != 2 or targets.ndim != 2 or inputs.shape[0] != targets.shape[0]:
        raise ValueError(f"inputs and targets must be users × items matrices with the same "
                         f"users; got shapes {inputs.shape} and {targets.shape}.")
    for label, value in (("hidden", hidden), ("epochs", epochs), ("restarts", restarts)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{label} must be a positive whole number, got {value!r}.")
    generator = torch.Generator().manual_seed(seed)
    x, y = torch.from_numpy(inputs), torch.from_numpy(targets)
    best, best_loss = None, float("inf")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(int(restarts)):
            network = nn.Sequential(nn.Linear(inputs.shape[1], hidden), nn.Tanh(),
                                    nn.Linear(hidden, targets.shape[1]))
            with torch.no_grad():
                for parameter in network.parameters():
                    parameter.copy_(torch.randn(parameter.shape, generator=generator)
                                    / np.sqrt(max(1, parameter.shape[-1])))
            optimiser = torch.optim.Adam(network.parameters(), lr=lr)
            for _ in range(int(epochs)):
                optimiser.zero_grad()
                loss = ((network(x) - y) ** 2).mean()
                loss.backward()
                optimiser.step()
            with torch.no_grad():
                final = float(((network(x) - y) ** 2).mean())
            if final < best_loss:
                best, best_loss = network, final
    finally:
        torch.set_num_threads(threads)
    best.eval()

    def predict(new_inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return best(torch.as_tensor(np.asarray(new_inputs, dtype=np.float32))).numpy()

    return predict


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve: the chance a random positive outscores a random negative.

    Ties count one half (Mann–Whitney U with average ranks).
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f"scores and labels must be 1-D of the same length, got shapes "
                         f"{scores.shape} and {labels.shape}.")
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs at least one positive and one negative label.")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_scores = scores[order]
    # average ranks (1-based) over ties
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], scores.size]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def compare_linear_and_network(data: EitherOrData, ranks=None, hidden: int = 8,
                               epochs: int = 400, test_fraction: float = 0.5,
                               seed: int = 0) -> dict:
    """Fit both models on some users and score the C items of the others.

    Returns a dict with, on the test users: ``linear_mse`` {rank: mean squared error},
    ``network_mse``, ``oracle_mse`` (predicting the true probabilities, the floor),
    ``linear_auc`` {rank: AUC}, ``network_auc`` (how well the mean C score separates the
    either-or users from the rest), and ``linear_scores`` (best rank) / ``network_scores``
    / ``test_kind`` for plotting per kind of user.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}.")
    n_targets = data.targets.shape[1]
    ranks = list(range(n_targets + 1)) if ranks is None else [int(r) for r in ranks]
    order = np.random.default_rng(seed).permutation(data.clicks.shape[0])
    n_test = max(1, int(round(test_fraction * order.size)))
    test, train = order[:n_test], order[n_test:]
    x_train, y_train = data.inputs[train], data.targets[train]
    x_test, y_test = data.inputs[test], data.targets[test]
    labels = data.either_or[test]

    linear_mse, linear_auc, linear_scores = {}, {}, {}
    for rank in ranks:
        scores = fit_rank_k_linear(x_train, y_train, rank).predict(x_test)
        linear_mse[rank] = float(((scores - y_test) ** 2).mean())
        linear_auc[rank] = auc(scores.mean(axis=1), labels) if rank > 0 else 0.5
        linear_scores[rank] = scores
    network = fit_one_hidden_layer(x_train, y_train, hidden=hidden, epochs=epochs, seed=seed)
    network_scores = network(x_test)
    best_rank = min(linear_mse, key=linear_mse.get)
    return {
        "linear_mse": linear_mse,
        "linear_auc": linear_auc,
        "network_mse": float(((network_scores - y_test) ** 2).mean()),
        "network_auc": auc(network_scores.mean(axis=1), labels),
        "oracle_mse": float(((data.true_target_probability()[test] - y_test) ** 2).mean()),
        "best_rank": best_rank,
        "linear_scores": linear_scores[best_rank],
        "network_scores": network_scores,
        "test_kind": data.kind[test],
    }


def score_recommender(data: EitherOrData, make_model: Callable[[], object],
                      test_fraction: float = 0.5, seed: int = 0) -> dict:
    """Train a recommender on some users' clicks and fold in the others without their C clicks.

    ``make_model()`` returns an unfitted model with ``fit(csr)`` and ``score(csr)`` (WMF,
    EASE, ...). It is fitted on the training users' full click rows (groups A, B and C);
    each test user is folded in with their A and B clicks only, and their C clicks are
    the target. The test users are the same as in :func:`compare_linear_and_network`.

    Returns ``{"mse", "auc"}``: the squared error of the C scores and how well the mean
    C score separates the either-or users from the rest.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}.")
    order = np.random.default_rng(seed).permutation(data.clicks.shape[0])
    n_test = max(1, int(round(test_fraction * order.size)))
    test, train = order[:n_test], order[n_test:]
    model = make_model().fit(sp.csr_matrix(data.clicks[train]))
    fold_in = data.clicks[test].copy()
    is_target = data.groups == "C"
    fold_in[:, is_target] = 0
    scores = np.asarray(model.score(sp.csr_matrix(fold_in)))[:, is_target]
    return {"mse": float(((scores - data.targets[test]) ** 2).mean()),
            "auc": auc(scores.mean(axis=1), data.either_or[test])}
