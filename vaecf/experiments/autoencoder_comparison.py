"""Notebook 7: the three autoencoders of the paper (AE, Mult-DAE, Mult-VAE) trained on one
split with the same settings, and every model's test scores kept per user for paired
comparisons. (Who benefits, by user activity, is in :mod:`vaecf.experiments.analysis`.)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .comparison import PairedDifference, paired_difference
from .reproduce import summarise
from ..data.protocol import Split
from ..models import AE, MultDAE, MultVAE
from ..train import TrainConfig, TrainResult, choose_device, fit

__all__ = ["AUTOENCODERS", "train_autoencoders", "ScoresOnTest"]

AUTOENCODERS = {"AE": AE, "Mult-DAE": MultDAE, "Mult-VAE": MultVAE}
"""The paper's three autoencoders by name: no noise and no KL (AE), dropout on the input
(Mult-DAE, eq. 9), and the β-ELBO (Mult-VAE, eq. 6); all with the multinomial likelihood."""

TABLE_METRICS = ("recall@20", "recall@50", "ndcg@100")


def train_autoencoders(split: Split, config: TrainConfig, names=tuple(AUTOENCODERS), device=None,
                       progress: bool = True) -> tuple[dict, dict]:
    """Train each autoencoder of ``names`` (keys of :data:`AUTOENCODERS`) with ``config``,
    each from the same seed (``config.seed``), in the paper's architecture.

    Returns ``({name: TrainResult}, {name: model})``, the models holding their best epoch.
    """
    unknown = [name for name in names if name not in AUTOENCODERS]
    if unknown:
        raise ValueError(f"unknown autoencoder(s) {', '.join(map(repr, unknown))}; choose among "
                         f"{', '.join(AUTOENCODERS)}.")
    device = choose_device(device)
    runs: dict[str, TrainResult] = {}
    models = {}
    for name in names:
        torch.manual_seed(config.seed)
        models[name] = AUTOENCODERS[name](split.n_items).to(device)
        runs[name] = fit(models[name], split, config, progress=progress)
    return runs, models


@dataclass
class ScoresOnTest:
    """Each model's metrics per test user (``{model: {metric: values}}``, as
    :func:`vaecf.experiments.likelihood_comparison.per_user_test_metrics` returns them), with
    their means and standard errors."""

    per_user: dict

    @property
    def means(self) -> dict:
        """``{model: {metric: mean over the test users}}``."""
        return {name: summarise(values)[0] for name, values in self.per_user.items()}

    @property
    def errors(self) -> dict:
        """``{model: {metric: standard error of the mean}}``."""
        return {name: summarise(values)[1] for name, values in self.per_user.items()}

    def paired(self, a: str, b: str, metric: str = "ndcg@100") -> PairedDifference:
        """Model ``a`` against model ``b`` on the same test users."""
        missing = [name for name in (a, b) if name not in self.per_user]
        if missing:
            raise ValueError(f"no test scores for {', '.join(missing)}; scored: "
                             f"{', '.join(self.per_user)}.")
        return paired_difference(self.per_user[a][metric], self.per_user[b][metric], a, b)

    def table(self) -> str:
        """The paper's three metrics per model, and the standard error of NDCG@100."""
        means, errors = self.means, self.errors
        lines = [f"{'model':<12}{'Recall@20':>11}{'Recall@50':>11}{'NDCG@100':>11}   (± 1 s.e.)"]
        for name in self.per_user:
            lines.append(f"{name:<12}" + "".join(f"{means[name][m]:>11.4f}" for m in TABLE_METRICS)
                         + f"   ± {errors[name]['ndcg@100']:.4f}")
        return "\n".join(lines)

