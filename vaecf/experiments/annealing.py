"""Notebook 6: KL annealing (Liang et al. 2018, §2.2.2): read the annealing curve off a
training history, train one model per β cap, choose β the paper's way, and say which β a
schedule actually reaches.

The β-ELBO (paper eq. 6) weighs the KL term by β. Annealing grows β from 0 during
training; the paper trains once with no cap (β up to 1), picks the β at which validation
NDCG@100 peaked, and retrains with β capped there (:func:`paper_beta_procedure`, which
smooths the curve first and can average over seeds).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from .comparison import PairedDifference, paired_difference
from ..data.protocol import Split
from ..metrics import evaluate
from ..models import MultVAE
from ..train import TrainConfig, beta_at, choose_device, fit

__all__ = ["AnnealingCurve", "annealing_curve", "anneal_without_cap", "beta_reached", "sweep_beta_caps",
           "CapRuns", "train_caps", "smooth", "BetaChoice", "choose_beta", "paper_beta_procedure",
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


@dataclass
class CapRuns:
    """One Mult-VAE per β cap: each run's history, and each kept model's per-user NDCG@100
    on the validation and the test users (for paired comparisons between caps)."""

    histories: dict
    valid_ndcg: dict
    test_ndcg: dict

    @property
    def best_cap(self) -> float:
        """The cap whose kept model has the best mean validation NDCG@100."""
        return max(self.valid_ndcg, key=lambda cap: float(np.mean(self.valid_ndcg[cap])))

    def paired(self, a: float, b: float, users: str = "valid") -> PairedDifference:
        """Cap ``a`` against cap ``b`` on the same ``"valid"`` or ``"test"`` users."""
        values = {"valid": self.valid_ndcg, "test": self.test_ndcg}[users]
        return paired_difference(values[a], values[b], f"β cap {a:g}", f"β cap {b:g}")


def train_caps(split: Split, caps, config: TrainConfig, device=None, progress: bool = True,
               model_kwargs: dict | None = None) -> CapRuns:
    """Train one Mult-VAE per β cap (same seed and settings otherwise).

    Each run anneals β from 0 to its cap as ``config`` says; ``device`` is a torch device or
    its name (default: :func:`vaecf.train.choose_device`); ``model_kwargs`` go to
    :class:`vaecf.models.MultVAE` (default: the paper's architecture).
    """
    caps = [float(c) for c in caps]
    if not caps:
        raise ValueError("give at least one β cap, e.g. caps=(0.0, 0.2, 1.0).")
    device = choose_device(device)
    runs = CapRuns({}, {}, {})
    for cap in caps:
        run_config = replace(config, beta_cap=cap)
        torch.manual_seed(run_config.seed)
        model = MultVAE(split.n_items, **(model_kwargs or {})).to(device)
        runs.histories[cap] = fit(model, split, run_config, progress=progress).history
        for group, store in (("valid", runs.valid_ndcg), ("test", runs.test_ndcg)):
            store[cap] = evaluate(model.score, getattr(split, f"{group}_fold_in"),
                                  getattr(split, f"{group}_target"), ks_recall=(),
                                  ks_ndcg=(100,))["ndcg@100"]
    return runs


def sweep_beta_caps(split: Split, caps, config: TrainConfig, device=None,
                    progress: bool = True, model_kwargs: dict | None = None) -> dict:
    """:func:`train_caps`, keeping only ``{cap: history}``."""
    return train_caps(split, caps, config, device, progress, model_kwargs).histories


def smooth(values, window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (fewer at the two ends)."""
    values = np.asarray(values, dtype=float)
    if isinstance(window, bool) or int(window) != window or window < 1:
        raise ValueError(f"window must be a positive whole number, got {window!r}.")
    kernel = np.ones(int(window))
    return (np.convolve(values, kernel, mode="same")
            / np.convolve(np.ones_like(values), kernel, mode="same"))


@dataclass
class BetaChoice:
    """The paper's choice of β (§2.2.2) from annealed runs, one per seed.

    Each run's validation NDCG@100 is smoothed by a centred moving average of ``window``
    epochs (neighbouring epochs differ by noise); ``beta`` is where the seeds' mean
    smoothed curve peaks, ``seed_betas`` where each seed's own smoothed curve does (their
    spread says how well β is determined).
    """

    curves: list
    window: int
    beta: float
    seed_betas: list

    @property
    def spread(self) -> float:
        return float(np.max(self.seed_betas) - np.min(self.seed_betas))

    def summary(self) -> dict:
        return {"beta": self.beta, "seed_betas": self.seed_betas, "window_epochs": self.window,
                "epochs": int(self.curves[0].epochs[-1])}


def choose_beta(curves: list, window: int | None = None) -> BetaChoice:
    """Pick β from annealed runs with the same schedule (one :class:`AnnealingCurve` per
    seed). ``window`` defaults to a twentieth of the run (at least 3 epochs).
    """
    curves = list(curves)
    if not curves:
        raise ValueError("give at least one annealed run's history.")
    if len({len(c.betas) for c in curves}) != 1:
        raise ValueError("the annealed runs must have the same number of epochs.")
    window = window or max(3, len(curves[0].betas) // 20)
    smoothed = [smooth(c.scores, window) for c in curves]
    betas = curves[0].betas
    mean = np.mean(smoothed, axis=0)
    return BetaChoice(curves, int(window), float(betas[int(np.argmax(mean))]),
                      [float(c.betas[int(np.argmax(values))]) for c, values in zip(curves, smoothed)])


def paper_beta_procedure(split: Split, epochs: int = PAPER_EPOCHS, seeds=(0,),
                         config: TrainConfig | None = None, device=None,
                         progress: bool = True) -> BetaChoice:
    """Anneal β from 0 to 1 over ``epochs`` once per seed and choose β where the smoothed
    validation NDCG@100 peaks; the paper then trains again with β capped there."""
    config = config or TrainConfig()
    curves = [anneal_without_cap(split, epochs=epochs, config=replace(config, seed=seed),
                                 seed=seed, device=device, progress=progress)[0]
              for seed in seeds]
    return choose_beta(curves)


@dataclass
class CapSweep:
    """Per β cap: the best validation score, and KL and reconstruction at that epoch."""

    caps: np.ndarray
    best_scores: np.ndarray
    kl: np.ndarray
    nll: np.ndarray


def cap_sweep(histories: dict, metric: str = "val_ndcg@100") -> CapSweep:
    """Summarise :func:`sweep_beta_caps` runs (``{cap: history}``, or :class:`CapRuns`),
    sorted by cap, at each run's best epoch."""
    if isinstance(histories, CapRuns):
        histories = histories.histories
    if not histories:
        raise ValueError("no runs to summarise; pass {cap: history}.")
    caps = sorted(histories)
    curves = [annealing_curve(histories[c], metric) for c in caps]
    return CapSweep(caps=np.array(caps, dtype=float),
                    best_scores=np.array([c.best_score for c in curves]),
                    kl=np.array([c.kl[c.best_index] for c in curves]),
                    nll=np.array([c.nll[c.best_index] for c in curves]))
