import math

import numpy as np
import pytest

from vaecf.experiments.annealing import annealing_curve, beta_reached, cap_sweep, sweep_beta_caps
from vaecf.data import make_synthetic, paper_split
from vaecf.models import MultVAE
from vaecf.train import TrainConfig, fit


def _history(betas, scores, kls=None):
    kls = kls or [10.0 - b for b in betas]
    return [{"epoch": i + 1, "beta": b, "val_ndcg@100": s, "kl": k, "nll": 100.0 + b}
            for i, (b, s, k) in enumerate(zip(betas, scores, kls))]


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=300, n_items=120, seed=1, mean_clicks=12)
    return paper_split(table, n_heldout=30, seed=1)


def test_curve_picks_the_beta_of_the_best_epoch():
    curve = annealing_curve(_history([0.1, 0.2, 0.3, 0.4], [0.30, 0.42, 0.40, 0.35]))
    assert curve.best_beta == pytest.approx(0.2)
    assert curve.best_score == pytest.approx(0.42)
    assert curve.best_epoch == 2
    np.testing.assert_allclose(curve.kl, [9.9, 9.8, 9.7, 9.6])
    np.testing.assert_allclose(curve.nll, [100.1, 100.2, 100.3, 100.4])


def test_ties_go_to_the_smallest_beta():
    curve = annealing_curve(_history([0.1, 0.2, 0.3], [0.5, 0.5, 0.4]))
    assert curve.best_beta == pytest.approx(0.1)


def test_curve_rejects_empty_or_foreign_histories():
    with pytest.raises(ValueError, match="empty"):
        annealing_curve([])
    with pytest.raises(ValueError, match="'beta'"):
        annealing_curve([{"epoch": 1, "val_ndcg@100": 0.3, "kl": 1.0, "nll": 2.0}])


def test_paper_schedule_reaches_the_cap_on_ml20m_but_not_on_ml1m():
    paper = TrainConfig(epochs=200, batch_size=500, beta_cap=0.2, anneal_steps=200_000)
    # ML-20M: 116,677 training users -> 234 batches x 200 epochs = 46,800 steps (β would be 0.234).
    assert beta_reached(paper, 116_677) == pytest.approx(0.2)
    # ML-1M: about 4,840 training users -> 10 batches x 200 epochs = 2,000 steps.
    assert beta_reached(paper, 4_840) == pytest.approx(2_000 / 200_000)
    # The default schedule is scaled to the run, so it always reaches the cap.
    assert beta_reached(TrainConfig(epochs=7, beta_cap=0.3), 4_840) == pytest.approx(0.3)
    with pytest.raises(ValueError, match="n_train_users"):
        beta_reached(paper, 0)


def test_beta_reached_matches_a_training_run(split):
    config = TrainConfig(epochs=2, batch_size=50, beta_cap=1.0, anneal_steps=40, seed=0)
    model = MultVAE(split.n_items, hidden_dims=(16,), latent_dim=4)
    history = fit(model, split, config, progress=False).history
    n_steps = 2 * math.ceil(split.train.shape[0] / 50)
    assert history[-1]["step"] == n_steps
    assert beta_reached(config, split.train.shape[0]) == pytest.approx(history[-1]["beta"])
    assert history[-1]["beta"] == pytest.approx(min(1.0, n_steps / 40))


def test_sweep_trains_one_run_per_cap(split):
    config = TrainConfig(epochs=2, batch_size=100, seed=0)
    runs = sweep_beta_caps(split, [1.0, 0.0], config, device="cpu", progress=False,
                           model_kwargs={"hidden_dims": (16,), "latent_dim": 4})
    assert sorted(runs) == [0.0, 1.0]
    assert runs[1.0][-1]["beta"] == pytest.approx(1.0)
    assert all(h["beta"] == 0 and h["loss"] == pytest.approx(h["nll"]) for h in runs[0.0])
    summary = cap_sweep(runs)
    np.testing.assert_array_equal(summary.caps, [0.0, 1.0])
    best = max(runs[1.0], key=lambda h: h["val_ndcg@100"])
    assert summary.best_scores[1] == pytest.approx(best["val_ndcg@100"])
    assert summary.kl[1] == pytest.approx(best["kl"])
    with pytest.raises(ValueError, match="β cap"):
        sweep_beta_caps(split, [], config)


def test_cap_sweep_reads_each_run_at_its_best_epoch():
    runs = {0.5: _history([0.25, 0.5], [0.2, 0.1], kls=[3.0, 2.0]),
            0.0: _history([0.0, 0.0], [0.1, 0.3], kls=[5.0, 6.0])}
    summary = cap_sweep(runs)
    np.testing.assert_array_equal(summary.caps, [0.0, 0.5])
    np.testing.assert_allclose(summary.best_scores, [0.3, 0.2])
    np.testing.assert_allclose(summary.kl, [6.0, 3.0])
    with pytest.raises(ValueError, match="no runs"):
        cap_sweep({})


def test_smooth_is_a_centred_moving_average_that_keeps_the_ends():
    from vaecf.experiments.annealing import smooth

    np.testing.assert_allclose(smooth([0.0, 3.0, 0.0, 3.0], 3), [1.5, 1.0, 2.0, 1.5])
    np.testing.assert_allclose(smooth([1.0, 2.0], 1), [1.0, 2.0])
    with pytest.raises(ValueError, match="window"):
        smooth([1.0], 0)


def _curve(betas, scores):
    return annealing_curve([{"epoch": i + 1, "beta": b, "val_ndcg@100": v, "kl": 1.0, "nll": 1.0}
                            for i, (b, v) in enumerate(zip(betas, scores))])


def test_choose_beta_ignores_a_one_epoch_spike_and_reports_the_seed_spread():
    from vaecf.experiments.annealing import choose_beta

    betas = np.linspace(0.1, 1.0, 10)
    broad = [0.30, 0.32, 0.34, 0.36, 0.37, 0.36, 0.34, 0.32, 0.30, 0.28]  # peaks at β = 0.5
    spiky = broad.copy()
    spiky[8] = 0.40  # one noisy epoch at β = 0.9 beats the broad peak unsmoothed
    choice = choose_beta([_curve(betas, spiky), _curve(betas, broad)], window=3)
    assert _curve(betas, spiky).best_beta == pytest.approx(0.9)
    assert choice.beta == pytest.approx(0.5)
    assert choice.seed_betas[1] == pytest.approx(0.5) and choice.spread >= 0
    assert choice.summary()["window_epochs"] == 3
    with pytest.raises(ValueError, match="same number of epochs"):
        choose_beta([_curve(betas, broad), _curve(betas[:5], broad[:5])])


def test_train_caps_keeps_per_user_scores_for_paired_comparisons(split):
    from vaecf.experiments.annealing import train_caps

    config = TrainConfig(epochs=2, batch_size=100, seed=0)
    runs = train_caps(split, [0.0, 1.0], config, device="cpu", progress=False,
                      model_kwargs={"hidden_dims": (16,), "latent_dim": 4})
    n_valid = split.valid_fold_in.shape[0]
    assert runs.valid_ndcg[0.0].shape == (n_valid,) and set(runs.test_ndcg) == {0.0, 1.0}
    assert runs.best_cap in (0.0, 1.0)
    diff = runs.paired(1.0, 0.0)
    assert diff.a == "β cap 1" and diff.n == n_valid
    assert cap_sweep(runs).caps.tolist() == [0.0, 1.0]


def test_paper_schedule_and_how_far_it_reaches():
    from vaecf.experiments.annealing import paper_schedule, schedule_reach

    config = paper_schedule(epochs=7, batch_size=100)
    assert (config.epochs, config.batch_size, config.beta_cap, config.anneal_steps) == (7, 100, 0.2, 200_000)
    rows = schedule_reach(4_840, epochs=7, batch_size=100)
    assert [row.users for row in rows] == [116_677, 4_840, 4_840]
    # ML-20M: 234 batches of 500 × 200 epochs = 46,800 steps, β would be 0.234: capped at 0.2.
    assert rows[0].steps == 46_800 and rows[0].beta == pytest.approx(0.2)
    assert rows[1].steps == 10 * 200 and rows[1].beta == pytest.approx(2_000 / 200_000)
    assert rows[2].steps == 49 * 7 and rows[2].beta == pytest.approx(343 / 200_000)
    assert rows[1].describe() == ("this data, 200 epochs            4,840 training users,  2,000 steps: "
                                  "β reached = 0.0100 (cap 0.2)")
    assert len(schedule_reach(4_840, epochs=200)) == 2  # no third row for the paper's own length


def test_beta_by_epoch_follows_the_linear_schedule_up_to_the_cap():
    from vaecf.experiments.annealing import beta_by_epoch

    config = TrainConfig(epochs=4, batch_size=10, beta_cap=0.5, anneal_steps=20)
    # 25 users: 3 batches an epoch, so β = min(0.5, 3·epoch / 20).
    np.testing.assert_allclose(beta_by_epoch(config, 25, 4), [0.0, 0.15, 0.30, 0.45, 0.5])
    # The default schedule is scaled to the run: the cap after 80% of the 10 epochs.
    scaled = beta_by_epoch(TrainConfig(epochs=10, batch_size=10, beta_cap=0.2), 25, 10)
    assert scaled[8] == pytest.approx(0.2) and scaled[7] < 0.2 and scaled[-1] == pytest.approx(0.2)


def test_curve_shape_tells_a_clear_fall_from_a_plateau():
    from vaecf.experiments.annealing import curve_shape, smooth

    betas = np.linspace(0.0, 1.0, 11)
    peaked = [0.10, 0.20, 0.30, 0.40, 0.50, 0.40, 0.30, 0.20, 0.10, 0.05, 0.0]
    shape = curve_shape(_curve(betas, peaked), window=3)
    smoothed = smooth(peaked, 3)
    assert shape.start == pytest.approx(0.15) and shape.peak == pytest.approx(0.4333333)
    assert shape.end == pytest.approx(0.025) and shape.peak_beta == pytest.approx(0.4)
    assert shape.noise == pytest.approx(np.std(np.array(peaked) - smoothed, ddof=1))
    assert shape.rise == pytest.approx(0.4333333 - 0.15) and shape.fall == pytest.approx(0.4333333 - 0.025)
    assert shape.clear_fall
    plateau = [0.10, 0.30, 0.40, 0.41, 0.40, 0.41, 0.40, 0.41, 0.40, 0.41, 0.40]
    assert not curve_shape(_curve(betas, plateau), window=3).clear_fall
    rising = list(np.linspace(0.1, 0.5, 11))  # peaks at β = 1: no fall at all
    assert not curve_shape(_curve(betas, rising), window=1).clear_fall
    with pytest.raises(ValueError, match="two epochs"):
        curve_shape(_curve([0.5], [0.3]), window=1)


def test_cap_runs_read_back_from_the_figures_numbers():
    from vaecf.experiments.annealing import CapRuns

    numbers = {"valid_per_user": {"0.0": [0.1, 0.2, 0.3], "0.2": [0.3, 0.3, 0.6]},
               "test_per_user": {"0.0": [0.5], "0.2": [0.4]}}
    runs = CapRuns.from_numbers(numbers, name="ML-1M")
    assert sorted(runs.valid_ndcg) == [0.0, 0.2] and runs.best_cap == 0.2
    np.testing.assert_allclose(runs.test_ndcg[0.2], [0.4])
    diff = runs.paired(0.2, 0.0)
    assert diff.a == "ML-1M β cap 0.2" and diff.b == "β cap 0"
    assert diff.difference == pytest.approx(0.2) and diff.n == 3
    assert CapRuns.from_numbers(numbers).paired(0.2, 0.0).a == "β cap 0.2"
    with pytest.raises(ValueError, match="beta_caps"):
        CapRuns.from_numbers({"valid_per_user": {}})


def test_cap_sweep_says_whether_rate_falls_and_distortion_rises():
    runs = {0.0: _history([0.0], [0.1], kls=[9.0]), 0.5: _history([0.5], [0.2], kls=[4.0]),
            1.0: _history([1.0], [0.2], kls=[5.0])}
    sweep = cap_sweep(runs)  # nll = 100 + β: rises with the cap; KL 9, 4, 5 does not fall throughout
    assert not sweep.rate_falls and sweep.distortion_rises
    runs[1.0] = _history([1.0], [0.2], kls=[1.0])
    runs[1.0][0]["nll"] = 100.2
    sweep = cap_sweep(runs)
    assert sweep.rate_falls and not sweep.distortion_rises


def test_annealed_and_capped_runs(split):
    from vaecf.experiments.annealing import (anneal_without_cap, retrain_capped, train_annealed,
                                             train_caps)

    config = TrainConfig(epochs=3, batch_size=100, seed=4)
    run = train_annealed(split, epochs=3, beta_max=0.5, config=config, seed=4, device="cpu",
                         progress=False)
    assert len(run.history) == 3 and run.history[-1]["beta"] == pytest.approx(0.5)
    assert [h["beta"] for h in run.history] == sorted(h["beta"] for h in run.history)
    curve, _ = anneal_without_cap(split, epochs=3, beta_max=0.5, config=config, seed=4, device="cpu",
                                  progress=False)
    np.testing.assert_allclose(curve.scores, [h["val_ndcg@100"] for h in run.history])

    capped = retrain_capped(split, 0.3, config, device="cpu", progress=False)
    assert set(capped) == {"history", "test_ndcg", "summary"}
    assert capped["test_ndcg"].shape == (split.test_fold_in.shape[0],)
    assert max(h["beta"] for h in capped["history"]) == pytest.approx(0.3)
    assert capped["summary"]["epochs_run"] == 3
    runs = train_caps(split, [0.3], config, device="cpu", progress=False)
    np.testing.assert_allclose(capped["test_ndcg"], runs.test_ndcg[0.3])  # the same run
    assert runs.epochs_run == {0.3: 3}
