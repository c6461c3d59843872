"""Comparing models: paired differences on the same users, and our test results beside
the published ones (DESIGN §5) as one table.

Two models scored on the same held-out users are compared by the per-user difference of
their metric: its mean, and the standard error of that mean. Because both models meet the
same easy and hard users, this error is far smaller than the two models' own standard
errors combined as if they were independent (which ignores the users they share).
"One model beats another" means the mean difference exceeds :data:`BEATS_SIGMAS` paired
standard errors.

Nothing here trains: the table takes the ``results`` dict of :func:`vaecf.experiments.reproduce.reproduce`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..reference import ML1M_NDCG100, PAPER_ML20M, PAPER_RESULTS

__all__ = ["METRICS", "BEATS_SIGMAS", "PairedDifference", "paired_difference",
           "compare_results", "unconverged_models", "describe_run", "side_by_side", "ML1M_REFERENCE_NAMES", "reference_for", "comparison_table"]

METRICS = ("recall@20", "recall@50", "ndcg@100")
BEATS_SIGMAS = 2.0
"""A model beats another when the mean per-user difference exceeds this many paired s.e."""


@dataclass(frozen=True)
class PairedDifference:
    """Model ``a`` against model ``b`` on the same ``n`` users."""

    a: str
    b: str
    mean_a: float
    mean_b: float
    difference: float  # mean of (a − b) over the users
    stderr: float  # standard error of that mean: std(a − b, ddof=1) / sqrt(n)
    n: int

    @property
    def z(self) -> float:
        """The difference in paired standard errors (±inf when every user's difference is equal)."""
        if self.stderr > 0:
            return self.difference / self.stderr
        return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)

    def beats(self, sigmas: float = BEATS_SIGMAS) -> bool:
        """True when ``a`` is better than ``b`` by more than ``sigmas`` paired standard errors."""
        return self.z > sigmas

    def verdict(self, sigmas: float = BEATS_SIGMAS) -> str:
        """"beats", "is beaten by" or "is level with" (within ``sigmas`` standard errors)."""
        if self.z > sigmas:
            return "beats"
        if self.z < -sigmas:
            return "is beaten by"
        return "is level with"

    def describe(self, metric: str = "NDCG@100", sigmas: float = BEATS_SIGMAS) -> str:
        """One sentence: the verdict, both means and the paired difference with its error."""
        return (f"{self.a} {self.verdict(sigmas)} {self.b} on {metric}: {self.mean_a:.4f} vs "
                f"{self.mean_b:.4f}, paired difference {self.difference:+.4f} ± {self.stderr:.4f} "
                f"({self.z:+.1f} s.e., {self.n} users)")

    def evidence(self) -> dict:
        """The numbers behind the verdict, JSON-ready (for a recorded claim)."""
        return {"a": self.a, "b": self.b, "mean_a": self.mean_a, "mean_b": self.mean_b,
                "difference": self.difference, "stderr": self.stderr, "n": self.n}


def paired_difference(a_per_user, b_per_user, a: str = "A", b: str = "B") -> PairedDifference:
    """Compare two models' per-user metric values (the same users, in the same order)."""
    a_values = np.asarray(a_per_user, dtype=np.float64)
    b_values = np.asarray(b_per_user, dtype=np.float64)
    if a_values.ndim != 1 or a_values.shape != b_values.shape:
        raise ValueError(f"paired_difference needs two 1-D arrays over the same users; got shapes "
                         f"{a_values.shape} and {b_values.shape}.")
    if a_values.size < 2:
        raise ValueError(f"a paired standard error needs at least 2 users; got {a_values.size}. "
                         "Hold out more users.")
    if not (np.isfinite(a_values).all() and np.isfinite(b_values).all()):
        raise ValueError("paired_difference got NaN or infinite per-user values.")
    diff = a_values - b_values
    return PairedDifference(a=a, b=b, mean_a=float(a_values.mean()), mean_b=float(b_values.mean()),
                            difference=float(diff.mean()),
                            stderr=float(diff.std(ddof=1) / np.sqrt(diff.size)), n=int(diff.size))


def compare_results(results: dict, a: str, b: str, metric: str = "ndcg@100") -> PairedDifference:
    """The paired difference of two models of a ``results`` dict, from their recorded
    per-user test values (``results["models"][name]["test_per_user"][metric]``)."""
    models = results.get("models", {})
    missing = [name for name in (a, b) if name not in models]
    if missing:
        raise ValueError(f"no model named {', '.join(missing)} in the results; they hold "
                         f"{', '.join(models)}.")
    try:
        values = [models[name]["test_per_user"][metric] for name in (a, b)]
    except KeyError:
        raise ValueError(f"the results hold no per-user test {metric} (written by vaecf ≥ 0.4); "
                         "rerun reproduce to compare models pairwise.") from None
    return paired_difference(values[0], values[1], a, b)

ML1M_REFERENCE_NAMES = {
    "Popularity": "Popularity",
    "EASE": "EASE",
    "Mult-DAE": "Mult-DAE (authors' code)",
    "Mult-VAE": "Mult-VAE (authors' code, annealing reaches the cap)",
}
"""Our model names -> the entries of :data:`vaecf.reference.ML1M_NDCG100` they compare to."""


def unconverged_models(results: dict) -> list[str]:
    """The models of a ``results`` dict whose best epoch was within the last patience
    window of their budget: still improving when training ended."""
    return [name for name, entry in results.get("models", {}).items()
            if entry.get("converged") is False]


def describe_run(results: dict) -> str:
    """What a ``results`` dict was run on and how: the data and its counts after the
    protocol, the split, seed, epochs, device and versions, then each model's training time
    (and, for an autoencoder, its best epoch, the epochs it ran and its budget)."""
    counts, protocol = results["counts"], results["protocol"]
    size = f" (synthetic size {results['synthetic_size']})" if "synthetic_size" in results else ""
    lines = [f"dataset: {results['dataset']}{size}",
             f"after preprocessing: {protocol['users_after_filtering']:,} users, "
             f"{protocol['clicks_after_filtering']:,} clicks, {protocol['items_clicked']:,} items",
             f"split: {counts['train_users']:,} train / {counts['valid_users']:,} validation / "
             f"{counts['test_users']:,} test users; {counts['items']:,} items seen in training",
             f"seed {results['seed']} (split, initialisation and batches), epochs: {results['epochs']}, "
             f"device {results['device']}, torch {results['torch_version']}, vaecf {results['vaecf_version']}"]
    for name, entry in results["models"].items():
        extra = (f", best epoch {entry['best_epoch']} of {entry['epochs_run']} run (budget "
                 f"{entry['budget_epochs']})" if "best_epoch" in entry else "")
        lines.append(f"  {name:<30} trained in {entry['train_seconds']:8.1f} s{extra}")
    return "\n".join(lines)


def side_by_side(runs: dict, metric: str = "ndcg@100") -> pd.DataFrame:
    """One column per run (``{label: results dict}``) plus the paper's ML-20M column and
    the authors' code on ML-1M, one row per model; NaN where a run has no such model."""
    columns = {"paper, ML-20M": {name: entry[metric] for name, entry in PAPER_ML20M.items()}}
    if metric == "ndcg@100":
        columns["authors' code, ML-1M"] = {ours: ML1M_NDCG100[theirs]
                                           for ours, theirs in ML1M_REFERENCE_NAMES.items()}
    for label, results in runs.items():
        columns[label] = {name: entry["test"][metric] for name, entry in results["models"].items()}
    names = list(dict.fromkeys(name for column in columns.values() for name in column))
    table = pd.DataFrame({label: [column.get(name, math.nan) for name in names]
                          for label, column in columns.items()}, index=names)
    table.index.name = f"test {metric.upper()}"
    return table


def reference_for(dataset: str) -> tuple[dict, str]:
    """Published numbers for ``dataset`` as ``{model: {metric: value}}``, and their source.

    ML-20M, Netflix, MSD: the paper's Table 2. ML-1M: test NDCG@100 measured with the
    authors' code (and EASE) under the same protocol. Other data sets have none (an empty
    dict).
    """
    if dataset in PAPER_RESULTS:
        return PAPER_RESULTS[dataset], "paper (Liang et al. 2018, Table 2)"
    if dataset == "ml-1m":
        table = {ours: {"ndcg@100": ML1M_NDCG100[theirs]}
                 for ours, theirs in ML1M_REFERENCE_NAMES.items()}
        return table, "measured on ML-1M with the authors' code, same protocol"
    return {}, ""


def comparison_table(results: dict, metrics=METRICS) -> pd.DataFrame:
    """One row per model in ``results["models"]``: test metrics, the standard error of the
    last metric and training seconds; then, as the last column, the reference value when
    one is published, or on synthetic data each model's share of the oracle's score (the
    best any model can be expected to do).
    """
    models = results.get("models")
    if not models:
        raise ValueError("results holds no models; pass the dict that vaecf.experiments.reproduce.reproduce returned.")
    reference, _ = reference_for(results["dataset"])
    key = metrics[-1]
    oracle = next((entry["test"][key] for name, entry in models.items()
                   if name.startswith("Oracle")), None)
    rows = []
    for name, entry in models.items():
        row = {"model": name}
        for metric in metrics:
            row[metric.upper()] = entry["test"][metric]
        row[f"± s.e. ({key.upper()})"] = entry.get("test_stderr", {}).get(key, float("nan"))
        row["train seconds"] = entry.get("train_seconds", float("nan"))
        if reference:
            row[f"reference {key.upper()}"] = reference.get(name, {}).get(key, float("nan"))
        if oracle:
            row[f"share of oracle {key.upper()}"] = entry["test"][key] / oracle
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")
