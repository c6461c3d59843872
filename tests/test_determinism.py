"""Same seed ⇒ the same split, bit-identical trained weights and identical metrics (CPU).

The runs use one torch thread: bit-for-bit equality is promised for a fixed thread count
(and it keeps these tiny runs fast on a shared machine). What changes on a GPU is
documented in the docstring of :mod:`vaecf.train`.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.metrics import evaluate
from vaecf.models import MultDAE, MultVAE
from vaecf.train import TrainConfig, fit

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[1]


def tiny_split(data_seed: int, split_seed: int):
    table, _ = make_synthetic(n_users=240, n_items=80, seed=data_seed, mean_clicks=15)
    return paper_split(table, n_heldout=24, seed=split_seed)


def tiny_run(split, seed: int, build=MultVAE, epochs: int = 3):
    """Build under ``seed``, train a few epochs, return (model, result, test metrics)."""
    torch.manual_seed(seed)
    if build is MultVAE:
        model = MultVAE(split.n_items, hidden_dims=(24,), latent_dim=6).to(CPU)
    else:
        model = MultDAE(split.n_items, hidden_dims=(12,)).to(CPU)
    config = TrainConfig(epochs=epochs, batch_size=40, eval_k=20, seed=seed)
    result = fit(model, split, config, progress=False)
    metrics = evaluate(model.score, split.test_fold_in, split.test_target, ks_ndcg=(20,))
    return model, result, metrics


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def without_time(history):
    return [{k: v for k, v in record.items() if k != "seconds"} for record in history]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def split():
    return tiny_split(data_seed=3, split_seed=98765)


def test_same_seed_same_split():
    first, second = tiny_split(3, 98765), tiny_split(3, 98765)
    assert first.fingerprint() == second.fingerprint()
    for name in ("train", "valid_fold_in", "valid_target", "test_fold_in", "test_target"):
        assert (getattr(first, name) != getattr(second, name)).nnz == 0
    for name in ("item_ids", "train_users", "valid_users", "test_users"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))


def test_different_seed_different_split():
    reference = tiny_split(3, 98765)
    assert tiny_split(3, 98766).fingerprint() != reference.fingerprint()  # other users drawn
    assert tiny_split(4, 98765).fingerprint() != reference.fingerprint()  # other data


@pytest.mark.parametrize("build", [MultVAE, MultDAE])
def test_same_seed_bit_identical_weights_and_metrics(split, build):
    model_a, run_a, metrics_a = tiny_run(split, seed=7, build=build)
    torch.rand(1000)  # whatever ran in between must not matter
    np.random.default_rng().random(10)
    model_b, run_b, metrics_b = tiny_run(split, seed=7, build=build)
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for name in state_a:
        assert torch.equal(state_a[name], state_b[name]), name
    assert without_time(run_a.history) == without_time(run_b.history)
    assert run_a.best_epoch == run_b.best_epoch
    for name in metrics_a:
        np.testing.assert_array_equal(metrics_a[name], metrics_b[name])


def test_different_seed_different_weights_and_metrics(split):
    model_a, run_a, metrics_a = tiny_run(split, seed=7)
    model_b, run_b, metrics_b = tiny_run(split, seed=8)
    assert weights_digest(model_a) != weights_digest(model_b)
    assert [h["loss"] for h in run_a.history] != [h["loss"] for h in run_b.history]
    assert not np.array_equal(metrics_a["ndcg@20"], metrics_b["ndcg@20"])


def test_a_fresh_process_gives_the_same_bits(split):
    """Nothing outside the seeds (hash randomisation, import order) leaks into a run."""
    model, _, metrics = tiny_run(split, seed=11, epochs=2)
    script = (
        "import json, sys, torch\n"
        "torch.set_num_threads(1)\n"
        "sys.path.insert(0, 'tests')\n"
        "import test_determinism as t\n"
        "split = t.tiny_split(3, 98765)\n"
        "model, _, metrics = t.tiny_run(split, seed=11, epochs=2)\n"
        "print(json.dumps({'weights': t.weights_digest(model),\n"
        "                  'ndcg': metrics['ndcg@20'].tolist()}))\n")
    env = dict(os.environ, PYTHONHASHSEED="12345",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    other = json.loads(done.stdout.strip().splitlines()[-1])
    assert other["weights"] == weights_digest(model)
    assert other["ndcg"] == metrics["ndcg@20"].tolist()
