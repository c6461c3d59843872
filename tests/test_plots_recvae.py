import matplotlib

matplotlib.use("Agg")

import pytest
import torch

from vaecf.models.recvae import composite_prior_on_a_line
from vaecf.plots.recvae import plot_composite_prior


def test_the_prior_figure_draws_the_mixture_and_the_standard_normal_near_zero():
    z, density, _ = composite_prior_on_a_line(1.5, -1.0, half_width=50.0, points=10_001)
    fig = plot_composite_prior(z, density, 1.5, -1.0, near=5.0)
    ax = fig.axes[0]
    prior, normal = ax.get_lines()
    x = torch.as_tensor(prior.get_xdata())
    assert x.abs().max() < 5.0 and x.numel() == normal.get_xdata().size
    # the standard normal's peak at 0 is 1/√(2π); the mixture's peak sits near last epoch's μ = 1.5
    assert max(normal.get_ydata()) == pytest.approx(0.3989, abs=1e-3)
    assert x[int(torch.as_tensor(prior.get_ydata()).argmax())] == pytest.approx(1.5, abs=0.1)
    assert "75% of its mass" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
