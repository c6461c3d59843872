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

Gumbel top-k draws one key per user and item. For catalogues of Netflix's or the Million
Song Dataset's size that is most of the time, so ``sampler="stream"`` draws the same
distribution another way: iid draws from ``π_u`` (inverse CDF), whose first ``n_u``
distinct items are a draw without replacement in the same successive (Plackett-Luce)
order; a user whose stream runs short gets the rest by Gumbel top-k over the items not
yet drawn, which continues the same successive draw exactly.

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
    # The paper's Table 1 after preprocessing: users, items and clicks per user.
    "netflix": dict(n_users=463_435, n_items=17_769, mean_clicks=123, min_clicks=5,
                    sampler="stream"),
    "msd": dict(n_users=571_355, n_items=41_140, mean_clicks=59, min_clicks=20,
                sampler="stream"),
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

    def logits_float32(self, users: np.ndarray) -> np.ndarray:
        """:meth:`logits` for all items with the item products in float32 (several times
        faster; equal to about 1e-5), for drawing large catalogues."""
        hidden = np.tanh(self.tastes[users] @ self.hidden_weights.T + self.hidden_bias)
        logits = hidden.astype(np.float32) @ (self.temperature
                                              * self.item_weights.T.astype(np.float32))
        logits += self.item_bias.astype(np.float32)
        return logits

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
                   taste_spread: float = 0.5, sampler: str = "gumbel",
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
        sampler: ``"gumbel"`` (a Gumbel key per user and item) or ``"stream"`` (the same
            distribution from about ``n_u`` draws per user; for large catalogues).
        chunk_users: users drawn at a time (with the stream sampler no more than keeps a
            chunk to about 20 M user-item values).
    """
    if sampler not in ("gumbel", "stream"):
        raise ValueError(f"sampler must be 'gumbel' or 'stream', got {sampler!r}.")
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

    if sampler == "stream":
        chunk_users = max(1, min(chunk_users, 20_000_000 // n_items))
    draw = _gumbel_top_k if sampler == "gumbel" else _stream_top_k
    logits = truth.logits if sampler == "gumbel" else truth.logits_float32
    user_chunks, item_chunks = [], []
    for start in range(0, n_users, chunk_users):
        users = np.arange(start, min(start + chunk_users, n_users))
        chunk_users_ids, chunk_items = draw(logits(users), activity[users], rng)
        user_chunks.append(users[chunk_users_ids])
        item_chunks.append(chunk_items)
    user_ids = np.concatenate(user_chunks)
    item_ids = np.concatenate(item_chunks).astype(np.int64)
    ratings = np.full(user_ids.size, 5.0, dtype=np.float32)
    return RatingTable(user_ids, item_ids, ratings, name="synthetic"), truth


def _gumbel_top_k(logits: np.ndarray, counts: np.ndarray, rng, chosen=None):
    """Rows' ``counts`` distinct items, most likely first, by Gumbel top-k (a key per item).

    ``chosen`` (a boolean mask like ``logits``) marks items a row already has; they are
    left out. Returns (row, item) pairs, each row's items in draw order.
    """
    keys = logits + rng.gumbel(size=logits.shape).astype(np.float32)
    if chosen is not None:
        keys[chosen] = -np.inf
    most = int(counts.max())
    top = np.argpartition(-keys, most - 1, axis=1)[:, :most]
    top_keys = np.take_along_axis(keys, top, axis=1)
    top = np.take_along_axis(top, np.argsort(-top_keys, axis=1), axis=1)
    take = np.arange(most)[None, :] < counts[:, None]
    rows = np.broadcast_to(np.arange(len(counts))[:, None], top.shape)
    return rows[take], top[take]


class _ItemDraws:
    """Items drawn with probability proportional to a row of ``mass``: first a block of
    ``block`` items by the blocks' total mass, then an item within it (exact; each row's
    full mass is read once, to sum its blocks, however many draws follow)."""

    def __init__(self, mass: np.ndarray, block: int = 64):
        n_rows, n_items = mass.shape
        self.n_blocks, self.block = -(-n_items // block), block
        if self.n_blocks * block != n_items:
            mass = np.pad(mass, ((0, 0), (0, self.n_blocks * block - n_items)))
        self.blocks = mass.reshape(n_rows * self.n_blocks, block)
        # One running sum of block masses over all rows: row r's share is (ends[r-1], ends[r]].
        self.cdf = np.cumsum(self.blocks.sum(axis=1, dtype=np.float64))
        self.ends = self.cdf[self.n_blocks - 1::self.n_blocks]
        self.begins = np.r_[0.0, self.ends[:-1]]

    def __call__(self, rows: np.ndarray, rng) -> np.ndarray:
        """One item (column) for each entry of ``rows``."""
        n_blocks = self.n_blocks
        targets = self.begins[rows] + rng.random(rows.size) * (self.ends - self.begins)[rows]
        chosen = np.clip(np.searchsorted(self.cdf, targets, side="right"), rows * n_blocks,
                         rows * n_blocks + n_blocks - 1)  # rounding at a row's ends
        within = np.cumsum(self.blocks[chosen], axis=1, dtype=np.float64)
        targets = rng.random(rows.size) * within[:, -1]
        position = np.minimum((within <= targets[:, None]).sum(axis=1), self.block - 1)
        return (chosen - rows * n_blocks) * self.block + position


def _stream_top_k(logits: np.ndarray, counts: np.ndarray, rng, rounds: int = 4):
    """The same draw as :func:`_gumbel_top_k` from iid draws: the first ``counts`` distinct
    items of each row's stream, in order. The stream starts with ``2 · counts + 32``
    draws; a row with too few distinct items draws on (four times what it lacks, plus 32)
    for up to ``rounds`` rounds, then gets the rest by Gumbel top-k over the items it lacks."""
    n_rows, n_items = logits.shape
    draw = _ItemDraws(np.exp(logits - logits.max(axis=1, keepdims=True)))
    stream_rows = np.zeros(0, dtype=np.int64)
    stream = np.zeros(0, dtype=np.int64)
    wanted, lacking = 2 * counts + 32, np.arange(n_rows)
    for _ in range(rounds):
        new_rows = np.repeat(lacking, wanted[lacking])
        stream_rows = np.concatenate([stream_rows, new_rows])
        stream = np.concatenate([stream, new_rows * n_items + draw(new_rows, rng)])
        order = np.argsort(stream_rows, kind="stable")  # by row, each row in draw order
        stream_rows, stream = stream_rows[order], stream[order]
        rows, items = _first_distinct(stream_rows, stream, counts, n_items)
        have = np.bincount(rows, minlength=n_rows)
        lacking = np.flatnonzero(have < counts)
        if lacking.size == 0:
            return rows, items
        wanted = np.zeros(n_rows, dtype=np.int64)
        wanted[lacking] = 4 * (counts[lacking] - have[lacking]) + 32
    chosen = np.zeros((lacking.size, n_items), dtype=bool)
    position = np.full(n_rows, -1)
    position[lacking] = np.arange(lacking.size)
    in_short = position[rows] >= 0
    chosen[position[rows[in_short]], items[in_short]] = True
    more_rows, more_items = _gumbel_top_k(logits[lacking], counts[lacking] - have[lacking], rng,
                                          chosen)
    rows = np.concatenate([rows, lacking[more_rows]])
    items = np.concatenate([items, more_items])
    order = np.argsort(rows, kind="stable")  # each row: its stream's items, then the rest
    return rows[order], items[order]


def _first_distinct(stream_rows, stream, counts, n_items):
    """Each row's first ``counts`` distinct items, in stream order (rows sorted)."""
    _, first = np.unique(stream, return_index=True)
    first.sort()
    rows, items = stream_rows[first], stream[first] - stream_rows[first] * n_items
    starts = np.searchsorted(rows, np.arange(counts.size))
    keep = np.arange(rows.size) - starts[rows] < counts[rows]
    return rows[keep], items[keep]
