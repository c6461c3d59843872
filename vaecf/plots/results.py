"""Figures from results and histories; nothing here trains a model."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_training_curves", "plot_results", "plot_amortisation_gap", "plot_gap_decomposition", "plot_total_mass",
           "plot_ndcg_by_activity",
           "category_codes", "scatter_coloured", "plot_item_map"]


def plot_training_curves(histories: dict, metric: str = "val_ndcg@100"):
    """Validation NDCG@100 and training loss per epoch, one line per model.

    Args:
        histories: ``{model name: history}`` as returned by :func:`vaecf.train.fit`.
    """
    fig, (ax_metric, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for name, history in histories.items():
        epochs = [h["epoch"] for h in history]
        ax_metric.plot(epochs, [h[metric] for h in history], label=name)
        ax_loss.plot(epochs, [h["loss"] for h in history], label=name)
        best = max(history, key=lambda h: h[metric])
        ax_metric.scatter([best["epoch"]], [best[metric]], marker="*", s=120, zorder=3)
    ax_metric.set(xlabel="epoch", ylabel=metric.replace("val_", "validation "),
                  title="Validation NDCG@100 per epoch (★ = model kept)")
    ax_loss.set(xlabel="epoch", ylabel="training loss (each model's own objective)",
                title="Training loss falls as the models fit")
    for ax in (ax_metric, ax_loss):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def plot_results(results: dict, metric: str = "ndcg@100"):
    """Test ``metric`` per model with ±2 standard errors (from ``results.json``)."""
    models = results["models"]
    names = list(models)
    values = [models[n]["test"][metric] for n in names]
    errors = [2 * models[n].get("test_stderr", {}).get(metric, 0.0) for n in names]
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(names) + 1.5))
    ax.barh(names, values, xerr=errors, color="tab:blue", alpha=0.8)
    for i, (v, e) in enumerate(zip(values, errors)):
        ax.text(v + e, i, f"  {v:.3f}", va="center")  # right of the error bar
    ax.invert_yaxis()
    ax.set(xlabel=f"test {metric.upper()} (±2 s.e.)",
           title=f"{results['dataset']}: every model against popularity (the floor)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_amortisation_gap(gap, activity=None):
    """Histogram of the per-user amortisation gap and, given each user's click count,
    the gap against activity.

    Args:
        gap: a :class:`vaecf.models.amortisation.AmortisationGap`.
        activity: fold-in clicks of each user (same order), optional.
    """
    panels = 2 if activity is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    ax.hist(gap.gap, bins=30, color="tab:purple", alpha=0.8)
    ax.axvline(0, color="black", lw=1)
    ax.axvline(gap.gap.mean(), color="tab:red", ls="--", label=f"mean {gap.gap.mean():.3f}")
    ax.set(xlabel=f"β-ELBO(per-user q*) − β-ELBO(encoder q) [nats], β = {gap.beta:.2f}",
           ylabel="users", title="The amortisation gap is ≥ 0 for (almost) every user")
    ax.legend()
    if activity is not None:
        ax = axes[0, 1]
        ax.scatter(activity, gap.gap, s=10, alpha=0.6)
        ax.axhline(0, color="black", lw=1)
        ax.set(xscale="log", xlabel="fold-in clicks of the user (log scale)",
               ylabel="amortisation gap [nats]", title="Who pays the gap: gap against activity")
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_gap_decomposition(gaps):
    """Histograms of the approximation and amortisation gaps of the toy's users.

    Args:
        gaps: a :class:`vaecf.toys.elbo_gaps.GapDecomposition`.
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    top = max(gaps.approximation_gap.max(), gaps.amortisation_gap.max())
    bins = np.linspace(0, top, 30)
    for values, label, colour in ((gaps.approximation_gap, "approximation gap: log p(x) − ELBO(q*)",
                                   "tab:blue"),
                                  (gaps.amortisation_gap, "amortisation gap: ELBO(q*) − ELBO(q_φ)",
                                   "tab:purple")):
        ax.hist(values, bins=bins, alpha=0.6, color=colour, label=f"{label}, mean {values.mean():.2f}")
    ax.set(xlabel="nats", ylabel="held-out toy users",
           title="Where the ELBO falls short of log p(x): the Gaussian family and the shared encoder")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_total_mass(totals: dict, clicks):
    """Each user's predictions summed over all items against the user's clicks, one panel
    per likelihood (``totals``: ``{likelihood: per-user sums}`` in the order of ``clicks``)."""
    fig, axes = plt.subplots(1, len(totals), figsize=(4.2 * len(totals), 3.6), squeeze=False)
    for ax, (likelihood, values) in zip(axes[0], totals.items()):
        ax.scatter(clicks, values, s=8, alpha=0.5)
        ax.set(xscale="log", xlabel="fold-in clicks of the test user (log scale)",
               ylabel="sum of the predictions over all items", title=likelihood)
        if np.ptp(values) < 1e-6:
            ax.set_ylim(values.mean() - 0.5, values.mean() + 0.5)
        ax.grid(alpha=0.3)
    fig.suptitle("A fixed budget: only the multinomial's predictions sum to one for every user")
    fig.tight_layout()
    return fig


def plot_ndcg_by_activity(breakdowns: dict):
    """Grouped bars: mean NDCG@k (± 1 s.e.) per user-activity group, one bar per model.

    Args:
        breakdowns: ``{model name: ActivityBreakdown}`` from :func:`vaecf.experiments.analysis.ndcg_by_activity`,
            all computed on the same users.
    """
    names = list(breakdowns)
    first = breakdowns[names[0]]
    groups = np.arange(len(first.mean))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for i, name in enumerate(names):
        b = breakdowns[name]
        ax.bar(groups + (i - (len(names) - 1) / 2) * width, b.mean, width, yerr=b.stderr,
               capsize=3, label=name)
    ax.set_xticks(groups, first.labels())
    ax.set(xlabel="users grouped by fold-in clicks (quantiles, fewest first)",
           ylabel=f"test NDCG@{first.k} (± 1 s.e.)",
           title="NDCG@100 by user activity: which users each model serves best")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def category_codes(values, most: int = 9) -> tuple[np.ndarray, list]:
    """Codes and legend labels of a categorical property: integer labels keep their
    order; named ones (genres) are ordered by frequency, and beyond the ``most`` most
    frequent they are pooled as "other" so every colour in the legend stays distinct."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        labels = np.unique(values)
        return np.searchsorted(labels, values), [str(v) for v in labels]
    labels, counts = np.unique(values, return_counts=True)
    order = labels[np.argsort(-counts, kind="stable")]
    if len(order) > most + 1:
        order = np.concatenate([order[:most], ["other"]])
        values = np.where(np.isin(values, order[:most]), values, "other")
    lookup = {label: code for code, label in enumerate(order)}
    return np.array([lookup[v] for v in values]), list(order)


def scatter_coloured(ax, xy, values, what: str):
    """Points coloured by ``values``: categories (integers or names) get a legend, numbers
    a colour bar. ``what`` names the property in the legend or on the colour bar."""
    values = np.asarray(values)
    if values.dtype.kind in "iuU":
        codes, labels = category_codes(values)
        cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
        ax.scatter(xy[:, 0], xy[:, 1], c=codes % cmap.N, cmap=cmap, vmin=0, vmax=cmap.N - 1,
                   s=14, alpha=0.85)
        for code, label in list(enumerate(labels))[:cmap.N]:
            ax.scatter([], [], color=cmap(code % cmap.N), s=14, label=label)
        ax.legend(title=what, fontsize=7, title_fontsize=8, loc="upper right", ncol=2,
                  markerscale=1.5)
    else:
        points = ax.scatter(xy[:, 0], xy[:, 1], c=values, cmap="viridis", s=14, alpha=0.85)
        ax.figure.colorbar(points, ax=ax, label=what)


def plot_item_map(xy, explained, values, what: str, names: dict | None = None):
    """Items' latent vectors on their first two principal axes (from
    :func:`vaecf.experiments.beta_sweep.pca_2d`), coloured by ``values`` (e.g. genre names or
    popularity), with ``names`` ({row: title}) written beside a few items."""
    xy = np.asarray(xy)
    fig, ax = plt.subplots(figsize=(8, 6))
    scatter_coloured(ax, xy, values, what)
    named = sorted(names or {}, key=lambda row: xy[row, 1])
    for rank, row in enumerate(named):  # fanned out vertically so close neighbours stay legible
        ax.annotate(names[row], xy[row], xytext=(10, 11 * (rank - (len(named) - 1) / 2)),
                    textcoords="offset points", fontsize=8, va="center",
                    arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.4"})
    ax.set(xlabel=f"principal axis 1 ({explained[0]:.0%} of variance)",
           ylabel=f"principal axis 2 ({explained[1]:.0%} of variance)",
           title=f"Item vectors on their two main axes, coloured by {what}")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
