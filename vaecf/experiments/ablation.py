"""Notebook 9: RecVAE's ideas measured one at a time: Mult-VAE, then each idea added in turn
until the model is RecVAE, and RecVAE with each idea taken away again.

Every variant is a :class:`vaecf.models.RecVAE` with some switches off (all off is
Mult-VAE), trained with the same :class:`vaecf.train.TrainConfig` to a validation
plateau from the same seed, and scored on the same test users, so each step's effect is a
paired difference with its standard error (:func:`vaecf.experiments.comparison.paired_difference`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .comparison import PairedDifference, paired_difference
from ..data.protocol import Split
from ..metrics import evaluate
from ..models import RecVAE
from ..train import TrainConfig, fit

__all__ = ["IDEAS", "MULT_VAE_SWITCHES", "RECVAE_SWITCHES", "cumulative_variants",
           "leave_one_out_variants", "Ablation", "run_ablation"]

IDEAS = {
    "encoder": {"encoder": "dense", "decoder": "linear"},
    "user β": {"user_beta": True},
    "composite prior": {"composite_prior": True},
    "alternating": {"alternating": True},
}
"""RecVAE's ideas, in the order they are added, each as the switches it turns on."""
MULT_VAE_SWITCHES = {"encoder": "mlp", "decoder": "mlp", "user_beta": False,
                     "composite_prior": False, "alternating": False}
"""Every idea off: Mult-VAE's network, β schedule, prior and joint updates."""
RECVAE_SWITCHES = {key: value for idea in IDEAS.values() for key, value in idea.items()}


def cumulative_variants() -> dict:
    """``{name: switches}``: Mult-VAE, then each idea of :data:`IDEAS` added to the one before."""
    variants, switches = {"Mult-VAE (all off)": dict(MULT_VAE_SWITCHES)}, dict(MULT_VAE_SWITCHES)
    for idea, on in IDEAS.items():
        switches = {**switches, **on}
        variants[f"+ {idea}"] = dict(switches)
    return variants


def leave_one_out_variants() -> dict:
    """``{name: switches}``: RecVAE with one idea of :data:`IDEAS` switched back to Mult-VAE's."""
    return {f"RecVAE − {idea}": {**RECVAE_SWITCHES, **{k: MULT_VAE_SWITCHES[k] for k in on}}
            for idea, on in IDEAS.items()}


@dataclass
class Ablation:
    """Per variant: its switches, per-user test NDCG@100, validation score and run summary."""

    switches: dict = field(default_factory=dict)
    per_user: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)

    def versus(self, a: str, b: str) -> PairedDifference:
        """Variant ``a`` against ``b`` on the same test users."""
        return paired_difference(self.per_user[a], self.per_user[b], a, b)

    def steps(self) -> list[PairedDifference]:
        """Each variant against the one before it (in the order they were run)."""
        names = list(self.per_user)
        return [self.versus(b, a) for a, b in zip(names[:-1], names[1:])]

    def table(self) -> pd.DataFrame:
        """One row per variant, in the order run: validation and test NDCG@100, the epoch
        of the best validation score and the epochs run, the training seconds, and the step
        from the row above (paired difference in test NDCG@100, its standard error, and how
        many standard errors it is); the first row has no step."""
        steps = {step.a: step for step in self.steps()}
        rows = {}
        for name, values in self.per_user.items():
            step = steps.get(name)
            rows[name] = {"valid NDCG@100": self.validation[name], "test NDCG@100": float(values.mean()),
                          "best epoch": self.runs[name]["best_epoch"],
                          "epochs run": self.runs[name]["epochs_run"],
                          "seconds": self.runs[name]["seconds"],
                          "step": step.difference if step else math.nan,
                          "± s.e.": step.stderr if step else math.nan,
                          "step / s.e.": step.z if step else math.nan}
        table = pd.DataFrame.from_dict(rows, orient="index").round(4)
        table.index.name = "variant"
        return table


def run_ablation(split: Split, variants: dict, config: TrainConfig | None = None,
                 device=None, model_seed: int = 0, progress: bool = False, **model_options) -> Ablation:
    """Train each variant (``{name: RecVAE switches}``) and score it on the test users.

    Every variant's weights are drawn under ``torch.manual_seed(model_seed)`` and trained
    with ``config`` (default: to a validation plateau); ``model_options`` (``hidden``,
    ``gamma``, ...) go to every :class:`RecVAE`.
    """
    config = config or TrainConfig()
    device = torch.device(device) if device is not None else torch.device("cpu")
    result = Ablation()
    for name, switches in variants.items():
        torch.manual_seed(model_seed)
        model = RecVAE(split.n_items, **model_options, **switches).to(device)
        run = fit(model, split, config, progress=progress)
        values = evaluate(model.score, split.test_fold_in, split.test_target)["ndcg@100"]
        result.switches[name] = dict(switches)
        result.per_user[name] = np.asarray(values)
        result.validation[name] = run.best_score
        result.runs[name] = {**run.summary(), "seconds": run.seconds}
    return result
