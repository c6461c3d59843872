"""Notebook 3's computations: the same two networks trained with each likelihood, their
test metrics and paired comparisons, the total of their predictions and the mass they put
on held-out clicks."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from .. import train
from .comparison import PairedDifference, paired_difference
from ..data import Split
from ..likelihoods import LIKELIHOODS
from ..metrics import evaluate
from ..models import MultDAE, MultVAE
from ..toys.probability_mass import item_mass, total_mass
from .reproduce import summarise

__all__ = ["NETWORKS", "train_likelihood_networks", "load_likelihood_networks", "per_user_test_metrics",
           "metrics_table", "multinomial_versus", "committed_multinomial_versus", "predicted_totals",
           "held_out_mass", "held_out_masses"]

NETWORKS = {"VAE": MultVAE, "DAE": MultDAE}
"""The paper's two networks, by the short name the notebook uses (``Mult-VAE``, ``Mult-DAE``)."""


def train_likelihood_networks(split: Split, epochs: int | None, seed: int, device) -> dict:
    """Train each of :data:`NETWORKS` once with each likelihood, everything else the same.

    Returns ``{(network, likelihood): {"state", "history", "epochs_run", "best_epoch",
    "budget_epochs", "converged"}}``; ``state`` holds the best epoch's weights on the CPU.
    """
    runs = {}
    for kind, build in NETWORKS.items():
        for likelihood in LIKELIHOODS:
            torch.manual_seed(seed)
            model = build(split.n_items, likelihood=likelihood).to(device)
            result = train.fit(model, split, train.TrainConfig(epochs=epochs, seed=seed), progress=False)
            runs[kind, likelihood] = {"state": {k: v.cpu() for k, v in model.state_dict().items()},
                                      "history": result.history, **result.summary()}
    return runs


def load_likelihood_networks(runs: dict, n_items: int, device) -> dict:
    """The networks of :func:`train_likelihood_networks`' ``runs``, rebuilt with their
    kept weights, in evaluation mode: ``{(network, likelihood): model}``."""
    models = {}
    for (kind, likelihood), run in runs.items():
        model = NETWORKS[kind](n_items, likelihood=likelihood).to(device)
        model.load_state_dict(run["state"])
        model.eval()
        models[kind, likelihood] = model
    return models


def per_user_test_metrics(scorers: dict, split: Split) -> dict:
    """``{name: per-user Recall@20, Recall@50 and NDCG@100 of the test users}`` for each
    ``{name: model}`` (anything with ``score(fold_in)``)."""
    return {name: evaluate(model.score, split.test_fold_in, split.test_target)
            for name, model in scorers.items()}


def metrics_table(per_user: dict) -> str:
    """A text table of :func:`per_user_test_metrics`: mean Recall@20, Recall@50 and NDCG@100 of
    each model, the NDCG@100 with its standard error."""
    means, errors = summarise({name: values["ndcg@100"] for name, values in per_user.items()})
    lines = [f"{'':>22} {'Recall@20':>10} {'Recall@50':>10} {'NDCG@100':>17}"]
    for name, values in per_user.items():
        lines.append(f"{name:>22} {values['recall@20'].mean():10.4f} {values['recall@50'].mean():10.4f} "
                     f"{means[name]:10.4f} ± {errors[name]:.4f}")
    return "\n".join(lines)


def multinomial_versus(per_user: dict, kind: str, other: str, reverse: bool = False) -> PairedDifference:
    """The paired NDCG@100 difference of the multinomial Mult-``kind`` against the same
    network with the ``other`` likelihood (``reverse``: ``other`` minus the multinomial)."""
    a, b = f"Mult-{kind} multinomial", f"Mult-{kind} {other}"
    if reverse:
        a, b = b, a
    return paired_difference(per_user[a]["ndcg@100"], per_user[b]["ndcg@100"], a, b)


def committed_multinomial_versus(numbers: dict, other: str, data: str = "ML-1M") -> PairedDifference:
    """The paired test NDCG@100 difference of the multinomial Mult-VAE against the ``other``
    likelihood, from the ``likelihoods`` entry of a ``figures.json`` (``python -m vaecf
    figures``, whose ``test_per_user`` keeps each likelihood's per-user values)."""
    try:
        users = numbers["test_per_user"]
        values = users["multinomial"], users[other]
    except KeyError as missing:
        raise ValueError(f"the numbers have no {missing} entry; pass the 'likelihoods' entry of a "
                         "figures.json written by python -m vaecf figures.") from None
    return paired_difference(*values, f"{data} Mult-VAE multinomial", f"{data} Mult-VAE {other}")


def predicted_totals(models: dict, fold_in: sp.csr_matrix) -> dict:
    """``{likelihood: each user's predictions summed over the items}`` for ``{likelihood:
    model}`` (:func:`vaecf.toys.probability_mass.total_mass` of the model's scores for
    ``fold_in``): one for every user under the multinomial's fixed budget (eq. 2), free under
    the logistic (eq. 4) and the Gaussian (eq. 3)."""
    return {likelihood: total_mass(torch.from_numpy(model.score(fold_in)), likelihood).numpy()
            for likelihood, model in models.items()}


def held_out_mass(logits: np.ndarray, fold_in: sp.csr_matrix, target: sp.csr_matrix,
                  likelihood: str) -> tuple[float, torch.Tensor]:
    """How much of a model's mass falls on the users' held-out clicks.

    The fold-in items are taken out first (as in the ranking), the rest rescaled to shares
    by :func:`vaecf.toys.probability_mass.item_mass`. Returns ``(share on the held-out clicks,
    averaged over the users; each user's total share, 1 up to rounding)``.
    """
    logits = torch.from_numpy(np.array(logits, copy=True))
    logits[torch.from_numpy(fold_in.toarray() > 0)] = -torch.inf if likelihood != "gaussian" else 0.0
    mass = item_mass(logits, likelihood)
    on_target = float((mass * torch.from_numpy(target.toarray())).sum(dim=1).mean())
    return on_target, mass.sum(dim=1)


def held_out_masses(models: dict, fold_in: sp.csr_matrix, target: sp.csr_matrix) -> tuple[dict, dict]:
    """:func:`held_out_mass` of each ``{likelihood: model}``: ``({likelihood: share on the
    held-out clicks}, {likelihood: each user's total share})``."""
    on_target, totals = {}, {}
    for likelihood, model in models.items():
        on_target[likelihood], totals[likelihood] = held_out_mass(model.score(fold_in), fold_in, target,
                                                                  likelihood)
    return on_target, totals
