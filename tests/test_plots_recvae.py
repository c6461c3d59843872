import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from vaecf.models.recvae import composite_prior_on_a_line  # noqa: E402
from vaecf.plots.recvae import plot_composite_prior  # noqa: E402


def test_the_prior_figure_draws_the_mixture_and_the_standard_normal_near_zero():
    z, density, _ = composite_prior_on_a_line(1.5, -1.0, half_width=50.0, points=10_001)
    fig = plot_composite_prior(z, density, 1.5, -1.0, near=5.0)
    ax = fig.axes[0]
    prior, normal = ax.get_lines()
    x, y = np.asarray(prior.get_xdata(), dtype=float), np.asarray(prior.get_ydata(), dtype=float)
    # only the grid's points inside ±5 are drawn (a step of 0.01: about a thousand of the 10,001)
    inside = np.abs(np.asarray(z)) < 5.0
    assert x.size == inside.sum() == np.asarray(normal.get_xdata()).size and 990 < x.size < 1010
    assert np.abs(x).max() == pytest.approx(5.0, abs=0.011)
    # the standard normal's peak at 0 is 1/√(2π); the mixture's peak sits near last epoch's μ = 1.5
    assert np.asarray(normal.get_ydata(), dtype=float).max() == pytest.approx(0.3989, abs=1e-3)
    assert x[y.argmax()] == pytest.approx(1.5, abs=0.1)
    assert "75% of its mass" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
