"""Checkpoint and resume, refusal of foreign checkpoints, and the NaN guard.

The interruption is a real one: the process is "killed" (``KeyboardInterrupt``) in the
middle of epoch k + 1, after the checkpoint of epoch k was written, by making the batch
conversion raise; the run is then started again with the same call and ``resume=True``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vaecf.train as train_module
from vaecf.data import make_synthetic, paper_split
from vaecf.metrics import evaluate
from vaecf.models import MultDAE, MultVAE, RecVAE
from vaecf.train import CheckpointMismatch, TrainConfig, TrainingDiverged, fit

EPOCHS, BATCH = 5, 40
CONFIG = TrainConfig(epochs=EPOCHS, batch_size=BATCH, eval_k=20, seed=5)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fast on a shared machine; bit-equality holds per thread count
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=240, n_items=80, seed=3, mean_clicks=15)
    return paper_split(table, n_heldout=24, seed=98765)


def n_batches(split) -> int:
    return math.ceil(split.train.shape[0] / BATCH)


def new_vae(split, seed=0):
    torch.manual_seed(seed)
    return MultVAE(split.n_items, hidden_dims=(24,), latent_dim=6)


def heldout_metrics(model, split):
    return evaluate(model.score, split.test_fold_in, split.test_target, ks_ndcg=(20,))


def without_time(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


def crash_during_epoch(monkeypatch, split, epoch: int, batch: int):
    """Make training die at ``batch`` (1-based) of ``epoch``, like a Ctrl-C or a lost node."""
    real = train_module.csr_to_torch
    calls = {"n": 0}
    fatal = (epoch - 1) * n_batches(split) + batch

    def convert(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fatal:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "csr_to_torch", convert)


@pytest.fixture(scope="module")
def uninterrupted(split):
    model = new_vae(split)
    result = fit(model, split, CONFIG, progress=False)
    return model, result, heldout_metrics(model, split)


@pytest.mark.parametrize("k", [1, 3])
def test_interrupted_and_resumed_run_equals_uninterrupted(split, uninterrupted, tmp_path,
                                                          monkeypatch, k):
    checkpoint = tmp_path / "run.pt"
    with monkeypatch.context() as patch:
        crash_during_epoch(patch, split, epoch=k + 1, batch=2)
        with pytest.raises(KeyboardInterrupt):
            fit(new_vae(split), split, CONFIG, checkpoint=checkpoint, resume=True,
                progress=False)
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["epoch"] == k and len(saved["history"]) == k
    assert not list(tmp_path.glob("*.tmp"))  # checkpoints are written atomically

    # Same call again; the fresh model's own weights (another seed) must not matter.
    model = new_vae(split, seed=123)
    result = fit(model, split, CONFIG, checkpoint=checkpoint, resume=True, progress=False)

    reference_model, reference, reference_metrics = uninterrupted
    for name, tensor in reference_model.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    assert without_time(result.history) == without_time(reference.history)
    assert (result.best_epoch, result.best_score) == (reference.best_epoch, reference.best_score)
    metrics = heldout_metrics(model, split)
    for name in reference_metrics:
        np.testing.assert_array_equal(metrics[name], reference_metrics[name])
    assert torch.load(checkpoint, weights_only=False)["epoch"] == EPOCHS


def test_an_interrupted_recvae_run_resumes_to_the_same_weights(split, tmp_path, monkeypatch):
    """RecVAE's alternating epochs (three encoder passes reading a table of the previous
    epoch's prior, then a decoder pass): the table is rebuilt from the checkpointed weights,
    so the resumed run is the uninterrupted one to the last bit."""
    def new_recvae(seed=0):
        torch.manual_seed(seed)
        return RecVAE(split.n_items, hidden=16, latent_dim=4, n_layers=2)

    config = TrainConfig(epochs=3, batch_size=BATCH, eval_k=20, seed=5)
    reference = new_recvae()
    fit(reference, split, config, progress=False)

    checkpoint = tmp_path / "run.pt"
    real, calls = train_module.csr_to_torch, {"n": 0}
    passes = 4  # three encoder passes and one decoder pass an epoch

    def convert(*args, **kwargs):  # dies in epoch 2's second encoder pass
        calls["n"] += 1
        if calls["n"] == (passes + 1) * n_batches(split) + 2:
            raise KeyboardInterrupt("simulated crash")
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(train_module, "csr_to_torch", convert)
        with pytest.raises(KeyboardInterrupt):
            fit(new_recvae(), split, config, checkpoint=checkpoint, progress=False)
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 1
    resumed = new_recvae(seed=123)
    fit(resumed, split, config, checkpoint=checkpoint, resume=True, progress=False)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name


def test_resuming_a_finished_run_trains_no_more(split, uninterrupted, tmp_path):
    checkpoint = tmp_path / "run.pt"
    fit(new_vae(split), split, CONFIG, checkpoint=checkpoint, progress=False)
    before = checkpoint.read_bytes()
    model = new_vae(split, seed=9)
    result = fit(model, split, CONFIG, checkpoint=checkpoint, resume=True, progress=False)
    assert len(result.history) == EPOCHS
    assert checkpoint.read_bytes() == before
    for name, tensor in uninterrupted[0].state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name


@pytest.fixture(scope="module")
def one_epoch_checkpoint(split, tmp_path_factory):
    checkpoint = tmp_path_factory.mktemp("ckpt") / "run.pt"
    fit(new_vae(split), split, TrainConfig(epochs=1, batch_size=BATCH, eval_k=20, seed=5),
        checkpoint=checkpoint, progress=False)
    return checkpoint


def test_checkpoint_against_other_data_is_refused(split, one_epoch_checkpoint):
    table, _ = make_synthetic(n_users=240, n_items=80, seed=3, mean_clicks=15)
    other = paper_split(table, n_heldout=24, seed=1)  # same data, other users held out
    assert other.n_items == split.n_items  # so only the split differs
    before = one_epoch_checkpoint.read_bytes()
    model = MultVAE(other.n_items, hidden_dims=(24,), latent_dim=6)
    with pytest.raises(CheckpointMismatch, match=rf"trained on another data split \(fingerprint "
                                                 rf"{split.fingerprint()}, this data: "
                                                 rf"{other.fingerprint()}\)"):
        fit(model, other, TrainConfig(epochs=1, batch_size=BATCH, eval_k=20, seed=5),
            checkpoint=one_epoch_checkpoint, resume=True, progress=False)
    assert one_epoch_checkpoint.read_bytes() == before  # refused, not overwritten


def test_checkpoint_of_another_architecture_is_refused(split, one_epoch_checkpoint):
    for model in (MultVAE(split.n_items, hidden_dims=(32,), latent_dim=6),
                  MultDAE(split.n_items, hidden_dims=(24,))):
        with pytest.raises(CheckpointMismatch, match=r"holds a .* model, not .*Resume with the "
                                                     r"same architecture"):
            fit(model, split, TrainConfig(epochs=1, batch_size=BATCH, eval_k=20, seed=5),
                checkpoint=one_epoch_checkpoint, resume=True, progress=False)


def test_checkpoint_with_weights_laid_out_differently_is_refused(split, one_epoch_checkpoint,
                                                                   tmp_path):
    state = torch.load(one_epoch_checkpoint, weights_only=False)
    weight = state["model_state"]["encoder.0.weight"]
    state["model_state"]["encoder.0.weight"] = weight.t().contiguous()  # out × in, as before 0.3
    older = tmp_path / "older.pt"
    torch.save(state, older)
    with pytest.raises(CheckpointMismatch, match=r"laid out differently .* Start a fresh run"):
        fit(new_vae(split), split, TrainConfig(epochs=1, batch_size=BATCH, eval_k=20, seed=5),
            checkpoint=older, resume=True, progress=False)


def test_checkpoint_with_other_settings_is_refused(split, one_epoch_checkpoint):
    with pytest.raises(CheckpointMismatch, match=r"written with training settings .* differ"):
        fit(new_vae(split), split, TrainConfig(epochs=1, batch_size=BATCH, eval_k=20, seed=6),
            checkpoint=one_epoch_checkpoint, resume=True, progress=False)


def poison_loss(model, split, epoch: int, batch: int, value: float):
    """Make the loss ``value`` (NaN or inf) at ``batch`` of ``epoch``."""
    real, calls = model.loss, {"n": 0}
    fatal = (epoch - 1) * n_batches(split) + batch

    def loss(x, beta):
        calls["n"] += 1
        terms = real(x, beta)
        if calls["n"] == fatal:
            terms["loss"] = terms["loss"] * value
        return terms

    model.loss = loss


@pytest.mark.parametrize("value, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_nan_guard_names_epoch_and_batch_and_keeps_last_good_checkpoint(
        split, uninterrupted, tmp_path, value, shown):
    checkpoint = tmp_path / "run.pt"
    model = new_vae(split)
    poison_loss(model, split, epoch=3, batch=2, value=value)
    with pytest.raises(TrainingDiverged, match=rf"loss became {shown} at epoch 3, batch "
                                               rf"2/{n_batches(split)}\..*last good checkpoint "
                                               rf"is kept at {checkpoint}"):
        fit(model, split, CONFIG, checkpoint=checkpoint, progress=False)
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["epoch"] == 2
    assert all(torch.isfinite(t).all() for t in saved["model_state"].values())
    # The kept checkpoint is exactly epoch 2 of a healthy run: resuming finishes that run.
    resumed = new_vae(split, seed=77)
    fit(resumed, split, CONFIG, checkpoint=checkpoint, resume=True, progress=False)
    for name, tensor in uninterrupted[0].state_dict().items():
        assert torch.equal(resumed.state_dict()[name], tensor), name


class _InfiniteGradient(torch.autograd.Function):
    """Identity forward; an infinite gradient backward (a finite loss, broken weights)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("inf")


def test_nan_guard_catches_weights_broken_by_the_last_batch(split, tmp_path):
    checkpoint = tmp_path / "run.pt"
    model = new_vae(split)
    real, calls, last = model.loss, {"n": 0}, 2 * n_batches(split)

    def loss(x, beta):
        calls["n"] += 1
        terms = real(x, beta)
        if calls["n"] == last:  # the last batch of epoch 2
            terms["loss"] = _InfiniteGradient.apply(terms["loss"])
        return terms

    model.loss = loss
    batches = n_batches(split)
    with pytest.raises(TrainingDiverged, match=rf"weights became NaN or infinite at epoch 2, "
                                               rf"batch {batches}/{batches}"):
        fit(model, split, CONFIG, checkpoint=checkpoint, progress=False)
    assert torch.load(checkpoint, weights_only=False)["epoch"] == 1
