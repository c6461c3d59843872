"""Our test results beside the published ones (DESIGN §5), as one table.

It takes the ``results`` dict of :func:`vaecf.reproduce.reproduce` and never trains.
"""
from __future__ import annotations

import pandas as pd

from .reference import ML1M_NDCG100, PAPER_ML20M

__all__ = ["METRICS", "ML1M_REFERENCE_NAMES", "reference_for", "comparison_table"]

METRICS = ("recall@20", "recall@50", "ndcg@100")

ML1M_REFERENCE_NAMES = {
    "Popularity": "Popularity",
    "EASE": "EASE",
    "Mult-DAE": "Mult-DAE (authors' code)",
    "Mult-VAE": "Mult-VAE (authors' code, annealing reaches the cap)",
}
"""Our model names -> the entries of :data:`vaecf.reference.ML1M_NDCG100` they compare to."""


def reference_for(dataset: str) -> tuple[dict, str]:
    """Published numbers for ``dataset`` as ``{model: {metric: value}}``, and their source.

    ML-20M: the paper's Table 2. ML-1M: test NDCG@100 measured with the authors' code (and
    EASE) under the same protocol. Other data sets have none (an empty dict).
    """
    if dataset == "ml-20m":
        return PAPER_ML20M, "paper (Liang et al. 2018, Table 2)"
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
        raise ValueError("results holds no models; pass the dict that vaecf.reproduce.reproduce returned.")
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
