import numpy as np
import pytest
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.metrics import evaluate
from vaecf.models import MultDAE, MultVAE, Popularity
from vaecf.train import CheckpointMismatch, TrainConfig, TrainingDiverged, beta_at, fit


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=600, n_items=100, seed=0, mean_clicks=20)
    return paper_split(table, n_heldout=60, seed=0)


def _vae(split, seed=0):
    torch.manual_seed(seed)
    return MultVAE(split.n_items, hidden_dims=(32,), latent_dim=8)


def test_beta_schedule():
    assert beta_at(0, 100, 0.2) == 0
    assert beta_at(50, 100, 0.2) == pytest.approx(0.2)
    assert beta_at(10, 100, 0.2) == pytest.approx(0.1)
    config = TrainConfig(epochs=10, batch_size=100, anneal_fraction=0.5, beta_cap=0.2)
    assert config.total_anneal_steps(n_train_users=1000) == 250  # β = 0.2 at step 50
    assert TrainConfig(anneal_steps=200_000).total_anneal_steps(10) == 200_000


def test_training_beats_popularity_and_keeps_the_best_epoch(split):
    model = _vae(split)
    result = fit(model, split, TrainConfig(epochs=30, batch_size=50, seed=0), progress=False)
    history = result.history
    n_batches = -(-split.train.shape[0] // 50)
    assert len(history) == 30 and history[-1]["loss"] < history[0]["loss"]
    assert history[-1]["step"] == 30 * n_batches
    assert history[-1]["beta"] == pytest.approx(0.2)  # reached the cap at 80% of the run
    assert history[9]["beta"] == pytest.approx(10 * n_batches / round(0.8 * 30 * n_batches / 0.2))
    assert result.best_score == max(h["val_ndcg@100"] for h in history)
    assert result.best_epoch == 1 + int(np.argmax([h["val_ndcg@100"] for h in history]))
    kept = evaluate(model.score, split.valid_fold_in, split.valid_target)["ndcg@100"].mean()
    assert kept == pytest.approx(result.best_score)
    pop = evaluate(Popularity().fit(split.train).score, split.test_fold_in, split.test_target)
    vae = evaluate(model.score, split.test_fold_in, split.test_target)
    assert vae["ndcg@100"].mean() > pop["ndcg@100"].mean() + 0.03


def test_bf16_products_train_as_well_and_score_in_float32(split):
    runs = {}
    for precision in ("fp32", "bf16"):
        model = _vae(split)
        config = TrainConfig(epochs=30, batch_size=50, seed=0, precision=precision)
        runs[precision] = (model, fit(model, split, config, progress=False))
    model, result = runs["bf16"]
    assert model.encoder[0].weight.dtype == torch.float32  # the weights stay float32
    x = torch.from_numpy(split.train[:5].toarray())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model(x)[0].dtype == torch.bfloat16  # the products ran in bfloat16 ...
        assert model.loss(x, 0.2)["nll"].dtype == torch.float32  # ... the likelihood did not
    assert model.score(split.test_fold_in).dtype == np.float32
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    fp32_test = evaluate(runs["fp32"][0].score, split.test_fold_in, split.test_target)
    bf16_test = evaluate(model.score, split.test_fold_in, split.test_target)
    assert abs(bf16_test["ndcg@100"].mean() - fp32_test["ndcg@100"].mean()) < 0.03


def test_dae_trains_without_kl(split):
    torch.manual_seed(0)
    model = MultDAE(split.n_items, hidden_dims=(16,))
    result = fit(model, split, TrainConfig(epochs=3, batch_size=100), progress=False)
    assert all(h["kl"] == 0 and h["beta"] == 0 for h in result.history)


def test_same_seed_same_weights(split):
    runs = []
    for _ in range(2):
        model = _vae(split)
        fit(model, split, TrainConfig(epochs=3, batch_size=100, seed=7), progress=False)
        runs.append(model.state_dict())
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key])


def test_resume_gives_the_same_result(split, tmp_path):
    config = TrainConfig(epochs=6, batch_size=100, seed=1)
    straight = _vae(split)
    full = fit(straight, split, config, progress=False)

    class Interrupt(Exception):
        pass

    resumed = _vae(split)
    checkpoint = tmp_path / "run.pt"
    original = MultVAE.loss
    calls = {"n": 0}

    def crash_in_epoch_4(self, x, beta):
        calls["n"] += 1
        if calls["n"] == 3 * 5 + 2:
            raise Interrupt
        return original(self, x, beta)

    MultVAE.loss = crash_in_epoch_4
    try:
        with pytest.raises(Interrupt):
            fit(resumed, split, config, checkpoint=checkpoint, progress=False)
    finally:
        MultVAE.loss = original
    again = fit(_vae(split, seed=99), split, config, checkpoint=checkpoint, resume=True, progress=False)
    assert [h["val_ndcg@100"] for h in again.history] == [h["val_ndcg@100"] for h in full.history]
    assert again.best_epoch == full.best_epoch
    for key, value in straight.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key])


def test_checkpoint_of_another_model_or_split_is_refused(split, tmp_path):
    checkpoint = tmp_path / "run.pt"
    config = TrainConfig(epochs=1, batch_size=100)
    fit(_vae(split), split, config, checkpoint=checkpoint, progress=False)
    torch.manual_seed(0)
    other_model = MultVAE(split.n_items, hidden_dims=(16,), latent_dim=8)
    with pytest.raises(CheckpointMismatch, match="same architecture"):
        fit(other_model, split, config, checkpoint=checkpoint, resume=True, progress=False)
    other_split = paper_split(make_synthetic(n_users=600, n_items=100, seed=0, mean_clicks=20)[0],
                              n_heldout=60, seed=1)
    with pytest.raises(CheckpointMismatch, match="another data split"):
        fit(_vae(other_split), other_split, config, checkpoint=checkpoint, resume=True,
            progress=False)


def test_nan_loss_stops_with_the_epoch_and_batch(split):
    model = _vae(split)
    with torch.no_grad():
        model.decoder[-1].weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="epoch 1, batch 1/"):
        fit(model, split, TrainConfig(epochs=1, batch_size=100), progress=False)


@pytest.mark.parametrize("kwargs,message", [(dict(epochs=0), "epochs"), (dict(lr=-1), "lr"),
                                            (dict(beta_cap=-0.1), "β"),
                                            (dict(batch_size=2.5), "batch_size"),
                                            (dict(precision="fp16"), "precision must be one of")])
def test_bad_configuration(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_model_and_data_item_counts_must_match(split):
    with pytest.raises(ValueError, match="n_items=split.n_items"):
        fit(MultVAE(split.n_items + 1), split, TrainConfig(epochs=1), progress=False)


def test_budget_patience_and_schedule_scale_with_the_data():
    config = TrainConfig(batch_size=500)  # epochs=None: train to a validation plateau
    # ML-20M: 234 batches an epoch, so the paper's 200 epochs already exceed MIN_STEPS.
    assert config.budget_epochs(116_677) == 200 and config.patience_epochs(116_677) == 20
    # 483 users, one batch an epoch: 20,000 steps rather than 200, patience 1,000 steps.
    assert config.budget_epochs(483) == 20_000 and config.patience_epochs(483) == 1_000
    # the annealing schedule is the paper's 200 epochs whatever the budget: the cap after 160
    assert config.total_anneal_steps(483) == round(0.8 * 200 / 0.2)
    fixed = TrainConfig(epochs=30, batch_size=500)
    assert fixed.budget_epochs(483) == 30 and fixed.patience_epochs(483) is None
    assert TrainConfig(epochs=30, patience=4).patience_epochs(483) == 4


def test_a_run_stops_on_a_plateau_only_after_beta_reached_its_cap(split):
    model = _vae(split)
    config = TrainConfig(epochs=60, batch_size=50, seed=0, patience=3, anneal_fraction=0.5)
    result = fit(model, split, config, progress=False)
    n_batches = -(-split.train.shape[0] // 50)
    cap_epoch = int(np.ceil(0.5 * 60 * n_batches / n_batches))  # β reaches the cap at epoch 30
    assert len(result.history) >= cap_epoch
    assert result.history[cap_epoch - 1]["beta"] == pytest.approx(0.2)
    assert len(result.history) < 60, "this seed's run reaches a plateau before its budget"
    scores = [h["val_ndcg@100"] for h in result.history]
    assert max(scores[-3:]) <= result.best_score  # the last `patience` epochs were no better
    assert result.best_epoch <= len(result.history) - 3
    assert result.converged
    assert result.summary() == {"epochs_run": len(result.history), "best_epoch": result.best_epoch,
                                "budget_epochs": 60, "converged": result.converged}


def test_a_model_still_improving_at_the_end_is_flagged(split):
    model = _vae(split)
    result = fit(model, split, TrainConfig(epochs=2, batch_size=50, seed=0), progress=False)
    assert result.best_epoch == 2 and result.window == 1  # a tenth of the run, at least one epoch
    assert not result.converged
    assert result.convergence_note("Mult-VAE").startswith("WARNING: Mult-VAE was still improving")


def test_no_validation_users_is_a_clear_error(split):
    from dataclasses import replace

    import scipy.sparse as sp

    empty = sp.csr_matrix((0, split.n_items), dtype=np.float32)
    no_valid = replace(split, valid_fold_in=empty, valid_target=empty)
    with pytest.raises(ValueError, match="no validation users"):
        fit(_vae(split), no_valid, TrainConfig(epochs=1), progress=False)
