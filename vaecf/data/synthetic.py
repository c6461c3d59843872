"""A synthetic click generator with a known, non-linear ground truth.

Each user belongs to one of ``n_clusters`` taste clusters and has a latent taste
``t_u = m_c + s·ε`` (``ε ~ N(0, I)``). A fixed random one-hidden-layer network maps the
taste to item logits, and items carry a power-law popularity bias:

    logit_ui = b_i + temperature · w_i · tanh(A t_u + a)

with ``b_i = −popularity_exponent · log r_i − tail_steepness · (r_i / n_items)²`` for the
item of popularity rank ``r_i`` (Zipf, falling faster in the far tail), so click
probabilities are ``softmax_i(logit_u)``: the form of the paper's eq. (1) with a
non-linear ``f``. Cluster sizes can be unequal (a few common tastes, many niche ones).
User activity is heavy-tailed (log-normal). A user with ``n_u`` clicks gets ``n_u``
*distinct* items drawn from those probabilities without replacement (Gumbel top-k), so
the clicks are not exactly multinomial. Because the generator keeps the true logits, an
*oracle* that ranks items by the true probabilities can be scored beside every model.

Nothing of size users × items is ever held in memory: users are generated in chunks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ratings import RatingTable

__all__ = ["SyntheticTruth", "make_synthetic", "SYNTHETIC_SIZES"]

# Named sizes, from the unit tests' toy to an ML-20M-sized matrix.
SYNTHETIC_SIZES = {
    "tiny": dict(n_users=300, n_items=120),
    "small": dict(n_users=3_000, n_items=600),
    "medium": dict(n_users=12_000, n_items=2_000),
    # Calibrated to ML-1M after the protocol (notebook 1 sets the two side by side): item
    # Gini, head share, density, clicks per user and popularity's NDCG@100 close to ML-1M's.
    "ml-1m": dict(n_users=6_040, n_items=3_706, mean_clicks=102, activity_sigma=1.1,
                  temperature=3.5, popularity_exponent=0.8, tail_steepness=8.0,
                  n_clusters=20, cluster_exponent=1.0, taste_spread=0.3),
    "ml-20m": dict(n_users=136_677, n_items=20_720, mean_clicks=73),
}


@dataclass
class SyntheticTruth:
    """The generator's parameters: everything needed to recompute true click probabilities."""

    clusters: np.ndarray  # (users,) taste cluster of each user
    tastes: np.ndarray  # (users, taste_dim)
    hidden_weights: np.ndarray  # A: (hidden, taste_dim)
    hidden_bias: np.ndarray  # a: (hidden,)
    item_weights: np.ndarray  # w: (items, hidden)
    item_bias: np.ndarray  # b: (items,), log popularity
    temperature: float

    def logits(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """True logits for rows ``users`` (raw user ids), columns ``items`` (default: all)."""
        hidden = np.tanh(self.tastes[users] @ self.hidden_weights.T + self.hidden_bias)
        weights = self.item_weights if items is None else self.item_weights[items]
        bias = self.item_bias if items is None else self.item_bias[items]
        return (self.temperature * hidden @ weights.T + bias).astype(np.float32)

    def probabilities(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """True click probabilities π_u (rows sum to one over the chosen items)."""
        logits = self.logits(users, items)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)


def make_synthetic(n_users: int = 3_000, n_items: int = 600, seed: int = 0, n_clusters: int = 8,
                   taste_dim: int = 6, hidden: int = 32, temperature: float = 2.0,
                   popularity_exponent: float = 1.2, mean_clicks: float = 40.0,
                   activity_sigma: float = 0.8, min_clicks: int = 3,
                   tail_steepness: float = 0.0, cluster_exponent: float = 0.0,
                   taste_spread: float = 0.5,
                   chunk_users: int = 2_000) -> tuple[RatingTable, SyntheticTruth]:
    """Draw a synthetic click table and its ground truth.

    Clicks are stored as 5-star ratings, so the synthetic table passes through the same
    :func:`vaecf.data.paper_split` protocol as MovieLens. User ids are ``0..n_users-1``
    and item ids ``0..n_items-1``.

    Args:
        n_users, n_items: size of the click matrix.
        seed: every random draw comes from this seed.
        n_clusters, taste_dim, hidden: shape of the true taste model.
        cluster_exponent: cluster sizes fall as ``rank^-cluster_exponent`` (0 = equal sizes),
            so a few tastes are common and many are niche, as genres are.
        taste_spread: the spread of users' tastes around their cluster's centre.
        temperature: how sharp each user's preferences are.
        popularity_exponent: Zipf exponent of item popularity (0 = flat).
        tail_steepness: how much faster than Zipf popularity falls in the far tail (0 = not
            at all); real catalogues end in many items that almost nobody clicks.
        mean_clicks, activity_sigma: the log-normal activity (mean clicks per user and
            the spread of log-activity); activity is clipped to [min_clicks, n_items // 2].
    """
    for label, value in (("n_users", n_users), ("n_items", n_items), ("n_clusters", n_clusters),
                         ("taste_dim", taste_dim), ("hidden", hidden), ("min_clicks", min_clicks)):
        if int(value) != value or value < 1:
            raise ValueError(f"{label} must be a positive whole number, got {value!r}.")
    if n_items < 2 * min_clicks:
        raise ValueError(f"n_items={n_items} is too small for users with {min_clicks} clicks; "
                         f"use at least {2 * min_clicks} items.")
    if mean_clicks <= 0 or temperature <= 0:
        raise ValueError("mean_clicks and temperature must be positive.")
    for label, value in (("activity_sigma", activity_sigma), ("popularity_exponent", popularity_exponent),
                         ("tail_steepness", tail_steepness), ("cluster_exponent", cluster_exponent),
                         ("taste_spread", taste_spread)):
        if value < 0:
            raise ValueError(f"{label} must not be negative, got {value!r}.")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.5, size=(n_clusters, taste_dim))
    if cluster_exponent:
        share = np.arange(1.0, n_clusters + 1) ** -cluster_exponent
        clusters = rng.choice(n_clusters, size=n_users, p=share / share.sum())
    else:  # equal sizes: the same draws as before unequal sizes existed, so old data stay the same
        clusters = rng.integers(n_clusters, size=n_users)
    tastes = centres[clusters] + taste_spread * rng.normal(size=(n_users, taste_dim))
    hidden_weights = rng.normal(0.0, 1.0, size=(hidden, taste_dim))
    hidden_bias = rng.normal(0.0, 0.5, size=hidden)
    item_weights = rng.normal(0.0, 1.0 / np.sqrt(hidden), size=(n_items, hidden))
    ranks = rng.permutation(n_items) + 1.0
    item_bias = -popularity_exponent * np.log(ranks) - tail_steepness * (ranks / n_items) ** 2
    truth = SyntheticTruth(clusters, tastes, hidden_weights, hidden_bias, item_weights,
                           item_bias, float(temperature))

    mu = np.log(mean_clicks) - activity_sigma ** 2 / 2  # so E[activity] = mean_clicks
    activity = np.rint(rng.lognormal(mu, activity_sigma, size=n_users)).astype(np.int64)
    activity = np.clip(activity, min_clicks, n_items // 2)

    user_chunks, item_chunks = [], []
    for start in range(0, n_users, chunk_users):
        users = np.arange(start, min(start + chunk_users, n_users))
        logits = truth.logits(users)
        keys = logits + rng.gumbel(size=logits.shape).astype(np.float32)
        most = int(activity[users].max())
        top = np.argpartition(-keys, most - 1, axis=1)[:, :most]
        top_keys = np.take_along_axis(keys, top, axis=1)
        top = np.take_along_axis(top, np.argsort(-top_keys, axis=1), axis=1)
        take = np.arange(most)[None, :] < activity[users][:, None]
        user_chunks.append(np.broadcast_to(users[:, None], top.shape)[take])
        item_chunks.append(top[take])
    user_ids = np.concatenate(user_chunks)
    item_ids = np.concatenate(item_chunks).astype(np.int64)
    ratings = np.full(user_ids.size, 5.0, dtype=np.float32)
    return RatingTable(user_ids, item_ids, ratings, name="synthetic"), truth
