"""KL annealing (Liang et al. 2018, §2.2.2): read the annealing curve off a training
history, train one model per β cap, and say which β a schedule actually reaches.

The β-ELBO (paper eq. 6) weighs the KL term by β. Annealing grows β from 0 during
training; the paper trains once with no cap (β up to 1), picks the β at which validation
NDCG@100 peaked, and retrains with β capped there.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .data.protocol import Split
from .models import MultVAE
from .train import TrainConfig, beta_at, choose_device, fit

__all__ = ["AnnealingCurve", "annealing_curve", "anneal_without_cap", "beta_reached", "sweep_beta_caps",
           "CapSweep", "cap_sweep", "PAPER_ANNEAL_STEPS", "PAPER_BETA_CAP", "PAPER_EPOCHS",
           "ML20M_TRAIN_USERS"]

PAPER_ANNEAL_STEPS = 200_000
"""The paper's annealing length: β = min(cap, step / 200,000) (§2.2.2, authors' code)."""
PAPER_BETA_CAP = 0.2
PAPER_EPOCHS = 200
ML20M_TRAIN_USERS = 116_677
"""Training users on ML-20M under the paper's protocol (DESIGN §5)."""


@dataclass
class AnnealingCurve:
    """One annealed run, epoch by epoch: β, the validation metric, KL and reconstruction."""

    epochs: np.ndarray
    betas: np.ndarray
    scores: np.ndarray
    kl: np.ndarray
    nll: np.ndarray
    best_index: int
    metric: str

    @property
    def best_beta(self) -> float:
        """β at the epoch with the best validation score (the cap the paper retrains with)."""
        return float(self.betas[self.best_index])

    @property
    def best_score(self) -> float:
        return float(self.scores[self.best_index])

    @property
    def best_epoch(self) -> int:
        return int(self.epochs[self.best_index])


def _column(history, key, where):
    try:
        return np.array([float(h[key]) for h in history])
    except KeyError:
        raise ValueError(f"{where} has no {key!r} entry; pass the history that "
                         "vaecf.train.fit returned for a Mult-VAE.") from None


def annealing_curve(history: list, metric: str = "val_ndcg@100") -> AnnealingCurve:
    """The annealing curve of a run: ``metric`` against β, and the β where it peaked.

    Args:
        history: ``TrainResult.history`` from :func:`vaecf.train.fit`, one dict per epoch
            with ``epoch``, ``beta``, ``nll``, ``kl`` and ``metric``.
        metric: the validation score to maximise.

    Ties go to the earliest epoch (the smallest β on an annealed run).
    """
    if not history:
        raise ValueError("the history is empty; train for at least one epoch.")
    scores = _column(history, metric, "the history")
    return AnnealingCurve(epochs=_column(history, "epoch", "the history").astype(int),
                          betas=_column(history, "beta", "the history"), scores=scores,
                          kl=_column(history, "kl", "the history"),
                          nll=_column(history, "nll", "the history"),
                          best_index=int(np.argmax(scores)), metric=metric)


def anneal_without_cap(split: Split, epochs: int = 100, beta_max: float = 1.0,
                       config: TrainConfig | None = None, model: MultVAE | None = None,
                       seed: int = 0, device=None, progress: bool = True):
    """Train a Mult-VAE with β annealed linearly from 0 to ``beta_max`` over the whole run
    (no cap on the way) and return ``(curve, model)``: validation NDCG@100 against β.

    The paper (§2.2.2) picks the β at which validation NDCG@100 peaks and then trains
    again with β capped there. ``beta_max`` defaults to 1, the plain ELBO.

    Args:
        split: the protocol's matrices.
        config: other training settings (its epochs, β cap and schedule are replaced).
        model: the Mult-VAE to train (default: the paper's architecture, seeded by ``seed``).
    """
    if not beta_max > 0:
        raise ValueError(f"beta_max must be positive, got {beta_max}.")
    config = replace(config or TrainConfig(seed=seed), epochs=epochs, beta_cap=float(beta_max),
                     anneal_steps=None, anneal_fraction=1.0, patience=None)
    if model is None:
        torch.manual_seed(seed)
        model = MultVAE(split.n_items).to(choose_device(device))
    run = fit(model, split, config, progress=progress)
    return annealing_curve(run.history), model


def beta_reached(config: TrainConfig, n_train_users: int) -> float:
    """β after the last optimiser step of a run with ``config`` on ``n_train_users`` users.

    β = min(cap, step / anneal_steps) (paper §2.2.2); a run takes
    ``epochs × ⌈n_train_users / batch_size⌉`` steps. With the paper's fixed 200,000
    steps, small data sets end the run long before β reaches the cap.
    """
    if isinstance(n_train_users, bool) or int(n_train_users) != n_train_users or n_train_users < 1:
        raise ValueError(f"n_train_users must be a positive whole number, got {n_train_users!r}.")
    n_train_users = int(n_train_users)
    return beta_at(config.total_steps(n_train_users), config.total_anneal_steps(n_train_users),
                   config.beta_cap)


def sweep_beta_caps(split: Split, caps, config: TrainConfig, device=None,
                    progress: bool = True, model_kwargs: dict | None = None) -> dict:
    """Train one Mult-VAE per β cap (same seed and settings otherwise).

    Returns ``{cap: history}``. Each run anneals β from 0 to its cap as ``config`` says;
    ``device`` is a torch device or its name (default: :func:`vaecf.train.choose_device`);
    ``model_kwargs`` go to :class:`vaecf.models.MultVAE` (default: the paper's architecture).
    """
    caps = [float(c) for c in caps]
    if not caps:
        raise ValueError("give at least one β cap, e.g. caps=(0.0, 0.2, 1.0).")
    device = choose_device(device)
    histories = {}
    for cap in caps:
        run_config = replace(config, beta_cap=cap)
        torch.manual_seed(run_config.seed)
        model = MultVAE(split.n_items, **(model_kwargs or {})).to(device)
        histories[cap] = fit(model, split, run_config, progress=progress).history
    return histories


@dataclass
class CapSweep:
    """Per β cap: the best validation score, and KL and reconstruction at that epoch."""

    caps: np.ndarray
    best_scores: np.ndarray
    kl: np.ndarray
    nll: np.ndarray


def cap_sweep(histories: dict, metric: str = "val_ndcg@100") -> CapSweep:
    """Summarise :func:`sweep_beta_caps` runs, sorted by cap, at each run's best epoch."""
    if not histories:
        raise ValueError("no runs to summarise; pass {cap: history}.")
    caps = sorted(histories)
    curves = [annealing_curve(histories[c], metric) for c in caps]
    return CapSweep(caps=np.array(caps, dtype=float),
                    best_scores=np.array([c.best_score for c in curves]),
                    kl=np.array([c.kl[c.best_index] for c in curves]),
                    nll=np.array([c.nll[c.best_index] for c in curves]))
