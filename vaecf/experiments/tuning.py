"""Notebook 9 and ``reproduce --tune``: hyper-parameter search on validation users, as the
paper chose its settings (§4.3).

Each model's grid is small and written down here (:data:`GRIDS`); every setting on it is
fitted on the training users and scored by NDCG@100 on the validation users' held-out
clicks; the best setting (the first one on a tie) is kept, and only it is ever scored on
the test users. :class:`GridSearch` records the grid, every setting's validation score
and time, the choice and the search time, for ``results.json``.

The grids:

* **EASE** (Steck 2019): λ from 50 to 2,000. On ML-1M λ = 500 gave test NDCG@100 0.426;
  on the smaller MovieLens releases the best λ lies at 100–200, so the grid spans both.
* **WMF** (Hu et al. 2008, fitted by ALS): following Rendle et al. (2022, "Revisiting the
  performance of iALS on item recommendation benchmarks"), the embedding size, the
  regularisation and the weight of the clicks against the non-clicks are searched
  together, since a larger embedding needs a stronger penalty: k ∈ {100, 200},
  λ ∈ {30, 100, 300}, α ∈ {3, 10} (α is our confidence of a click, c = 1 + α; their
  weight of an unobserved cell is 1 / (1 + α) on the same scale).
* **Mult-DAE**: input dropout ∈ {0.2, 0.5} and the weight penalty λ ∈ {0.01, 0.1} / 500
  (the paper's 0.01 / batch size, and ten times it).
* **Mult-VAE**: the β cap is chosen by the paper's annealing procedure
  (:func:`vaecf.experiments.annealing.paper_beta_procedure`), not from a grid; see
  :func:`vaecf.experiments.reproduce.run_models`.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tqdm.auto import tqdm

from ..data.protocol import Split
from ..metrics import evaluate
from ..models import EASE, WMF

__all__ = ["GRIDS", "GridSearch", "edge_note", "edge_of_grid", "grid_points", "grid_search",
           "validation_ndcg", "check_grids",
           "LINEAR_BASELINES", "tune_baseline", "tuned_test_ndcg"]

GRIDS = {
    "EASE": {"l2": (50.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0)},
    "WMF": {"n_factors": (100, 200), "l2": (30.0, 100.0, 300.0), "alpha": (3.0, 10.0)},
    "Mult-DAE": {"dropout": (0.2, 0.5), "l2": (0.01 / 500, 0.1 / 500)},
}
"""Each tuned model's grid: setting name → the values tried (every combination is tried)."""

LINEAR_BASELINES = {"EASE": EASE, "WMF": WMF}
"""The baselines :func:`tune_baseline` fits in closed form or by ALS, by name."""


def check_grids(grids: dict | None) -> dict:
    """:data:`GRIDS`, or ``grids`` checked: known models, each setting a non-empty list."""
    if grids is None:
        return GRIDS
    for model, grid in grids.items():
        if model not in GRIDS:
            raise ValueError(f"no grid can be given for {model!r}; the tuned models with a grid "
                             f"are {', '.join(GRIDS)} (Mult-VAE's β cap comes from annealing).")
        for name, values in grid.items():
            if name not in GRIDS[model]:
                raise ValueError(f"{model} has no setting {name!r} to tune; its grid names "
                                 f"{', '.join(GRIDS[model])}.")
            if isinstance(values, (str, bytes)) or not len(values):
                raise ValueError(f"the grid of {model}'s {name} must be a non-empty list of "
                                 f"values, got {values!r}.")
    return {**GRIDS, **grids}


def grid_points(grid: dict) -> list[dict]:
    """Every combination of a grid's values, in the grid's order (the last name varies fastest)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def validation_ndcg(score: Callable, split: Split, k: int = 100) -> float:
    """Mean NDCG@k of a scorer on the validation users' held-out clicks."""
    metrics = evaluate(score, split.valid_fold_in, split.valid_target, ks_recall=(), ks_ndcg=(k,))
    return float(metrics[f"ndcg@{k}"].mean())


@dataclass
class GridSearch:
    """One model's search: the grid, each setting's validation NDCG@100 and seconds, the choice."""

    model: str
    grid: dict
    tried: list = field(default_factory=list)
    chosen: dict | None = None
    seconds: float = 0.0

    @property
    def best_score(self) -> float:
        return max((t["validation_ndcg@100"] for t in self.tried), default=-math.inf)

    def summary(self) -> dict:
        """JSON-ready: ``grid``, ``tried``, ``chosen``, ``chosen_validation_ndcg@100``, ``search_seconds``."""
        return {"grid": {name: list(values) for name, values in self.grid.items()},
                "tried": self.tried, "chosen": self.chosen,
                "chosen_validation_ndcg@100": self.best_score,
                "search_seconds": round(self.seconds, 2)}


def edge_of_grid(grid: dict, chosen: dict) -> dict:
    """The chosen values that lie at an end of their grid: ``{setting: "smallest" or
    "largest"}`` for every setting tried at two or more values whose chosen value is the
    least or the greatest of them. Such a choice says the search stopped too soon: the best
    value may lie beyond the grid, and the tuned score is then only a lower bound on what
    tuning could reach. A setting described in words rather than listed (Mult-VAE's β cap,
    chosen by annealing) has no ends and is skipped."""
    edges = {}
    for name, values in grid.items():
        if isinstance(values, str) or len(values) < 2 or name not in chosen:
            continue
        values = sorted(values)
        if chosen[name] == values[0]:
            edges[name] = "smallest"
        elif chosen[name] == values[-1]:
            edges[name] = "largest"
    return edges


def edge_note(grid: dict, chosen: dict) -> str:
    """:func:`edge_of_grid` in words, to follow a printed choice: ``"; at the edge of its
    grid: l2 the largest tried"``, or ``""`` when every chosen value lies inside its grid."""
    edges = edge_of_grid(grid, chosen)
    if not edges:
        return ""
    return "; at the edge of its grid: " + ", ".join(f"{name} the {end} tried"
                                                    for name, end in edges.items())


def grid_search(model: str, grid: dict, fit_setting: Callable[[dict], tuple[object, float]],
                progress: bool = True) -> tuple[GridSearch, object]:
    """Fit every setting of ``grid`` and keep the one with the best validation score.

    ``fit_setting(setting)`` fits one setting and returns ``(fitted, validation NDCG@100)``;
    only the best fitted object is kept in memory. Returns the :class:`GridSearch` record
    and the chosen setting's fitted object (ties go to the earlier setting).
    """
    search, best = GridSearch(model, grid), None
    tic = time.perf_counter()
    points = grid_points(grid)
    for setting in tqdm(points, desc=f"tuning {model}", disable=not progress or len(points) < 2):
        start = time.perf_counter()
        fitted, score = fit_setting(setting)
        if not np.isfinite(score):
            raise ValueError(f"{model} with {setting} gave a validation score of {score}.")
        if score > search.best_score:
            search.chosen, best = dict(setting), fitted
        search.tried.append({"setting": dict(setting), "validation_ndcg@100": float(score),
                             "seconds": round(time.perf_counter() - start, 2)})
    search.seconds = time.perf_counter() - tic
    return search, best


def tune_baseline(model: str, split: Split, grid: dict | None = None, settings: dict | None = None,
                  seed: int = 0, device=None, progress: bool = True) -> tuple[GridSearch, object]:
    """EASE or WMF fitted on the training users at every setting of ``grid`` (default
    :data:`GRIDS`), the best on validation NDCG@100 kept (:func:`grid_search`).

    ``settings`` are the model's other arguments, held fixed (e.g. WMF's ``iterations``);
    WMF's initial factors are drawn from ``seed``. Returns the search record and the
    chosen setting's fitted model, ready to be scored on the test users.
    """
    if model not in LINEAR_BASELINES:
        raise ValueError(f"tune_baseline fits {' or '.join(LINEAR_BASELINES)}, not {model!r}.")
    grid = check_grids({model: grid} if grid is not None else None)[model]
    build, fixed = LINEAR_BASELINES[model], dict(settings or {})
    if model == "WMF":
        fixed["seed"] = seed

    def fit_setting(setting):
        fitted = build(**{**fixed, **setting}, device=device).fit(split.train)
        return fitted, validation_ndcg(fitted.score, split)

    return grid_search(model, grid, fit_setting, progress=progress)


def tuned_test_ndcg(model: str, split: Split, grid: dict | None = None, seed: int = 0, device=None,
                    progress: bool = True) -> tuple[GridSearch, np.ndarray]:
    """:func:`tune_baseline`, then the chosen setting's per-user NDCG@100 on the test users
    (the only time the test users are seen), for paired comparisons."""
    search, fitted = tune_baseline(model, split, grid, seed=seed, device=device, progress=progress)
    return search, evaluate(fitted.score, split.test_fold_in, split.test_target)["ndcg@100"]
