"""Notebook 2's figures: WMF's objective during ALS, its item map, validation NDCG@100
against the rank k, and linear maps against a one-hidden-layer network on the either-or
taste."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from ..data.genres import specific_genres
from ..toys.nonlinear_taste import KINDS, EitherOrData, mean_by_kind

__all__ = ["plot_als_objective", "log_popularity", "item_map_colours", "plot_rank_sweep",
           "plot_either_or_fits"]


def plot_als_objective(loss_history, k: int):
    """WMF's objective (Hu et al. 2008; paper §4.2's baseline) after each ALS sweep, for a
    model of rank ``k``: each sweep solves one side's ridge regressions exactly, so the
    curve can only go down."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(range(1, len(loss_history) + 1), loss_history, marker="o")
    ax.set(xlabel="ALS sweep", ylabel="WMF objective", title=f"ALS lowers the objective at every sweep (k = {k})")
    ax.grid(alpha=0.3)
    return fig


def log_popularity(train: sp.csr_matrix) -> np.ndarray:
    """``log10(1 + training clicks)`` of every item (column)."""
    return np.log10(1 + np.asarray(train.sum(axis=0)).ravel())


def item_map_colours(train: sp.csr_matrix, item_ids, table, n_named: int = 6) -> tuple:
    """What colours the items on the map of :func:`vaecf.plots.results.plot_item_map`, and which are named.

    With genres (MovieLens with its movies file) each item is coloured by its most specific
    genre and the most clicked item of each of the ``n_named`` commonest genres is named;
    without them (synthetic data) the colour is :func:`log_popularity` and none is named.

    Returns ``(colour per item, what the colour shows, {column: title})``.
    """
    if not table.item_genres:
        return log_popularity(train), "log10(1 + training clicks)", {}
    item_clicks = np.asarray(train.sum(axis=0)).ravel()
    colour = specific_genres(item_ids, table.item_genres)
    genres, counts = np.unique(colour, return_counts=True)
    names = {}
    for genre in genres[np.argsort(-counts, kind="stable")][:n_named]:
        rows = np.flatnonzero(colour == genre)
        top = int(rows[np.argmax(item_clicks[rows])])
        names[top] = table.item_name(item_ids[top])
    return colour, "most specific genre", names


def plot_rank_sweep(ndcg_by_rank: dict, popularity_ndcg: float):
    """Validation NDCG@100 of WMF against its rank k (log scale), the best k starred and
    the popularity baseline as a dashed floor."""
    best_k = max(ndcg_by_rank, key=ndcg_by_rank.get)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(list(ndcg_by_rank), list(ndcg_by_rank.values()), marker="o", label="WMF")
    ax.scatter([best_k], [ndcg_by_rank[best_k]], marker="*", s=250, color="tab:red", zorder=3,
               label=f"best k = {best_k}")
    ax.axhline(popularity_ndcg, color="grey", linestyle="--", label="popularity")
    ax.set_xscale("log")
    ax.set(xlabel="latent dimension k (log scale)", ylabel="validation NDCG@100",
           title="Validation NDCG@100 against k (★ = the rank we keep)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_either_or_fits(data: EitherOrData, fits: dict):
    """Left: held-out squared error of the best linear map of each rank, against the network
    and the oracle. Right: each kind of user's mean predicted C score under the best linear
    map and the network, beside the true click rate.

    Args:
        data: the either-or clicks (for the true click rates).
        fits: what :func:`vaecf.toys.nonlinear_taste.compare_linear_and_network` returned for ``data``.
    """
    fig, (ax_err, ax_kind) = plt.subplots(1, 2, figsize=(13, 4.5))
    ax_err.plot(list(fits["linear_mse"]), list(fits["linear_mse"].values()), marker="o",
                label="best linear map of rank k")
    ax_err.axhline(fits["network_mse"], color="tab:red", label="one hidden layer (8 tanh units)")
    ax_err.axhline(fits["oracle_mse"], color="grey", linestyle=":", label="oracle (true tastes)")
    ax_err.set(xlabel="rank k of the linear map (0 = predict the average)",
               ylabel="squared error on held-out users",
               title="No rank helps the linear map;\nthe network comes far closer to the oracle")
    ax_err.legend()
    ax_err.grid(alpha=0.3)
    width = 0.38
    positions = np.arange(len(KINDS))
    linear_label = (f"best linear map (rank {fits['best_rank']}"
                    + (": a constant)" if fits["best_rank"] == 0 else ")"))
    for offset, (label, scores) in zip((-width / 2, width / 2),
                                       ((linear_label, fits["linear_scores"]),
                                        ("network", fits["network_scores"]))):
        means = mean_by_kind(scores, fits["test_kind"])
        ax_kind.bar(positions + offset, [means[kind] for kind in KINDS], width, label=label)
    truth_rate = [data.p_like if kind in ("A only", "B only") else data.p_other for kind in KINDS]
    ax_kind.scatter(positions, truth_rate, marker="_", s=900, color="black", zorder=3,
                    label="true click rate")
    ax_kind.set_xticks(positions, KINDS)
    ax_kind.set(xlabel="kind of user", ylabel="mean predicted score of a C film",
                title="Only the network scores C films high\nfor 'A only' and 'B only' users")
    ax_kind.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax_kind.set_ylim(0, 1.05)
    fig.tight_layout()
    return fig
