"""Data-parallel training (vaecf.distributed): shards, noise drawn as one process would,
and two real processes under ``torchrun`` with the gloo backend that train the weights
one process trains, through an interruption and a resume."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.distributed import Cluster, from_environment
from vaecf.models import AE, MultDAE, MultVAE
from vaecf.models.inputs import RowShard, csr_to_torch
from vaecf.experiments.reproduce import prepare_data, run_models
from vaecf.train import TrainConfig, fit

SEED, USERS, ITEMS = 3, 240, 80


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=USERS, n_items=ITEMS, seed=SEED, mean_clicks=15)
    return paper_split(table, n_heldout=24, seed=98765)


def batch_size_leaving_three(n_train: int) -> int:
    """A batch size whose last batch holds three users, which two processes share 2 : 1, so
    their losses must be weighted unequally to give the whole batch's gradient."""
    return next(b for b in range(30, n_train) if n_train % b == 3)


@pytest.mark.parametrize("world", [1, 2, 3, 7])
@pytest.mark.parametrize("n_users", [1, 2, 5, 6, 500])
def test_shards_cover_the_batch_once_in_order(world, n_users):
    shards = [Cluster(rank, world).shard(n_users) for rank in range(world)]
    users = [count for _, count in shards]
    assert sum(users) == n_users
    assert max(users) - min(users) <= 1
    covered = [row for shard, count in shards if count for row in range(shard.start, shard.stop)]
    assert covered == list(range(n_users))
    for shard, count in shards:
        assert shard.stop - shard.start == max(count, 1)  # an empty share computes one row


def test_row_shard_takes_the_same_rows_of_a_sparse_and_a_dense_batch(split):
    x = csr_to_torch(split.train[:37])
    for start, stop in [(0, 1), (0, 37), (5, 19), (36, 37)]:
        part = RowShard(start, stop, 37).take(x)
        assert torch.equal(part.to_dense(), x.to_dense()[start:stop])
    with pytest.raises(ValueError, match="start < stop"):
        RowShard(4, 4, 37)
    with pytest.raises(ValueError, match="batch of 37 users, got 36"):
        RowShard(0, 3, 37).take(csr_to_torch(split.train[:36]))


@pytest.mark.parametrize("n_users", [50, 2])
@pytest.mark.parametrize("build", [MultVAE, MultDAE, AE])
def test_shard_losses_weighted_by_users_add_up_to_the_whole_batch(split, build, n_users):
    """Each shard draws the whole batch's dropout and z and keeps its rows, so with the same
    random state the shards' losses and gradients add up to one process's, exactly; a
    process left without users (2 users, 3 processes) adds nothing."""
    torch.manual_seed(0)
    model = build(split.n_items, hidden_dims=(24,), **({} if build is MultDAE else {"latent_dim": 6}))
    x = csr_to_torch(split.train[:n_users])
    torch.manual_seed(11)
    whole = model.loss(x, 0.3)
    whole["loss"].backward()
    expected = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    total = {key: 0.0 for key in whole}
    world = 3
    for rank in range(world):
        shard, users = Cluster(rank, world).shard(n_users)
        torch.manual_seed(11)
        part = model.loss(x, 0.3, shard)
        (part["loss"] * users / n_users).backward()
        for key in total:
            total[key] += part[key].item() * users / n_users
    for key in ("nll", "kl"):
        assert total[key] == pytest.approx(whole[key].item(), rel=1e-5, abs=1e-6)
    for grad, want in zip((p.grad for p in model.parameters()), expected):
        torch.testing.assert_close(grad, want, rtol=1e-4, atol=1e-6)


def test_from_environment_reads_torchrun_variables():
    assert from_environment({}) is None
    assert from_environment({"WORLD_SIZE": "1", "RANK": "0"}) is None
    assert from_environment({"WORLD_SIZE": "4", "RANK": "2", "LOCAL_RANK": "0"}) == Cluster(2, 4, 0)
    with pytest.raises(ValueError, match="torchrun --nproc_per_node"):
        from_environment({"WORLD_SIZE": "2", "RANK": "2"})
    with pytest.raises(ValueError, match="whole numbers"):
        from_environment({"WORLD_SIZE": "two"})


RUN = textwrap.dedent("""
    import sys
    import torch
    import vaecf.train as train_module
    from vaecf import distributed
    from vaecf.data import make_synthetic, paper_split
    from vaecf.models import MultVAE
    from vaecf.train import TrainConfig, fit

    out, checkpoint, epochs, batch, crash_at = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
    torch.set_num_threads(1)
    cluster = distributed.from_environment()
    distributed.start(cluster)
    table, _ = make_synthetic(n_users={users}, n_items={items}, seed={seed}, mean_clicks=15)
    split = paper_split(table, n_heldout=24, seed=98765)
    real_epoch = train_module.train_epoch

    def epoch_that_may_crash(*args, **kwargs):
        if args[7] == crash_at:  # every process dies at the start of this epoch, like a lost job
            raise SystemExit(3)
        return real_epoch(*args, **kwargs)

    train_module.train_epoch = epoch_that_may_crash
    torch.manual_seed(0)
    model = MultVAE(split.n_items, hidden_dims=(24,), latent_dim=6)
    config = TrainConfig(epochs=epochs, batch_size=batch, eval_k=20, seed=5)
    result = fit(model, split, config, checkpoint=checkpoint, resume=True, progress=False,
                 cluster=cluster)
    if cluster.is_main:
        torch.save({{"state": model.state_dict(), "history": result.history,
                    "best_epoch": result.best_epoch}}, out)
    distributed.stop()
""").format(users=USERS, items=ITEMS, seed=SEED)


def torchrun(script, *args):
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node=2", str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_two_gloo_processes_train_what_one_trains_through_a_resume(split, tmp_path):
    epochs, batch = 4, batch_size_leaving_three(split.train.shape[0])
    torch.set_num_threads(1)
    torch.manual_seed(0)
    alone = MultVAE(split.n_items, hidden_dims=(24,), latent_dim=6)
    single = fit(alone, split, TrainConfig(epochs=epochs, batch_size=batch, eval_k=20, seed=5),
                 progress=False)

    script, out, checkpoint = tmp_path / "run.py", tmp_path / "out.pt", tmp_path / "vae.pt"
    script.write_text(RUN)
    crashed = torchrun(script, out, checkpoint, epochs, batch, 3)
    assert crashed.returncode != 0 and not out.exists(), crashed.stderr[-3000:]
    saved = torch.load(checkpoint, weights_only=False)
    assert saved["epoch"] == 2
    resumed = torchrun(script, out, checkpoint, epochs, batch, 0)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    both = torch.load(out, weights_only=False)
    assert both["best_epoch"] == single.best_epoch
    assert [h["epoch"] for h in both["history"]] == list(range(1, epochs + 1))
    for record, want in zip(both["history"], single.history):
        for key, rel in (("loss", 1e-5), ("nll", 1e-5), ("kl", 1e-4), ("val_ndcg@20", 1e-6),
                         ("beta", 1e-9), ("step", 0)):
            assert record[key] == pytest.approx(want[key], rel=rel, abs=1e-9), key
    # Sums in another order differ in the last bits, and Adam divides by the root of the
    # squared gradients, so an element whose gradient is all but zero can move by a good part
    # of a step (lr = 1e-3) in one run and not in the other: compare each tensor as a whole.
    for key, value in alone.state_dict().items():
        relative = float((both["state"][key] - value).norm() / value.norm().clamp_min(1e-12))
        assert relative < 3e-4, (key, relative)
    assert math.isfinite(both["history"][-1]["loss"])


def test_annealing_procedure_under_torchrun_is_refused_before_any_training():
    data = prepare_data("synthetic", size="tiny", seed=1, device="cpu")
    with pytest.raises(ValueError, match="plain `python -m vaecf reproduce --beta-cap anneal`"):
        run_models(data, beta_cap="anneal", cluster=Cluster(0, 2))


def test_reproduce_under_torchrun_writes_one_set_of_results(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "vaecf", "reproduce", "--dataset", "synthetic", "--size", "tiny", "--epochs", "2",
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert {"Popularity", "WMF", "EASE", "AE", "Mult-DAE", "Mult-VAE"} <= set(results["models"])
    assert all(results["models"][name]["epochs_run"] == 2 for name in ("AE", "Mult-DAE", "Mult-VAE"))
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["AE.pt", "Mult-DAE.pt", "Mult-VAE.pt"]
    assert not list(tmp_path.rglob("*.tmp*")), "a temporary file was left behind"
