"""Notebook 8 and ``python -m vaecf reproduce``: the paper's experiment end to end (load,
split, train, evaluate on test users).

``reproduce(...)`` returns a JSON-ready dict (the shape of ``results.json``, documented in
docs/reproducing.md) plus the training histories; the command line and notebook 8 both call it.
"""
from __future__ import annotations

import datetime
import json
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..data import RatingTable, Split, SplitError, SyntheticTruth, default_heldout, load_dataset, paper_split
from ..data.datasets import protocol_options
from ..devices import usable_device
from ..metrics import evaluate
from ..likelihoods import get_likelihood
from ..models import AE, EASE, WMF, MultDAE, MultVAE, Popularity, RecVAE
from ..models.oracle import Oracle
from ..reference import PAPER_RESULTS
from .annealing import paper_beta_procedure
from ..train import PAPER_RUN_EPOCHS, TrainConfig, fit
from .tuning import check_grids, grid_points, grid_search, tune_baseline

__all__ = ["reproduce", "prepare_data", "run_models", "ExperimentData", "summarise", "rounded",
           "autoencoder_name", "choose_models", "MODEL_NAMES", "DEFAULT_MODELS", "MIN_EVALUATED_USERS"]

MIN_EVALUATED_USERS = 2
"""Fewest validation and test users with a target: a standard error needs two."""
RANKING_KS = (20, 50, 100)
"""The cut-offs the results report (Recall@20, Recall@50, NDCG@100)."""

METRICS = ("recall@20", "recall@50", "ndcg@100")
WMF_SETTINGS = {"n_factors": 100, "l2": 100.0, "alpha": 10.0, "iterations": 15}
"""WMF's settings, chosen by validation NDCG@100 on ML-1M (k = 100; (λ, α) among (1, 3),
(10, 10), (10, 50), (100, 10), (100, 50); λ = 100, α = 10 was best at 0.427)."""
EASE_L2 = 500.0
"""EASE's λ (Steck 2019; 500 on ML-1M-sized data)."""
PREFIX = {"multinomial": "Mult", "gaussian": "Gaussian", "logistic": "Logistic"}
MODEL_NAMES = ("Popularity", "WMF", "EASE", "AE", "Mult-DAE", "Mult-VAE", "RecVAE", "Oracle")
"""Every model the table can hold, by its name with the multinomial likelihood (the oracle
only on synthetic data, where the true click probabilities are known)."""
DEFAULT_MODELS = ("Popularity", "WMF", "EASE", "AE", "Mult-DAE", "Mult-VAE", "Oracle")
"""The paper's table: what runs when no models are named (RecVAE only when asked)."""
_ALIASES = {"dae": "Mult-DAE", "vae": "Mult-VAE", "oracle (true probabilities)": "Oracle"}


def choose_models(names=None) -> tuple[str, ...]:
    """The models to run, as :data:`MODEL_NAMES` spell them, in the table's order.

    ``names``: None (the paper's table, :data:`DEFAULT_MODELS`), or names in any case,
    as a list or one comma-separated string (``"EASE,Mult-VAE"``; ``DAE`` and ``VAE`` are
    short for Mult-DAE and Mult-VAE). An unknown or empty name is an error naming the valid
    ones.
    """
    if names is None:
        return DEFAULT_MODELS
    if isinstance(names, str):
        names = names.split(",")
    lookup = {name.lower(): name for name in MODEL_NAMES} | _ALIASES
    chosen, unknown = set(), []
    for name in names:
        key = str(name).strip().lower()
        if key in lookup:
            chosen.add(lookup[key])
        else:
            unknown.append(str(name).strip())
    if unknown or not chosen:
        what = (f"unknown model(s) {', '.join(repr(n) for n in unknown)}" if unknown
                else "no model named")
        raise ValueError(f"{what}; choose among {', '.join(MODEL_NAMES)} (--models, comma "
                         "separated, e.g. --models EASE,Mult-VAE).")
    return tuple(name for name in MODEL_NAMES if name in chosen)


def autoencoder_name(kind: str, likelihood: str = "multinomial") -> str:
    """The table's name for an autoencoder: ``AE``, or ``Mult-DAE`` / ``Logistic-VAE`` …
    (the paper's names carry the likelihood; ``AE`` is followed by it unless multinomial)."""
    get_likelihood(likelihood)
    if kind == "AE":
        return "AE" if likelihood == "multinomial" else f"AE ({likelihood})"
    return f"{PREFIX[likelihood]}-{kind}"


def summarise(per_user: dict) -> tuple[dict, dict]:
    """Means and standard errors of per-user metric arrays."""
    means = {name: float(values.mean()) for name, values in per_user.items()}
    errors = {name: float(values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else 0.0
              for name, values in per_user.items()}
    return means, errors


def rounded(values) -> list:
    """Per-user values as a JSON list, rounded to 6 decimals (as ``results.json`` and
    ``figures.json`` keep them)."""
    return [round(float(v), 6) for v in values]


@dataclass
class ExperimentData:
    """Everything a run needs before it trains: the data, its split and the device."""

    dataset: str
    table: RatingTable
    truth: SyntheticTruth | None
    split: Split
    device: torch.device
    seed: int
    size: str


def prepare_data(dataset: str = "synthetic", data_dir=None, path=None, seed: int = 98765,
                 size: str = "small", n_heldout=None, device=None,
                 click_threshold: float | None = None,
                 mirror: str | None = None) -> ExperimentData:
    """Check the device, load the data and split it; every input error surfaces here,
    before any training. Refuses a split with fewer than :data:`MIN_EVALUATED_USERS`
    validation or test users (no standard error could be given)."""
    device = usable_device(device)
    table, truth = load_dataset(dataset, data_dir=data_dir, path=path, size=size, seed=seed,
                                click_threshold=click_threshold, mirror=mirror)
    split = paper_split(table, n_heldout=n_heldout if n_heldout is not None else default_heldout(dataset),
                        seed=seed, **protocol_options(dataset))
    for group, users in (("validation", split.valid_users), ("test", split.test_users)):
        if users.size < MIN_EVALUATED_USERS:
            raise SplitError(
                f"only {users.size} {group} user(s) have a held-out target, too few for a "
                f"standard error, which needs at least {MIN_EVALUATED_USERS}. Hold out more users "
                f"(--heldout {MIN_EVALUATED_USERS} or more, or a fraction such as 0.1).")
    return ExperimentData(dataset, table, truth, split, device, seed, size)


def reproduce(dataset: str = "synthetic", data_dir=None, path=None, epochs: int | None = None,
              seed: int = 98765, size: str = "small", n_heldout=None, device=None,
              beta_cap: float | str = 0.2, likelihood: str = "multinomial",
              checkpoint_dir=None, progress: bool = True,
              precision: str = "fp32", click_threshold: float | None = None,
              mirror: str | None = None, models=None, tune: bool = False,
              grids: dict | None = None) -> tuple[dict, dict]:
    """Run popularity, WMF, EASE, AE, Mult-DAE and Mult-VAE (and the oracle on synthetic data),
    or the ``models`` named (:func:`choose_models`; RecVAE only when named).

    :func:`prepare_data` (device, data, split), then :func:`run_models`; see them for
    the arguments. ``dataset="custom"`` with ``path`` runs a click log of your own
    (``click_threshold``: ratings above it are clicks; default every line); ``mirror`` is
    a MovieLens mirror of your own, tried first (:mod:`vaecf.data.sources`).

    Returns:
        ``(results, histories)``: the ``results.json`` dict, and each trained model's
        per-epoch history.
    """
    get_likelihood(likelihood)  # fail before any data is loaded
    models = choose_models(models)
    data = prepare_data(dataset, data_dir=data_dir, path=path, seed=seed, size=size,
                        n_heldout=n_heldout, device=device, click_threshold=click_threshold,
                        mirror=mirror)
    return run_models(data, epochs=epochs, beta_cap=beta_cap, likelihood=likelihood,
                      checkpoint_dir=checkpoint_dir, progress=progress, precision=precision,
                      models=models, tune=tune, grids=grids)


def _data_description(data: ExperimentData) -> dict:
    """What the results say about the data: its label, provenance and any capped K."""
    table, split = data.table, data.split
    label = table.name
    if data.dataset == "custom":
        label = f"custom data ({table.name})"
    described = {"data_label": label}
    if table.provenance:
        described["data"] = table.provenance
    if split.n_items < max(RANKING_KS):
        described["k_capped"] = {
            "items": split.n_items,
            "note": f"the catalogue has {split.n_items} items, fewer than K = {max(RANKING_KS)}: "
                    f"each @K with K > {split.n_items} ranks all {split.n_items} items"}
    return described


def _is_release(data: ExperimentData) -> bool:
    return data.table.provenance.get("status") in ("release", "release ratings")


def run_models(data: ExperimentData, epochs: int | None = None, beta_cap: float | str = 0.2,
               likelihood: str = "multinomial", checkpoint_dir=None, progress: bool = True,
               precision: str = "fp32", models=None, tune: bool = False,
               grids: dict | None = None, cluster=None) -> tuple[dict, dict]:
    """Train and evaluate every model on prepared data (:func:`prepare_data`), or those
    named in ``models`` (:func:`choose_models`; default :data:`DEFAULT_MODELS`).

    By default (``epochs=None``) each autoencoder trains to convergence: it stops on a
    validation plateau within a step budget scaled to the data (:class:`TrainConfig`); a
    whole number is a fixed number of epochs. Each model's entry records ``epochs_run``,
    ``best_epoch``, ``budget_epochs`` and ``converged``
    (:func:`vaecf.experiments.comparison.unconverged_models`),
    and its per-user test NDCG@100 (``test_per_user``) for paired comparisons
    (:func:`vaecf.experiments.comparison.compare_results`).

    ``likelihood`` (multinomial, gaussian or logistic) is used by the three autoencoders;
    with a likelihood other than the multinomial they are named after it
    (``Gaussian-VAE``, ...).

    ``beta_cap="anneal"`` chooses Mult-VAE's cap the paper's way
    (:func:`vaecf.experiments.annealing.paper_beta_procedure`: one run annealed from 0 to 1 over 200
    epochs, or ``epochs``, the β of its smoothed validation peak, rounded to 0.01); the
    choice is recorded as ``results["beta_procedure"]``. A cap above 1 warns: the paper's
    range is [0, 1].

    ``precision="bf16"`` trains the autoencoders with bfloat16 matrix products
    (:class:`vaecf.train.TrainConfig`); scoring stays float32.

    With ``checkpoint_dir``, each autoencoder writes a checkpoint there after every epoch
    and an interrupted run started again with the same arguments resumes from it.

    ``tune=True`` chooses each model's settings on the validation users, as the paper did
    (:mod:`vaecf.experiments.tuning`): EASE, WMF and Mult-DAE over the grids of
    :data:`vaecf.experiments.tuning.GRIDS` (or ``grids``, which replaces a model's grid), Mult-VAE's β
    cap by the paper's annealing procedure (as ``beta_cap="anneal"``); AE keeps its
    settings. Only the chosen setting is scored on the test users. ``results["tuning"]``
    records each model's grid, every setting's validation NDCG@100 and seconds, the
    choice and the search time; ``results["tuning_seconds"]`` the whole run's time.

    The paper's numbers (ML-20M, Netflix, MSD) are set beside the results only when the
    data is that release. With fewer than 100 items, each @K is computed over the whole
    catalogue, and ``results["k_capped"]`` says so.

    ``cluster`` (:func:`vaecf.distributed.from_environment`, under ``torchrun``) trains
    the autoencoders data-parallel on every process; the baselines, the evaluation and
    the results are rank 0's, and the other processes return ``(None, None)``.
    """
    get_likelihood(likelihood)
    models = choose_models(models)
    grids = check_grids(grids)
    if "RecVAE" in models and likelihood != "multinomial":
        raise ValueError(f"RecVAE has only the multinomial likelihood, not {likelihood!r}: drop "
                         "RecVAE from --models or leave --likelihood at multinomial.")
    if isinstance(beta_cap, str) and beta_cap != "anneal":
        raise ValueError(f"beta_cap must be a number or 'anneal', got {beta_cap!r}.")
    main = cluster is None or cluster.is_main
    if beta_cap == "anneal" and cluster is not None:
        raise ValueError("--beta-cap anneal runs on one process: choose the cap with a plain "
                         "`python -m vaecf reproduce --beta-cap anneal` run, then pass that "
                         "number as --beta-cap under torchrun.")
    if tune and cluster is not None:
        raise ValueError("--tune runs on one process: tune with a plain `python -m vaecf "
                         "reproduce --tune` run, then train the chosen settings under torchrun.")
    if not isinstance(beta_cap, str) and beta_cap > 1:
        warnings.warn(f"the β cap (--beta-cap) {beta_cap:g} is above 1; the paper's range is "
                      "[0, 1] (β = 1 is the plain evidence lower bound).", stacklevel=2)
    dataset, split, truth, device, seed = data.dataset, data.split, data.truth, data.device, data.seed
    config = TrainConfig(epochs=epochs, seed=seed, precision=precision,
                         beta_cap=0.2 if beta_cap == "anneal" else beta_cap)
    results = {
        "dataset": dataset, "seed": seed, "epochs": epochs if epochs is not None else "to convergence", "device": str(device),
        "vaecf_version": __version__, "torch_version": torch.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "counts": split.counts(), "protocol": split.protocol,
        "split_fingerprint": split.fingerprint(), "likelihood": likelihood,
        "precision": precision, **_data_description(data), "models_run": list(models),
        "tuned": bool(tune),
        "models": {},
    }
    if dataset == "synthetic":
        results["synthetic_size"] = data.size
    histories = {}

    def record(name, scorer, seconds, needs_users=False, extra=None):
        if not main:
            return
        per_user = evaluate(scorer, split.test_fold_in, split.test_target,
                            users=split.test_users if needs_users else None)
        test, test_se = summarise(per_user)
        valid, _ = summarise(evaluate(scorer, split.valid_fold_in, split.valid_target,
                                      users=split.valid_users if needs_users else None))
        results["models"][name] = {
            "test": test, "test_stderr": test_se, "validation": valid,
            "test_per_user": {"ndcg@100": rounded(per_user["ndcg@100"])},
            "train_seconds": round(seconds, 2), **(extra or {})}

    started = time.perf_counter()
    if main and "Popularity" in models:
        tic = time.perf_counter()
        popularity = Popularity().fit(split.train)
        record("Popularity", popularity.score, time.perf_counter() - tic)
    tuning = {}
    if tune:
        results["tuning"] = tuning
    if main and "WMF" in models:
        tic = time.perf_counter()
        if tune:
            search, wmf = tune_baseline("WMF", split, grids["WMF"], settings=WMF_SETTINGS,
                                        seed=seed, device=device, progress=progress)
            tuning["WMF"] = search.summary()
        else:
            wmf = WMF(**WMF_SETTINGS, seed=seed, device=device).fit(split.train, progress=progress)
        record("WMF", wmf.score, time.perf_counter() - tic, extra={"model_config": wmf.config()})
    if main and "EASE" in models:
        tic = time.perf_counter()
        if tune:
            search, ease = tune_baseline("EASE", split, grids["EASE"], device=device,
                                         progress=progress)
            tuning["EASE"] = search.summary()
        else:
            ease = EASE(EASE_L2, device=device).fit(split.train)
        record("EASE", ease.score, time.perf_counter() - tic, extra={"model_config": ease.config()})

    vae_config = config
    if (beta_cap == "anneal" or tune) and "Mult-VAE" in models:
        tic = time.perf_counter()
        choice = paper_beta_procedure(split, epochs=epochs or PAPER_RUN_EPOCHS, seeds=(seed,),
                                      config=config, device=device, progress=progress)
        vae_config = replace(config, beta_cap=round(choice.beta, 2))
        results["beta_procedure"] = {**choice.summary(), "cap": vae_config.beta_cap}
        if tune:
            tuning["Mult-VAE"] = {
                "grid": {"beta_cap": "the paper's procedure: one run annealed from β = 0 to 1, "
                                     "the β of its smoothed validation NDCG@100 peak"},
                "chosen": {"beta_cap": vae_config.beta_cap},
                "search_seconds": round(time.perf_counter() - tic, 2)}
    for kind, build in (("AE", AE), ("DAE", MultDAE), ("VAE", MultVAE), ("RecVAE", RecVAE)):
        if {"AE": "AE", "RecVAE": "RecVAE"}.get(kind, f"Mult-{kind}") not in models:
            continue
        name = "RecVAE" if kind == "RecVAE" else autoencoder_name(kind, likelihood)
        run_config = vae_config if kind == "VAE" else config
        options = {} if kind == "RecVAE" else {"likelihood": likelihood}

        def fit_autoencoder(setting, tag=""):
            torch.manual_seed(seed)
            model = build(split.n_items, **options, **setting).to(device)
            checkpoint = (Path(checkpoint_dir) / f"{name}{tag}.pt"
                          if checkpoint_dir is not None else None)
            run = fit(model, split, run_config, checkpoint=checkpoint,
                      resume=checkpoint is not None, progress=progress, cluster=cluster)
            return (model, run), run.best_score

        if tune and kind == "DAE":
            tags = {json.dumps(point, sort_keys=True): f"-tuning-{i + 1}"
                    for i, point in enumerate(grid_points(grids["Mult-DAE"]))}
            search, (model, run) = grid_search(
                name, grids["Mult-DAE"],
                lambda setting: fit_autoencoder(setting, tags[json.dumps(setting, sort_keys=True)]),
                progress=progress)
            tuning[name] = search.summary()
        else:
            (model, run), _ = fit_autoencoder({})
        histories[name] = run.history
        record(name, model.score, run.seconds,
               extra={**run.summary(), "model_config": model.config(),
                      "train_config": asdict(run_config)})
    if not main:
        return None, None
    if tune:
        results["tuning_seconds"] = round(time.perf_counter() - started, 2)
    if truth is not None and "Oracle" in models:
        oracle = Oracle(truth, split.item_ids)
        record("Oracle (true probabilities)", oracle.score, 0.0, needs_users=True)
    if dataset in PAPER_RESULTS and _is_release(data):
        results["paper"] = PAPER_RESULTS[dataset]
    return results, histories
