"""Notebook 4's figures: each draws the toy's quantities it is given, with labels and a title."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vaecf.toys import latent_toy as toy  # noqa: E402
from vaecf.plots.vi import (plot_decoder_plane, plot_elbo_traces, plot_gradient_variance,  # noqa: E402
                            plot_parameter_growth, plot_prior_likelihood_posterior, plot_q_on_posterior)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def case():
    model = toy.make_toy_model(n_items=4, hidden=4, scale=2.0, seed=0)
    x = model.sample_clicks(np.array([0.5, -0.5]), 5, seed=0)
    grid = toy.grid_posterior(model, x, limit=5.0, n=61)
    fits = {"a": toy.FittedQ(np.array([-0.5, 0.5]), np.array([-1.0, -1.2]), np.linspace(-9, -6, 60)),
            "b": toy.FittedQ(np.array([0.5, 0.0]), np.array([-0.8, -1.0]), np.linspace(-8, -7, 60))}
    return model, x, grid, fits


def test_decoder_plane_draws_each_items_probability(case):
    model, x, _, _ = case
    fig = plot_decoder_plane(model, [0.5, -0.5], x, limit=2.0, n=5)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("item")]
    assert len(panels) == model.n_items
    axis = torch.linspace(-2.0, 2.0, 5, dtype=torch.float64)
    pi = model.probabilities(torch.stack([axis[1], axis[3]]))  # the point (z₁, z₂) = (−1, 1)
    np.testing.assert_allclose(panels[2].collections[0].get_array().reshape(5, 5)[3, 1], pi[2].item())
    assert panels[0].get_xlabel() == "z₁" and panels[0].get_ylabel() == "z₂"
    assert f"x_1 = {int(x[1])}" in panels[1].get_title() and fig._suptitle.get_text()
    plt.close(fig)


def test_prior_likelihood_posterior_panels(case):
    _, x, grid, _ = case
    log_prior, log_likelihood = grid.prior_and_likelihood(x)
    fig = plot_prior_likelihood_posterior(grid, log_prior, log_likelihood, [0.5, -0.5])
    assert [ax.get_title() for ax in fig.axes] == ["prior p(z)", "likelihood p(x | z)", "posterior p(z | x)"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xydata(), [[0.5, -0.5]])
    assert fig.axes[0].get_ylabel() == "z₂" and fig._suptitle.get_text()
    plt.close(fig)


def test_elbo_traces_draw_every_step_and_the_running_mean(case):
    _, _, _, fits = case
    fig = plot_elbo_traces(fits, log_evidence=-5.0, elbo_prior=-10.0)
    ax = fig.axes[0]
    raw, smooth = ax.lines[0], ax.lines[1]
    np.testing.assert_allclose(raw.get_ydata(), fits["a"].elbo_trace)
    window = 2  # 60 steps // 30
    np.testing.assert_allclose(smooth.get_ydata(), np.convolve(fits["a"].elbo_trace, np.ones(2) / 2, "valid"))
    np.testing.assert_allclose(smooth.get_xdata(), np.arange(window - 1, 60))
    assert ax.lines[4].get_ydata()[0] == -5.0 and ax.get_ylim() == (-12.0, -3.0)
    assert ax.get_xlabel() and ax.get_ylabel() == "nats" and "log p(x)" in ax.get_title()
    plt.close(fig)


def test_q_on_posterior_marks_each_fit_and_the_posterior_mean(case):
    _, _, grid, fits = case
    fig = plot_q_on_posterior(grid, fits, [0.5, -0.5])
    left, right = fig.axes
    means = {line.get_label(): line.get_xydata()[0] for line in right.lines}
    np.testing.assert_allclose(means["mean of q a"], fits["a"].mu)
    np.testing.assert_allclose(means["posterior mean"], grid.posterior_mean())
    assert not any(label.startswith("mean of q") for label in (line.get_label() for line in left.lines))
    assert left.get_title() == "exact posterior p(z | x)" and right.get_title().startswith("fitted")
    plt.close(fig)


def test_gradient_variance_bars():
    fig = plot_gradient_variance([1.0, 0.5], [10.0, 4.0], [1, 4])
    ax = fig.axes[0]
    np.testing.assert_allclose([bar.get_height() for bar in ax.containers[0]], [1.0, 0.5])
    np.testing.assert_allclose([bar.get_height() for bar in ax.containers[1]], [10.0, 4.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "4"] and ax.get_yscale() == "log"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)


def test_parameter_growth_line_and_dot():
    fig = plot_parameter_growth(per_user=400, decoder=5_000, n_users=1_000, n_items=50, dataset="toy",
                                max_users=10_000)
    ax = fig.axes[0]
    line, floor, dot = ax.lines
    np.testing.assert_allclose(line.get_ydata(), 400 * line.get_xdata())
    assert line.get_xdata()[0] == pytest.approx(100) and line.get_xdata()[-1] == pytest.approx(10_000)
    assert floor.get_ydata()[0] == 5_000 and dot.get_xydata().tolist() == [[1_000, 400_000]]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()
    plt.close(fig)
