"""Training loop for the autoencoder recommenders: batches of users, KL annealing,
validation NDCG@100 after every epoch, the best model kept, checkpoints to resume from.

Draws nothing and prints nothing but a progress bar; it returns a history a notebook or
the command line can plot.

Determinism. On the CPU, with a fixed number of threads (``torch.set_num_threads``; some
kernels split their sums by thread), a run is a pure function of its seeds: the model's
initial weights (drawn under ``torch.manual_seed`` before the model is built) and
``TrainConfig.seed``, which fixes the batch order (NumPy), the input dropout and the
samples of z (torch). The same seeds give bit-identical weights, history and metrics, and
a run resumed from a checkpoint equals the uninterrupted one to the last bit
(``tests/test_determinism.py``, ``tests/test_checkpoint.py``). On a CUDA GPU:

* the random numbers come from the GPU's own generator, so the same seed draws other
  dropout masks and z samples than on the CPU: GPU and CPU runs agree statistically
  (within the metrics' standard error), not digit for digit;
* the input layer's sums over clicked items (an embedding bag) and ``index_add_`` (row
  norms, the multinomial likelihood) accumulate with atomic additions whose order
  varies, so two GPU runs with one seed can differ in the last bits, and the difference
  can grow over epochs. To ask for repeatable
  GPU runs, set ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` and call
  ``torch.use_deterministic_algorithms(True)`` before training: slower, and an operation
  with no deterministic GPU kernel then raises an error that names it (this has not been
  measured on a GPU in the test suite, which runs on the CPU);
* results depend on the GPU model and the CUDA/cuBLAS versions, which pick the kernels.

A checkpoint stores the CPU and (on a GPU) the CUDA random state; resume on the device
type the run started on to continue the same random stream.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .data.protocol import Split
from .distributed import Cluster, Objective
from .metrics import evaluate
from .models.autoencoders import AutoencoderRecommender
from .models.inputs import csr_to_torch
from .outputs import atomic_write

__all__ = ["TrainConfig", "TrainResult", "TrainingDiverged", "CheckpointMismatch",
           "beta_at", "fit", "train_epoch", "make_optimiser", "choose_device"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class CheckpointMismatch(ValueError):
    """A checkpoint that belongs to another model, configuration or data split."""


def choose_device(prefer: str | None = None) -> torch.device:
    """The CUDA GPU when there is one (or ``prefer`` if given), else the CPU."""
    if prefer:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (paper defaults, DESIGN §5).

    Length of the run. By default (``epochs=None``) a run trains to convergence: it stops
    when validation NDCG@K has not improved for ``patience`` epochs, within a budget that
    scales with the data: at least the paper's 200 epochs and at least
    :data:`MIN_STEPS` optimiser steps (a data set of 500 users, one batch an epoch, gets
    20,000 epochs rather than 200 steps). Without ``patience`` the plateau is
    :data:`AUTO_PATIENCE_EPOCHS` epochs or :data:`AUTO_PATIENCE_STEPS` steps, whichever is
    longer. A whole number ``epochs`` is a fixed run of that many epochs (with early
    stopping only if ``patience`` is given). A run never stops early before β has
    reached its cap, so the annealing schedule is always seen through.

    KL annealing follows the paper: β = min(beta_cap, step / anneal_steps), so
    ``anneal_steps`` is the number of optimiser steps β would take to grow from 0 to 1.
    The paper fixes it at 200,000; on a small dataset that many steps never happen and β
    stays near 0, so by default (``None``) it is scaled to the run: β reaches the cap
    after ``anneal_fraction`` of the schedule's epochs, which are ``epochs`` for a fixed
    run and the paper's 200 for a run to convergence.

    ``precision="bf16"`` runs the network's matrix products in bfloat16 during training
    (``torch.autocast``): about twice as fast on a CPU with bf16 instructions and on
    recent GPUs. Weights, optimiser, likelihood and KL stay in float32, and validation and
    scoring are always float32. The default is float32.
    """

    epochs: int | None = None
    batch_size: int = 500
    lr: float = 1e-3
    beta_cap: float = 0.2
    anneal_steps: int | None = None
    anneal_fraction: float = 0.8
    eval_k: int = 100
    eval_batch_size: int = 2000
    seed: int = 0
    patience: int | None = None
    precision: str = "fp32"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_k", "eval_batch_size"):
            value = getattr(self, name)
            if name == "epochs" and value is None:
                continue
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive whole number, got {value!r}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}.")
        if not self.beta_cap >= 0 or math.isinf(self.beta_cap):
            raise ValueError(f"beta_cap (β) must be a finite number ≥ 0, got {self.beta_cap}.")
        if self.anneal_steps is not None and self.anneal_steps < 1:
            raise ValueError(f"anneal_steps must be at least 1, got {self.anneal_steps}.")
        if not 0 < self.anneal_fraction <= 1:
            raise ValueError(f"anneal_fraction must lie in (0, 1], got {self.anneal_fraction}.")
        if self.patience is not None and self.patience < 1:
            raise ValueError(f"patience must be at least 1 epoch, got {self.patience}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got "
                             f"{self.precision!r}.")

    def batches_per_epoch(self, n_train_users: int) -> int:
        return math.ceil(n_train_users / self.batch_size)

    def budget_epochs(self, n_train_users: int) -> int:
        """The most epochs the run may take: ``epochs``, or the budget scaled to the data."""
        if self.epochs is not None:
            return int(self.epochs)
        return max(PAPER_RUN_EPOCHS, math.ceil(MIN_STEPS / self.batches_per_epoch(n_train_users)))

    def schedule_epochs(self) -> int:
        """The epochs the annealing schedule is scaled to."""
        return int(self.epochs) if self.epochs is not None else PAPER_RUN_EPOCHS

    def patience_epochs(self, n_train_users: int) -> int | None:
        """Epochs without a better validation score after which the run stops (None: never)."""
        if self.patience is not None:
            return int(self.patience)
        if self.epochs is not None:
            return None
        return max(AUTO_PATIENCE_EPOCHS,
                   math.ceil(AUTO_PATIENCE_STEPS / self.batches_per_epoch(n_train_users)))

    def total_anneal_steps(self, n_train_users: int) -> int:
        if self.anneal_steps is not None:
            return int(self.anneal_steps)
        if self.beta_cap == 0:
            return 1  # β = min(0, ·) = 0 throughout
        schedule = self.schedule_epochs() * self.batches_per_epoch(n_train_users)
        return max(1, int(round(self.anneal_fraction * schedule / self.beta_cap)))

    def total_steps(self, n_train_users: int) -> int:
        """Optimiser steps in the whole budget: budget epochs × ⌈users / batch size⌉."""
        return self.budget_epochs(n_train_users) * self.batches_per_epoch(n_train_users)


PRECISIONS = ("fp32", "bf16")
PAPER_RUN_EPOCHS = 200
"""The paper's run length; the least budget of a run to convergence."""
MIN_STEPS = 20_000
"""The least number of optimiser steps a run to convergence may take."""
AUTO_PATIENCE_EPOCHS, AUTO_PATIENCE_STEPS = 20, 1_000
"""A run to convergence stops after this many epochs (or steps, whichever is longer)
without a better validation score."""


def beta_at(step: int, anneal_steps: int, cap: float) -> float:
    """The KL weight after ``step`` updates: β = min(cap, step / anneal_steps) (paper §2.2.2)."""
    return min(cap, step / anneal_steps)


def fixed_run_window(budget_epochs: int) -> int:
    """The last tenth of a fixed-length run's epochs (at least one): a run whose best epoch
    falls in them was still improving when it ended (:attr:`TrainResult.converged`)."""
    return max(1, budget_epochs // 10)


@dataclass
class TrainResult:
    """What a run produced: the best model (loaded), its epoch and score, the history.

    ``converged`` is False when the best epoch lies within the last ``window`` epochs of
    the budget (the patience, or a tenth of a fixed run): the model was still improving
    when the run ended, and a longer run would likely do better.
    """

    model: AutoencoderRecommender
    history: list = field(default_factory=list)
    best_epoch: int = 0
    best_score: float = -math.inf
    seconds: float = 0.0
    budget_epochs: int = 0
    window: int = 1

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def converged(self) -> bool:
        return self.best_epoch <= self.budget_epochs - self.window

    def summary(self) -> dict:
        """``epochs_run``, ``best_epoch``, ``budget_epochs`` and ``converged``, JSON-ready."""
        return {"epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "budget_epochs": self.budget_epochs, "converged": self.converged}

    def convergence_note(self, name: str = "the model") -> str:
        """One sentence saying whether the run ended on a plateau or still improving."""
        if self.converged:
            return (f"{name}: best validation score at epoch {self.best_epoch}; the run stopped "
                    f"after {self.epochs_run} of at most {self.budget_epochs} epochs (converged).")
        return (f"WARNING: {name} was still improving when its run ended (best epoch "
                f"{self.best_epoch} of {self.budget_epochs}); train longer (more epochs, or "
                "epochs=None to stop on a validation plateau).")


def _validation_ndcg(model, split, config) -> float:
    metrics = evaluate(model.score, split.valid_fold_in, split.valid_target, ks_recall=(),
                       ks_ndcg=(config.eval_k,), batch_size=config.eval_batch_size)
    return float(metrics[f"ndcg@{config.eval_k}"].mean())


def _save(path: Path, state: dict):
    """Write a checkpoint through a temporary file and a rename (removed on failure)."""
    atomic_write(path, lambda handle: torch.save(state, handle))


_FRESH_RUN = "(on the command line: another --out, or --overwrite, which moves the old checkpoints aside)"
"""How a command-line user starts afresh, for the checkpoint messages below."""
_CHECKPOINT_KEYS = ("model_config", "train_config", "split_fingerprint", "epoch", "model_state")


def _load_checkpoint(path: Path, model, config, split) -> dict:
    try:
        state = torch.load(path, map_location=model.device, weights_only=False)
    except Exception as error:  # truncated copy, another file format, ...
        raise CheckpointMismatch(
            f"{path} cannot be read as a training checkpoint ({type(error).__name__}: {error}). "
            f"It may be damaged; delete it or choose another checkpoint file {_FRESH_RUN}."
        ) from None
    if not isinstance(state, dict) or any(key not in state for key in _CHECKPOINT_KEYS):
        raise CheckpointMismatch(
            f"{path} is not a checkpoint written by vaecf.train.fit (a bare state_dict?). "
            f"Choose another checkpoint file {_FRESH_RUN}, or load plain weights with "
            "model.load_state_dict.")
    if state["model_config"] != model.config():
        raise CheckpointMismatch(
            f"{path} holds a {state['model_config']} model, not {model.config()}. "
            "Resume with the same architecture, or start a fresh run with another checkpoint "
            f"file {_FRESH_RUN}.")
    saved_shapes = {key: tuple(value.shape) for key, value in state["model_state"].items()}
    if saved_shapes != {key: tuple(value.shape) for key, value in model.state_dict().items()}:
        raise CheckpointMismatch(
            f"{path} stores weights laid out differently from this version of vaecf "
            f"(an earlier version wrote it). Start a fresh run with another checkpoint file "
            f"{_FRESH_RUN}.")
    if state["train_config"] != asdict(config):
        raise CheckpointMismatch(
            f"{path} was written with training settings {state['train_config']}, which differ "
            f"from {asdict(config)}. Resume with the same settings or start a fresh run with "
            f"another checkpoint file {_FRESH_RUN}.")
    if state["split_fingerprint"] != split.fingerprint():
        raise CheckpointMismatch(
            f"{path} was trained on another data split (fingerprint {state['split_fingerprint']}, "
            f"this data: {split.fingerprint()}). Use the same dataset, seed and held-out sizes.")
    return state


def make_optimiser(model: torch.nn.Module, lr: float) -> torch.optim.Adam:
    """Adam (the paper's optimiser); the fused kernel updates every weight in one pass.

    torch before 2.4 has no fused Adam on the CPU; there the multi-tensor one is used.
    """
    try:
        return torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    except RuntimeError:
        return torch.optim.Adam(model.parameters(), lr=lr, foreach=True)


def _copy_state(state: dict, into: dict | None = None) -> dict:
    """A copy of a state dict, written into the buffers of ``into`` when it has them."""
    if into is None or into.keys() != state.keys():
        return {key: value.detach().clone() for key, value in state.items()}
    for key, value in state.items():
        into[key].copy_(value)
    return into


def _precision(device: torch.device, config: TrainConfig):
    """The autocast context of ``config.precision``: bfloat16 products, or none."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")


def train_epoch(model: AutoencoderRecommender, train, optimiser: torch.optim.Optimizer,
                order: np.ndarray, config: TrainConfig, step: int = 0,
                anneal_steps: int | None = None, epoch: int = 1,
                cluster: Cluster | None = None, objective=None,
                by_user: bool = False) -> tuple[dict, int]:
    """One pass over the training users in ``order``: one Adam step per batch of users.

    β follows the annealing schedule (``beta_at``) from optimiser step ``step`` on. The
    batch is sliced from the CSR matrix ``train`` and stays sparse into the encoder.
    ``by_user``: the loss is also given the batch's rows of ``train`` (``users=``), for a
    model that keeps something per user (RecVAE's table of the previous epoch's prior).

    In a data-parallel run (``cluster``, with ``objective`` the model's loss wrapped by
    :meth:`vaecf.distributed.Objective.parallel`) this process computes its shard of each
    batch; its loss is weighted by its share of the batch's users, so the averaged
    gradient is the whole batch's. A diverged loss then shows in the weights, which are
    the same on every process, and is caught there at the end of the epoch.

    Returns:
        The loss terms ``{"loss", "nll", "kl"}`` summed over the users (this process's
        users in a data-parallel run), and the step count after the epoch.
    """
    device = model.device
    if anneal_steps is None:
        anneal_steps = config.total_anneal_steps(train.shape[0])
    n_batches = math.ceil(len(order) / config.batch_size)
    sums = {"loss": 0.0, "nll": 0.0, "kl": 0.0}
    for batch_index in range(n_batches):
        rows = order[batch_index * config.batch_size:(batch_index + 1) * config.batch_size]
        x = csr_to_torch(train[rows], device)
        beta = beta_at(step, anneal_steps, config.beta_cap) if model.uses_kl else 0.0
        if cluster is None:
            users, weight = len(rows), 1.0
        else:
            shard, users = cluster.shard(len(rows))
            weight = users * cluster.world_size / len(rows)
        with _precision(device, config):
            if cluster is not None:
                terms = objective(x, beta, shard)
            else:
                terms = model.loss(x, beta, users=rows) if by_user else model.loss(x, beta)
        if cluster is None and not torch.isfinite(terms["loss"]):
            raise TrainingDiverged(
                f"The loss became {terms['loss'].item()} at epoch {epoch}, batch "
                f"{batch_index + 1}/{n_batches}. Lower the learning rate (now {config.lr}) "
                "or check the input for NaN/inf.")
        optimiser.zero_grad(set_to_none=True)
        (terms["loss"] * weight if cluster is not None else terms["loss"]).backward()
        optimiser.step()
        step += 1
        for key in sums:
            sums[key] += terms[key].item() * users
    if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
        raise TrainingDiverged(
            f"The weights became NaN or infinite at epoch {epoch}, batch "
            f"{n_batches}/{n_batches}. Lower the learning rate (now {config.lr}).")
    return sums, step


def _train_phases(model, train, optimiser, rng, config, step, anneal_steps, epoch,
                  cluster=None, objective=None):
    """One epoch: one pass over the users in a fresh random order, or, for a model with
    ``training_phases()`` (RecVAE's alternating updates), each phase's passes with only
    that phase's parameters learning, then the model's ``end_epoch()``. Before a phase's
    passes the model's ``remember_prior(train)`` may tabulate what stays fixed through them;
    its loss is given each batch's users.

    Returns the loss sums of the last pass that trained the encoder (it carries the KL
    term) and the step count.
    """
    if not hasattr(model, "training_phases"):
        return train_epoch(model, train, optimiser, rng.permutation(train.shape[0]), config,
                           step, anneal_steps, epoch, cluster, objective)
    recorded = None
    for phase, passes in model.training_phases():
        model.start_phase(phase)
        with _precision(model.device, config):
            model.remember_prior(train, config.batch_size)
        for _ in range(passes):
            sums, step = train_epoch(model, train, optimiser, rng.permutation(train.shape[0]),
                                     config, step, anneal_steps, epoch, by_user=True)
            if phase != "decoder":
                recorded = sums
    model.end_epoch()
    return recorded, step


def fit(model: AutoencoderRecommender, split: Split, config: TrainConfig | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False,
        progress: bool = True, cluster: Cluster | None = None) -> TrainResult:
    """Train ``model`` on ``split.train``; keep the weights with the best validation NDCG@K.

    Args:
        model: a Mult-VAE / Mult-DAE already on its device (``model.to(device)``).
        split: the protocol's matrices (:func:`vaecf.data.paper_split`).
        config: hyper-parameters; :class:`TrainConfig` defaults if omitted.
        checkpoint: a file written after every epoch (model, optimiser, random state, history).
        resume: continue from ``checkpoint`` if it exists; the result is then the same as
            an uninterrupted run.
        cluster: train data-parallel on the processes ``torchrun`` started
            (:func:`vaecf.distributed.from_environment`, after
            :func:`vaecf.distributed.start`). Every process returns the same model; rank 0
            alone validates, shows progress and writes the checkpoint.
    """
    config = config or TrainConfig()
    if split.n_items != model.n_items:
        raise ValueError(f"the model was built for {model.n_items} items but the data has "
                         f"{split.n_items}; build it with n_items=split.n_items.")
    device = model.device
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    optimiser = make_optimiser(model, config.lr)
    anneal_steps = config.total_anneal_steps(split.train.shape[0])
    result = TrainResult(model=model)
    best_state, step, first_epoch, since_best = None, 0, 1, 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)

    if path is not None and resume and path.exists():
        state = _load_checkpoint(path, model, config, split)
        model.load_state_dict(state["model_state"])
        optimiser.load_state_dict(state["optimiser_state"])
        best_state = state["best_state"]
        result.history = state["history"]
        result.best_epoch, result.best_score = state["best_epoch"], state["best_score"]
        step, first_epoch, since_best = state["step"], state["epoch"] + 1, state["since_best"]
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and state.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(state["cuda_rng"], device)
        rng.bit_generator.state = state["numpy_rng"]

    if cluster is not None and hasattr(model, "training_phases"):
        raise ValueError(f"{type(model).__name__} trains in alternating phases, which do not run "
                         "data-parallel yet: train it on one process (without torchrun).")
    main = cluster is None or cluster.is_main
    objective = Objective.parallel(model, cluster) if cluster is not None else None
    progress = progress and main
    n_users = split.train.shape[0]
    if split.valid_fold_in.shape[0] == 0:
        raise ValueError("the split has no validation users, so there is no score to keep the "
                         "best model by; hold out more users (n_heldout).")
    budget = config.budget_epochs(n_users)
    patience = config.patience_epochs(n_users)
    cap_reached_at = math.ceil(config.beta_cap * anneal_steps) if model.uses_kl else 0
    result.budget_epochs = budget
    result.window = patience if patience is not None else fixed_run_window(budget)
    start_time = time.perf_counter() - sum(h["seconds"] for h in result.history)
    epochs = tqdm(range(first_epoch, budget + 1), desc=type(model).__name__,
                  disable=not progress, initial=first_epoch - 1, total=budget)
    for epoch in epochs:
        if patience is not None and since_best >= patience and step >= cap_reached_at:
            break
        tic = time.perf_counter()
        model.train()
        try:
            sums, step = _train_phases(model, split.train, optimiser, rng, config, step,
                                       anneal_steps, epoch, cluster, objective)
        except TrainingDiverged as error:
            if path is None:
                raise
            raise TrainingDiverged(f"{error} The last good checkpoint is kept at {path}.") from None
        score = _validation_ndcg(model, split, config) if main else math.nan
        if cluster is not None:
            score = cluster.broadcast(score, device)
            sums = dict(zip(sums, cluster.sum(list(sums.values()), device)))
        record = {"epoch": epoch, "step": step,
                  "beta": beta_at(step, anneal_steps, config.beta_cap) if model.uses_kl else 0.0,
                  **{key: value / n_users for key, value in sums.items()},
                  f"val_ndcg@{config.eval_k}": score, "seconds": time.perf_counter() - tic}
        result.history.append(record)
        if score > result.best_score:
            result.best_score, result.best_epoch, since_best = score, epoch, 0
            best_state = _copy_state(model.state_dict(), into=best_state)
        else:
            since_best += 1
        epochs.set_postfix(loss=f"{record['loss']:.1f}", ndcg=f"{score:.4f}",
                           best=f"{result.best_score:.4f}")
        if path is not None and main:
            _save(path, {
                "model_config": model.config(), "train_config": asdict(config),
                "split_fingerprint": split.fingerprint(), "epoch": epoch, "step": step,
                "since_best": since_best, "model_state": model.state_dict(),
                "optimiser_state": optimiser.state_dict(), "best_state": best_state,
                "best_epoch": result.best_epoch, "best_score": result.best_score,
                "history": result.history, "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                "numpy_rng": rng.bit_generator.state})
        if path is not None and cluster is not None:
            cluster.barrier()  # no process moves on before the epoch's checkpoint is written
    epochs.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start_time
    return result
