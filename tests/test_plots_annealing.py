import matplotlib.pyplot as plt
import numpy as np

from vaecf.experiments.annealing import annealing_curve, cap_sweep
from vaecf.plots.annealing import plot_annealing_curve, plot_cap_sweep, plot_rate_distortion


def _history(betas, scores):
    return [{"epoch": i + 1, "beta": b, "val_ndcg@100": s, "kl": 5.0 - 4 * b, "nll": 50 + 10 * b}
            for i, (b, s) in enumerate(zip(betas, scores))]


def test_annealing_curve_plot_marks_the_best_beta():
    curve = annealing_curve(_history([0.0, 0.5, 1.0], [0.2, 0.4, 0.3]))
    fig = plot_annealing_curve(curve)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[0.5, 0.4]])
    assert ax.get_xlabel().startswith("β") and "NDCG" in ax.get_ylabel()
    plt.close(fig)


def test_rate_distortion_plot_has_one_dot_per_epoch_and_one_per_cap():
    history = _history([0.0, 0.5, 1.0], [0.2, 0.4, 0.3])
    curve = annealing_curve(history)
    sweep = cap_sweep({0.0: history[:1], 1.0: history})
    fig = plot_rate_distortion(curve, sweep)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[5, 50], [3, 55], [1, 60]])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), [[5, 50], [3, 55]])
    assert "KL" in ax.get_xlabel()
    plt.close(fig)


def test_cap_sweep_plot_draws_scores_and_kl():
    sweep = cap_sweep({0.0: _history([0.0], [0.2]), 1.0: _history([1.0], [0.3])})
    fig = plot_cap_sweep(sweep)
    score_ax, kl_ax = fig.axes
    np.testing.assert_allclose(score_ax.lines[0].get_ydata(), [0.2, 0.3])
    np.testing.assert_allclose(kl_ax.lines[0].get_ydata(), [5.0, 1.0])
    plt.close(fig)


def test_annealing_curve_plot_draws_the_smoothed_curve_and_its_peak():
    from vaecf.experiments.annealing import choose_beta

    curve = annealing_curve(_history([0.2, 0.4, 0.6, 0.8, 1.0], [0.30, 0.36, 0.34, 0.40, 0.20]))
    choice = choose_beta([curve], window=3)
    fig = plot_annealing_curve(curve, choice=choice)
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [0.33, 1.0 / 3, 1.1 / 3, 0.94 / 3, 0.30])
    assert any("smoothed peak: β = 0.60" in t.get_text() for t in ax.get_legend().get_texts())
    assert choice.beta == 0.6
    plt.close(fig)


def test_beta_schedules_plot_draws_one_line_per_schedule():
    from vaecf.experiments.annealing import beta_by_epoch
    from vaecf.plots.annealing import plot_beta_schedules
    from vaecf.train import TrainConfig

    schedules = {"fast": TrainConfig(epochs=4, batch_size=10, beta_cap=0.5, anneal_steps=20),
                 "paper": TrainConfig(epochs=4, batch_size=10, beta_cap=0.2, anneal_steps=200_000)}
    fig = plot_beta_schedules(schedules, 25, 4, title="what to see")
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.lines] == ["fast", "paper"]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [0, 1, 2, 3, 4])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [0.0, 0.15, 0.30, 0.45, 0.5])
    np.testing.assert_allclose(ax.lines[1].get_ydata(), beta_by_epoch(schedules["paper"], 25, 4))
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "β", "what to see")
    plt.close(fig)
