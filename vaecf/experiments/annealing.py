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
from ..train import TrainConfig, TrainResult, beta_at, choose_device, fit

__all__ = ["AnnealingCurve", "annealing_curve", "train_annealed", "anneal_without_cap", "beta_reached",
           "paper_schedule", "ScheduleReach", "schedule_reach", "beta_by_epoch", "sweep_beta_caps",
           "CapRuns", "train_caps", "retrain_capped", "smooth", "CurveShape", "curve_shape",
           "BetaChoice", "choose_beta", "paper_beta_procedure", "CapSweep", "cap_sweep",
           "PAPER_ANNEAL_STEPS", "PAPER_BETA_CAP", "PAPER_EPOCHS", "ML20M_TRAIN_USERS"]

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


def train_annealed(split: Split, epochs: int = 100, beta_max: float = 1.0,
                   config: TrainConfig | None = None, model: MultVAE | None = None,
                   seed: int = 0, device=None, progress: bool = True) -> TrainResult:
    """Train a Mult-VAE with β annealed linearly from 0 to ``beta_max`` over the whole run
    (no cap on the way; β-ELBO, paper eq. 6) and return the :class:`vaecf.train.TrainResult`,
    whose history is the annealing curve epoch by epoch.

    Args:
        split: the protocol's matrices.
        epochs: the length of the run; β reaches ``beta_max`` at its last step.
        beta_max: the final KL weight (default 1, the plain ELBO).
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
    return fit(model, split, config, progress=progress)


def anneal_without_cap(split: Split, epochs: int = 100, beta_max: float = 1.0,
                       config: TrainConfig | None = None, model: MultVAE | None = None,
                       seed: int = 0, device=None, progress: bool = True):
    """:func:`train_annealed`, returning ``(curve, model)``: validation NDCG@100 against β.

    The paper (§2.2.2) picks the β at which validation NDCG@100 peaks and then trains
    again with β capped there (:func:`retrain_capped`).
    """
    run = train_annealed(split, epochs, beta_max, config, model, seed, device, progress)
    return annealing_curve(run.history), run.model


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


def paper_schedule(epochs: int = PAPER_EPOCHS, batch_size: int = 500) -> TrainConfig:
    """The paper's fixed schedule, β = min(0.2, step / 200,000) (§2.2.2), over ``epochs``
    epochs of ``batch_size`` users."""
    return TrainConfig(epochs=epochs, batch_size=batch_size, beta_cap=PAPER_BETA_CAP,
                       anneal_steps=PAPER_ANNEAL_STEPS)


@dataclass
class ScheduleReach:
    """How far one run gets along its annealing schedule."""

    label: str
    users: int
    steps: int
    beta: float
    cap: float

    def describe(self) -> str:
        return (f"{self.label:<30} {self.users:>7,} training users, {self.steps:>6,} steps: "
                f"β reached = {self.beta:.4f} (cap {self.cap})")


def schedule_reach(n_train_users: int, epochs: int = PAPER_EPOCHS,
                   batch_size: int = 500) -> list[ScheduleReach]:
    """The β the paper's fixed schedule (:func:`paper_schedule`) reaches: on ML-20M's
    training users and on ``n_train_users`` over the paper's 200 epochs, and, when
    ``epochs`` differs, over ``epochs`` epochs of ``batch_size`` users."""
    paper = paper_schedule()
    runs = [("ML-20M, paper's 200 epochs", paper, ML20M_TRAIN_USERS),
            (f"this data, {PAPER_EPOCHS} epochs", paper, n_train_users)]
    if epochs != PAPER_EPOCHS:
        runs.append((f"this data, our {epochs} epochs", paper_schedule(epochs, batch_size),
                     n_train_users))
    return [ScheduleReach(label, int(users), config.total_steps(users), beta_reached(config, users),
                          config.beta_cap)
            for label, config, users in runs]


def beta_by_epoch(config: TrainConfig, n_train_users: int, epochs: int) -> np.ndarray:
    """β at the end of each epoch 0, 1, …, ``epochs`` of a run with ``config`` on
    ``n_train_users`` users: β = min(cap, step / anneal_steps) (paper §2.2.2)."""
    per_epoch = config.batches_per_epoch(n_train_users)
    total = config.total_anneal_steps(n_train_users)
    return np.array([beta_at(epoch * per_epoch, total, config.beta_cap)
                     for epoch in range(int(epochs) + 1)])


@dataclass
class CapRuns:
    """One Mult-VAE per β cap: each run's history, and each kept model's per-user NDCG@100
    on the validation and the test users (for paired comparisons between caps)."""

    histories: dict
    valid_ndcg: dict
    test_ndcg: dict
    name: str = ""
    """What the runs were trained on, put before the first model's name in comparisons."""

    @classmethod
    def from_numbers(cls, numbers: dict, name: str = "") -> "CapRuns":
        """The runs' per-user scores as ``python -m vaecf figures`` saved them (the
        ``beta_caps`` entry of ``figures.json``: ``{cap: [NDCG@100 per user]}`` keyed by the
        cap as a string); there are no histories."""
        try:
            valid, test = numbers["valid_per_user"], numbers["test_per_user"]
        except KeyError as missing:
            raise ValueError(f"the numbers have no {missing} entry; pass the 'beta_caps' entry "
                             "of a figures.json written by python -m vaecf figures.") from None
        return cls({}, {float(cap): np.array(values) for cap, values in valid.items()},
                   {float(cap): np.array(values) for cap, values in test.items()}, name)

    @property
    def epochs_run(self) -> dict:
        """``{cap: epochs its run trained}``."""
        return {cap: len(history) for cap, history in self.histories.items()}

    @property
    def best_cap(self) -> float:
        """The cap whose kept model has the best mean validation NDCG@100."""
        return max(self.valid_ndcg, key=lambda cap: float(np.mean(self.valid_ndcg[cap])))

    def paired(self, a: float, b: float, users: str = "valid") -> PairedDifference:
        """Cap ``a`` against cap ``b`` on the same ``"valid"`` or ``"test"`` users."""
        values = {"valid": self.valid_ndcg, "test": self.test_ndcg}[users]
        return paired_difference(values[a], values[b], f"{self.name} β cap {a:g}".lstrip(),
                                 f"β cap {b:g}")


def _train_capped(split: Split, cap: float, config: TrainConfig, device,
                  progress: bool, model_kwargs: dict | None):
    """One Mult-VAE with β annealed from 0 up to ``cap``, seeded by ``config.seed``."""
    run_config = replace(config, beta_cap=float(cap))
    torch.manual_seed(run_config.seed)
    model = MultVAE(split.n_items, **(model_kwargs or {})).to(device)
    return fit(model, split, run_config, progress=progress), model


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
        run, model = _train_capped(split, cap, config, device, progress, model_kwargs)
        runs.histories[cap] = run.history
        for group, store in (("valid", runs.valid_ndcg), ("test", runs.test_ndcg)):
            store[cap] = evaluate(model.score, getattr(split, f"{group}_fold_in"),
                                  getattr(split, f"{group}_target"), ks_recall=(),
                                  ks_ndcg=(100,))["ndcg@100"]
    return runs


def retrain_capped(split: Split, cap: float, config: TrainConfig, device=None,
                   progress: bool = True) -> dict:
    """The paper's second step (§2.2.2): train again with β annealed up to ``cap``, the β
    where the annealing curve peaked, and score the test users.

    Returns ``{"history", "test_ndcg" (NDCG@100 per test user), "summary"}``
    (:meth:`vaecf.train.TrainResult.summary`: epochs run, best epoch, ...).
    """
    run, model = _train_capped(split, cap, config, choose_device(device), progress, None)
    test = evaluate(model.score, split.test_fold_in, split.test_target)
    return {"history": run.history, "test_ndcg": test["ndcg@100"], "summary": run.summary()}


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
class CurveShape:
    """An annealing curve smoothed over ``window`` epochs: its value at the start, at its
    peak and at the end, and the epoch-to-epoch scatter of the raw curve around it."""

    window: int
    start: float
    peak: float
    end: float
    peak_beta: float
    end_beta: float
    noise: float

    @property
    def rise(self) -> float:
        """How far the smoothed curve climbs from the first epoch to its peak."""
        return self.peak - self.start

    @property
    def fall(self) -> float:
        """How far the smoothed curve drops from its peak to the last epoch."""
        return self.peak - self.end

    @property
    def clear_fall(self) -> bool:
        """Whether the curve clearly rises and then clearly falls (each by more than twice
        the noise), peaking before β = 1: the shape of the paper's ML-20M curve."""
        return self.rise > 2 * self.noise and self.fall > 2 * self.noise and self.peak_beta < 1


def curve_shape(curve: AnnealingCurve, window: int) -> CurveShape:
    """Smooth ``curve`` by a centred moving average of ``window`` epochs (:func:`smooth`,
    as :func:`choose_beta` does) and measure its rise, fall and noise (the standard
    deviation of the raw scores around the smoothed curve)."""
    if len(curve.scores) < 2:
        raise ValueError("the annealing curve needs at least two epochs to measure its noise.")
    smoothed = smooth(curve.scores, window)
    peak = int(np.argmax(smoothed))
    return CurveShape(int(window), float(smoothed[0]), float(smoothed[peak]), float(smoothed[-1]),
                      float(curve.betas[peak]), float(curve.betas[-1]),
                      float(np.std(curve.scores - smoothed, ddof=1)))


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

    @property
    def rate_falls(self) -> bool:
        """Whether the KL (the rate) falls at every step up in cap."""
        return bool(np.all(np.diff(self.kl) < 0))

    @property
    def distortion_rises(self) -> bool:
        """Whether −E_q[log p(x|z)] (the distortion) rises at every step up in cap."""
        return bool(np.all(np.diff(self.nll) > 0))


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
