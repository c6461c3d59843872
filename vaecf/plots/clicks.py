"""Notebook 1's figures: the click matrix, its long tail, the split, floor and ceiling."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from matplotlib.colors import ListedColormap

from ..data.statistics import ClickStatistics

__all__ = ["most_popular_columns", "plot_matrix_corner", "plot_long_tail", "plot_split_sample",
           "plot_floor_and_ceiling", "statistics_table"]


def most_popular_columns(clicks: sp.csr_matrix, n: int) -> np.ndarray:
    """The columns of the ``n`` most clicked items, most clicked first."""
    return np.argsort(-np.asarray(clicks.sum(axis=0)).ravel(), kind="stable")[:n]


def plot_matrix_corner(clicks: sp.csr_matrix, n_users: int = 40, n_items: int = 60):
    """The most active users against the most popular items (black = click).

    Returns ``(figure, share of ones in the corner)``.
    """
    rows = np.argsort(-np.diff(clicks.indptr), kind="stable")[:n_users]
    corner = clicks[rows][:, most_popular_columns(clicks, n_items)].toarray()
    fig, ax = plt.subplots(figsize=(9, 5))
    ax.imshow(corner, cmap="Greys", aspect="auto", interpolation="nearest")
    ax.set(xlabel=f"item (the {n_items} most popular, most popular first)",
           ylabel=f"user (the {n_users} most active)",
           title=f"The densest corner of the click matrix: {corner.mean():.0%} ones (black = click)")
    return fig, float(corner.mean())


def plot_long_tail(clicks: sp.csr_matrix, head_share: float):
    """Clicks per item against popularity rank (log–log) and the histogram of clicks per user."""
    per_item = np.sort(np.asarray(clicks.sum(axis=0)).ravel())[::-1]
    per_user = np.diff(clicks.indptr)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.loglog(np.arange(1, per_item.size + 1), np.maximum(per_item, 0.8), ".", markersize=3)
    left.set(xlabel="item popularity rank", ylabel="clicks by training users",
             title=f"The long tail: the top 10% of items receive {head_share:.0%} of the clicks")
    bins = np.logspace(np.log10(max(per_user.min(), 1)), np.log10(per_user.max() + 1), 30)
    right.hist(per_user, bins=bins, color="tab:orange")
    right.set_xscale("log")
    right.set(xlabel="clicks per training user (log scale)", ylabel="number of users",
              title=f"Most users click little (median {np.median(per_user):.0f}), "
                    f"a few a lot (max {per_user.max():,})")
    fig.tight_layout()
    return fig


def plot_split_sample(split, n_users: int = 20, n_items: int = 60):
    """A few users of each group against the most popular items, held-out clicks coloured
    by whether the model sees them (fold-in) or must predict them (target)."""
    cols = most_popular_columns(split.train, n_items)
    part = lambda m: m[:n_users][:, cols].toarray()
    panel = np.vstack([part(split.train),
                       2 * part(split.valid_fold_in) + 3 * part(split.valid_target),
                       2 * part(split.test_fold_in) + 3 * part(split.test_target)])
    cmap = ListedColormap(["white", "dimgray", "tab:blue", "tab:red"])
    fig, ax = plt.subplots(figsize=(11, 6))
    ax.imshow(panel, cmap=cmap, vmin=0, vmax=3, aspect="auto", interpolation="nearest")
    for edge in (n_users, 2 * n_users):
        ax.axhline(edge - 0.5, color="black", linewidth=1)
    ax.set_yticks([n_users / 2, 1.5 * n_users, 2.5 * n_users], ["training", "validation", "test"])
    ax.set(xlabel=f"item (the {n_items} most popular)",
           title="Held-out users: blue clicks are shown to the model, red ones must be predicted")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in cmap.colors[1:]],
              labels=["training click", "fold-in (input)", "target (to predict)"],
              loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    return fig


def plot_floor_and_ceiling(results: dict):
    """Bars of each model's mean test metrics with 95% intervals.

    Args:
        results: ``{model: (means, standard errors)}``, each a ``{metric: value}`` dict as
            :func:`vaecf.experiments.reproduce.summarise` returns them.
    """
    metrics = list(next(iter(results.values()))[0])
    width = 0.8 / len(results)
    fig, ax = plt.subplots(figsize=(8, 4))
    for k, (model, (means, errors)) in enumerate(results.items()):
        ax.bar(np.arange(len(metrics)) + k * width, [means[m] for m in metrics], width,
               yerr=[1.96 * errors[m] for m in metrics], capsize=3, label=model)
    ax.set_xticks(np.arange(len(metrics)) + width * (len(results) - 1) / 2, metrics)
    ax.set(ylabel="mean over test users (±95% interval)", ylim=(0, 1))
    title = ("The popularity floor and the oracle ceiling: a model should land between them"
             if "oracle" in results else "The popularity floor: every model must land above it")
    ax.set_title(title)
    ax.legend()
    return fig


_ROWS = [("users", "users", "{:,.0f}"), ("items", "items", "{:,.0f}"),
         ("density", "density", "{:.3f}"), ("item_gini", "Gini of item popularity", "{:.3f}"),
         ("head_share", "clicks on the top 10% of items", "{:.0%}"),
         ("median_clicks_per_user", "clicks per user, median", "{:.0f}"),
         ("p90_clicks_per_user", "clicks per user, 90th percentile", "{:.0f}")]


def statistics_table(columns: dict) -> str:
    """A text table of :class:`ClickStatistics` (or their dicts), one column per dataset."""
    as_dict = {name: s.as_dict() if isinstance(s, ClickStatistics) else dict(s)
               for name, s in columns.items()}
    widths = [max(len(name), 8) + 2 for name in as_dict]
    lines = [f"{'':34s}" + "".join(f"{name:>{w}s}" for name, w in zip(as_dict, widths))]
    for key, label, fmt in _ROWS:
        lines.append(f"{label:34s}" + "".join(f"{fmt.format(s[key]):>{w}s}"
                                             for s, w in zip(as_dict.values(), widths)))
    return "\n".join(lines)
