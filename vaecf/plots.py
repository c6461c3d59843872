"""Figures from results and histories; nothing here trains a model."""
from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["plot_training_curves", "plot_results"]


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
    ax_loss.set(xlabel="epoch", ylabel="training loss (negative ELBO / objective)",
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
    for i, v in enumerate(values):
        ax.text(v, i, f" {v:.3f}", va="center")
    ax.invert_yaxis()
    ax.set(xlabel=f"test {metric.upper()} (±2 s.e.)",
           title=f"{results['dataset']}: every model against popularity (the floor)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
