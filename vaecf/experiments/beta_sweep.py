"""Notebook 6 and the β-slider demo: what the KL weight β does, from one Mult-VAE trained per
β on a grid, measured and cached.

The β-ELBO of the paper's eq. (6) is

    L_β(x; θ, φ) = E_q[log p_θ(x | z)] − β · KL(q_φ(z | x) ‖ p(z)),

a trade between *distortion* (the reconstruction term −E_q[log p_θ(x | z)]) and *rate*
(the KL term). For each β of a grid this module trains one Mult-VAE with β held
constant from the first step (``TrainConfig(anneal_steps=1, beta_cap=β)``: β = 0 for the
first batch only, then the cap), keeps the epoch with the best validation NDCG@100 (as
:func:`vaecf.train.fit` always does) and records, on the validation users:

- both terms of eq. (6), measured on their fold-in clicks without dropout, averaged
  over ``n_samples`` draws z ~ q per user (seeded);
- validation NDCG@100;
- a 2-D PCA projection of the posterior means μ_φ(x_u);
- per-user properties to colour that projection by (activity; for synthetic data the
  true taste cluster).

A second, single run anneals β from 0 with no cap (``beta_cap=1``, reaching 1 at the last
step): its history (β and validation NDCG@100 per epoch) is the paper's annealing curve
(its Figure 1), from which the paper picks β.

Everything is saved under one folder (``.npz`` arrays + ``.json`` settings and
histories) keyed by the data split and the settings, so a notebook trains once and
afterwards loads: the sliders in :mod:`vaecf.widgets` then only redraw.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .comparison import PairedDifference, paired_difference
from ..data.genres import leaning_genres
from ..data.protocol import Split
from ..data.synthetic import SyntheticTruth
from ..metrics import evaluate
from ..models.autoencoders import MultVAE
from ..models.gaussian import kl_to_standard_normal, reparameterise
from ..models.inputs import csr_to_torch
from ..train import TrainConfig, fit, fixed_run_window

__all__ = ["BetaSweep", "SweepSettings", "user_properties", "pca_2d", "measure_beta_terms",
           "train_beta", "run_beta_sweep", "train_or_load_sweep", "DEFAULT_BETAS"]

DEFAULT_BETAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
_FORMAT = 2


@dataclass
class SweepSettings:
    """How every model of a sweep is built and trained (the cache key, with the split)."""

    betas: tuple = DEFAULT_BETAS
    epochs: int = 30
    batch_size: int = 500
    lr: float = 1e-3
    hidden_dims: tuple = (600,)
    latent_dim: int = 200
    dropout: float = 0.5
    seed: int = 0
    n_samples: int = 4
    anneal_run: bool = True

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.hidden_dims = tuple(int(d) for d in self.hidden_dims)
        if not self.betas:
            raise ValueError("betas is empty; give at least one β, e.g. (0.0, 0.2, 1.0).")
        if any(not (b >= 0 and math.isfinite(b)) for b in self.betas):
            raise ValueError(f"every β must be a finite number ≥ 0, got {list(self.betas)}.")
        if len(set(self.betas)) != len(self.betas):
            raise ValueError(f"betas contains duplicates: {list(self.betas)}; list each β once.")
        if int(self.n_samples) != self.n_samples or self.n_samples < 1:
            raise ValueError(f"n_samples must be a positive whole number, got {self.n_samples!r}.")
        # the training settings are checked by TrainConfig itself
        self.train_config(self.betas[0])

    def train_config(self, beta: float, annealed: bool = False) -> TrainConfig:
        """Constant β (``anneal_steps=1``), or for the annealing run β: 0 → 1 over the run."""
        common = dict(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, seed=self.seed)
        if annealed:
            return TrainConfig(beta_cap=1.0, anneal_fraction=1.0, **common)
        return TrainConfig(beta_cap=float(beta), anneal_steps=1, **common)

    def build_model(self, n_items: int, device) -> MultVAE:
        torch.manual_seed(self.seed)
        return MultVAE(n_items, hidden_dims=self.hidden_dims, latent_dim=self.latent_dim,
                       dropout=self.dropout).to(device)

    def key(self, split: Split) -> str:
        """A short hash of the settings and the split: the cache file's name."""
        text = json.dumps({"settings": asdict(self), "split": split.fingerprint(),
                           "format": _FORMAT}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class BetaSweep:
    """Per β (sorted increasing): eq. (6)'s two terms, validation NDCG@100 and μ in 2-D.

    Attributes:
        betas: (B,) the KL weights.
        reconstruction: (B,) mean −E_q[log p(x|z)] over validation users (nats, the distortion).
        kl: (B,) mean KL(q(z|x) ‖ N(0, I)) over validation users (nats, the rate).
        ndcg: (B,) validation NDCG@100 of the model kept for each β.
        latent: (B, U, 2) the validation users' μ projected on its first two principal axes.
        explained: (B, 2) share of the variance of μ on those two axes.
        properties: ``{name: (U,) array}`` to colour the users by.
        histories: one training history per β (see :func:`vaecf.train.fit`).
        anneal_history: the history of the run annealed from β = 0 to 1 (or empty).
        info: the settings and data description the sweep was made with.
        ndcg_per_user: (B, U) each validation user's NDCG@100 under each β's kept model,
            for paired comparisons (:meth:`paired`).
    """

    betas: np.ndarray
    reconstruction: np.ndarray
    kl: np.ndarray
    ndcg: np.ndarray
    latent: np.ndarray
    explained: np.ndarray
    properties: dict
    histories: list = field(default_factory=list)
    anneal_history: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    ndcg_per_user: np.ndarray | None = None

    def __post_init__(self):
        b = len(self.betas)
        for name in ("reconstruction", "kl", "ndcg"):
            if len(getattr(self, name)) != b:
                raise ValueError(f"{name} has {len(getattr(self, name))} values for {b} β values.")
        if self.latent.ndim != 3 or self.latent.shape[0] != b or self.latent.shape[2] != 2:
            raise ValueError(f"latent must have shape (β values, users, 2), got {self.latent.shape}.")
        for name, values in self.properties.items():
            if len(values) != self.latent.shape[1]:
                raise ValueError(f"property {name!r} has {len(values)} values for "
                                 f"{self.latent.shape[1]} users.")
        if self.ndcg_per_user is not None and self.ndcg_per_user.shape != self.latent.shape[:2]:
            raise ValueError(f"ndcg_per_user must have shape (β values, users) = "
                             f"{self.latent.shape[:2]}, got {self.ndcg_per_user.shape}.")

    @property
    def best_beta(self) -> float:
        return float(self.betas[int(np.argmax(self.ndcg))])

    def best_epochs(self) -> list[int]:
        """Per β, the epoch of its best validation NDCG@100 (the model kept), from its history."""
        return [max(history, key=lambda record: record["val_ndcg@100"])["epoch"]
                for history in self.histories]

    def still_improving(self) -> dict:
        """``{β: (best epoch, epochs run)}`` for every run whose best epoch lies in the last
        tenth of its fixed budget (:func:`vaecf.train.fixed_run_window`, the rule of
        :class:`vaecf.train.TrainResult`): it was still improving when the budget ran out, so
        its score understates where it would end."""
        unfinished = {}
        for beta, best, history in zip(self.betas, self.best_epochs(), self.histories):
            budget = len(history)
            if best > budget - fixed_run_window(budget):
                unfinished[float(beta)] = (best, budget)
        return unfinished

    def index(self, beta: float) -> int:
        """Position of ``beta`` in the grid; a clear error if it was not trained."""
        hits = np.flatnonzero(np.isclose(self.betas, float(beta), rtol=0, atol=1e-9))
        if hits.size == 0:
            raise KeyError(f"β = {beta} is not in this sweep (it has {self.betas.tolist()}); "
                           "pick one of those or train it with train_beta(...) and add_point(...).")
        return int(hits[0])

    def paired(self, beta_a: float, beta_b: float) -> PairedDifference:
        """Validation NDCG@100 of the model at ``beta_a`` minus that at ``beta_b``, user by user."""
        if self.ndcg_per_user is None:
            raise ValueError("this sweep has no per-user NDCG; train it again with this version.")
        a, b = self.ndcg_per_user[self.index(beta_a)], self.ndcg_per_user[self.index(beta_b)]
        return paired_difference(a, b, f"constant β = {beta_a:g}", f"constant β = {beta_b:g}")

    def add_point(self, point: dict) -> "BetaSweep":
        """A new sweep with one more β (a dict from :func:`train_beta`); replaces an equal β."""
        keep = ~np.isclose(self.betas, point["beta"], rtol=0, atol=1e-9)
        order = np.argsort(np.r_[self.betas[keep], point["beta"]], kind="stable")

        def merged(old, new):
            return np.concatenate([old[keep], np.asarray(new)[None]])[order]

        histories = [h for h, k in zip(self.histories, keep) if k] + [point["history"]]
        per_user = (None if self.ndcg_per_user is None
                    else merged(self.ndcg_per_user, point["ndcg_per_user"]))
        return BetaSweep(merged(self.betas, point["beta"]),
                         merged(self.reconstruction, point["reconstruction"]),
                         merged(self.kl, point["kl"]), merged(self.ndcg, point["ndcg"]),
                         merged(self.latent, point["latent"]),
                         merged(self.explained, point["explained"]), dict(self.properties),
                         [histories[i] for i in order], list(self.anneal_history), dict(self.info),
                         per_user)

    def save(self, path) -> Path:
        """Write ``path.npz`` (arrays) and ``path.json`` (histories, info); returns the npz."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"betas": self.betas, "reconstruction": self.reconstruction, "kl": self.kl,
                  "ndcg": self.ndcg, "latent": self.latent, "explained": self.explained}
        if self.ndcg_per_user is not None:
            arrays["ndcg_per_user"] = self.ndcg_per_user
        arrays.update({f"property:{k}": v for k, v in self.properties.items()})
        npz = path.with_suffix(".npz")
        np.savez_compressed(npz, **arrays)
        meta = {"format": _FORMAT, "histories": self.histories,
                "anneal_history": self.anneal_history, "info": self.info}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        return npz

    @classmethod
    def load(cls, path) -> "BetaSweep":
        """Read a sweep written by :meth:`save` (give the path with or without suffix)."""
        path = Path(path)
        npz, meta_path = path.with_suffix(".npz"), path.with_suffix(".json")
        for p in (npz, meta_path):
            if not p.exists():
                raise FileNotFoundError(f"No saved β sweep at {p}; run run_beta_sweep(...) "
                                        "or train_or_load_sweep(...) to make one.")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{meta_path} was written in format {meta.get('format')}, this "
                             f"code reads format {_FORMAT}; delete it and train again.")
        with np.load(npz) as data:
            arrays = {k: data[k] for k in data.files}
        properties = {k.split(":", 1)[1]: arrays.pop(k) for k in list(arrays)
                      if k.startswith("property:")}
        return cls(properties=properties, histories=meta["histories"],
                   anneal_history=meta["anneal_history"], info=meta["info"], **arrays)


def user_properties(split: Split, truth: SyntheticTruth | None = None,
                    item_genres: dict | None = None) -> dict:
    """What to colour the validation users by: fold-in clicks, the true taste cluster
    (synthetic data) and the genre each user leans towards (MovieLens with its movies file;
    :func:`vaecf.data.genres.leaning_genres`, against the training users' clicks).

    Synthetic user ids are row numbers of the generator's tables, so the cluster of
    validation user ``split.valid_users[j]`` is ``truth.clusters[split.valid_users[j]]``.
    """
    props = {}
    if item_genres:  # first, so plots and the slider colour by it unless told otherwise
        props["leaning genre"] = leaning_genres(split.valid_fold_in, split.item_ids, item_genres,
                                                reference=split.train)
    props["activity (fold-in clicks)"] = (
        np.asarray(split.valid_fold_in.sum(axis=1)).ravel().astype(np.float64))
    if truth is not None:
        users = np.asarray(split.valid_users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= truth.clusters.size):
            raise ValueError("the split's user ids do not index the synthetic truth; give the "
                             "truth that make_synthetic returned with this very table.")
        props["true taste cluster"] = truth.clusters[users].astype(np.int64)
    return props


def pca_2d(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project rows on their first two principal axes (SVD of the centred matrix).

    Each axis's sign is fixed so that its largest loading is positive, which makes the
    picture reproducible. Returns the (n, 2) projection and the share of variance on each
    axis. With fewer than two dimensions the missing axis is zero.
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 2:
        raise ValueError(f"need a (users, dims) matrix with at least two users, got {points.shape}.")
    centred = points - points.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, s.size)
    signs = np.sign(vt[np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])
    signs[signs == 0] = 1.0
    projection = np.zeros((points.shape[0], 2))
    projection[:, :k] = u[:, :k] * s[:k] * signs
    total = float((s ** 2).sum())
    explained = np.zeros(2)
    if total > 0:
        explained[:k] = s[:k] ** 2 / total
    return projection, explained


@torch.no_grad()
def measure_beta_terms(model: MultVAE, clicks, n_samples: int = 4, seed: int = 0,
                       batch_size: int = 2000) -> dict:
    """Eq. (6)'s terms on a CSR batch of users, without dropout; and the means μ.

    Returns ``reconstruction`` (mean over users of −E_q[log p(x|z)], estimated with
    ``n_samples`` draws z = μ + σ·ε), ``kl`` (mean closed-form KL to N(0, I)) and ``mu``
    (users × latent).
    """
    was_training = model.training
    model.eval()
    generator = torch.Generator(device=model.device).manual_seed(seed)
    recon, kl, mus = 0.0, 0.0, []
    for start in range(0, clicks.shape[0], batch_size):
        x = csr_to_torch(clicks[start:start + batch_size], model.device)
        mu, logvar = model.encode(x)
        kl += kl_to_standard_normal(mu, logvar).sum().item()
        for _ in range(n_samples):
            z = reparameterise(mu, logvar, generator=generator)
            recon -= model.likelihood(model.decode(z), x).sum().item() / n_samples
        mus.append(mu.cpu().numpy())
    model.train(was_training)
    n = clicks.shape[0]
    return {"reconstruction": recon / n, "kl": kl / n, "mu": np.concatenate(mus)}


def train_beta(split: Split, beta: float, settings: SweepSettings | None = None,
               device=None, progress: bool = False) -> dict:
    """Train one Mult-VAE at constant ``beta`` and measure it: one point of a sweep.

    Fast enough to call from a widget on small data (e.g. synthetic ``"tiny"``).
    """
    settings = settings or SweepSettings()
    if not (beta >= 0 and math.isfinite(beta)):
        raise ValueError(f"β must be a finite number ≥ 0, got {beta}.")
    device = torch.device(device or "cpu")
    model = settings.build_model(split.n_items, device)
    result = fit(model, split, settings.train_config(beta), progress=progress)
    terms = measure_beta_terms(model, split.valid_fold_in, settings.n_samples, settings.seed)
    latent, explained = pca_2d(terms["mu"])
    per_user = evaluate(model.score, split.valid_fold_in, split.valid_target, ks_recall=())["ndcg@100"]
    return {"beta": float(beta), "reconstruction": terms["reconstruction"], "kl": terms["kl"],
            "ndcg": result.best_score, "latent": latent, "explained": explained,
            "history": result.history, "ndcg_per_user": per_user}


def run_beta_sweep(split: Split, settings: SweepSettings | None = None,
                   truth: SyntheticTruth | None = None, device=None,
                   progress: bool = True, info: dict | None = None,
                   item_genres: dict | None = None) -> BetaSweep:
    """Train and measure one Mult-VAE per β (and the annealing run); see the module doc.
    ``truth`` and ``item_genres`` add user properties (:func:`user_properties`)."""
    settings = settings or SweepSettings()
    points = [train_beta(split, b, settings, device)
              for b in tqdm(sorted(settings.betas), desc="β sweep", disable=not progress)]
    anneal_history = []
    if settings.anneal_run:
        model = settings.build_model(split.n_items, torch.device(device or "cpu"))
        anneal_history = fit(model, split, settings.train_config(0.0, annealed=True),
                             progress=progress).history
    meta = {"settings": asdict(settings), "split_fingerprint": split.fingerprint(),
            "valid_users": int(split.valid_fold_in.shape[0]), "n_items": int(split.n_items),
            **(info or {})}
    return BetaSweep(
        betas=np.array([p["beta"] for p in points]),
        reconstruction=np.array([p["reconstruction"] for p in points]),
        kl=np.array([p["kl"] for p in points]), ndcg=np.array([p["ndcg"] for p in points]),
        latent=np.stack([p["latent"] for p in points]),
        explained=np.stack([p["explained"] for p in points]),
        properties=user_properties(split, truth, item_genres),
        histories=[p["history"] for p in points],
        anneal_history=anneal_history, info=meta,
        ndcg_per_user=np.stack([p["ndcg_per_user"] for p in points]))


def train_or_load_sweep(folder, split: Split, settings: SweepSettings | None = None,
                        truth: SyntheticTruth | None = None, device=None,
                        progress: bool = True, info: dict | None = None,
                        item_genres: dict | None = None) -> BetaSweep:
    """Load the sweep for this split and these settings from ``folder`` if saved, else train it.

    The file name is a hash of the settings and the split, so other settings or data
    never load a stale sweep. Prints which of the two happened. The user properties are
    computed afresh from the split either way (they cost no training).
    """
    settings = settings or SweepSettings()
    path = Path(folder) / f"beta_sweep-{settings.key(split)}"
    if path.with_suffix(".npz").exists() and path.with_suffix(".json").exists():
        sweep = BetaSweep.load(path)
        sweep.properties = user_properties(split, truth, item_genres)
        print(f"Loaded the β sweep from {path.with_suffix('.npz')} (delete it to train again).")
        return sweep
    sweep = run_beta_sweep(split, settings, truth, device, progress, info, item_genres)
    npz = sweep.save(path)
    print(f"Trained {len(sweep.betas)} models and saved the β sweep to {npz}.")
    return sweep
