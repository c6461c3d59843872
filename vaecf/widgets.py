"""Notebook 6 and the β-slider demo: sliders over the β figures, built from ipywidgets' core
controls only.

Only core controls (SelectionSlider, Dropdown, Checkbox, FloatText, Button, Image, Label)
are used, no ipympl and no custom widgets, so the same code runs in Jupyter, JupyterLab,
Voilà and Colab (which still ships ipywidgets 7.x; ``ipywidgets>=7.7`` is enough). Each
move draws a new figure with :mod:`vaecf.plots.beta`, renders it to PNG and puts it in an
``Image`` widget. The figure is not displayed into an ``Output`` widget: executed
headless (papermill, nbconvert, nbval), a large figure captured by an ``Output`` widget
sometimes left the run waiting for ever (an upstream race in nbclient, its issue 312);
an image is plain widget state and has no such path. The figures come from a cached
:class:`vaecf.experiments.beta_sweep.BetaSweep`, so a move redraws in a fraction of a second; sliders
fire on release (``continuous_update=False``).

Without ipywidgets the helpers print one line and show the static figure instead.
"""
from __future__ import annotations

import importlib
import io

import matplotlib.pyplot as plt

from .experiments.beta_sweep import train_beta
from .plots.beta import plot_annealing, plot_beta_effect

__all__ = ["beta_slider", "annealing_slider", "NO_WIDGETS_NOTICE"]

NO_WIDGETS_NOTICE = ("ipywidgets is not installed, so this is the static figure; "
                     "`pip install 'ipywidgets>=7.7'` for the slider.")


def _ipywidgets():
    """The ipywidgets module, or None where it is not installed."""
    try:
        return importlib.import_module("ipywidgets")
    except ImportError:
        return None


def _static(fig_maker):
    print(NO_WIDGETS_NOTICE)
    fig_maker()
    plt.show()


def _png(fig) -> bytes:
    """``fig`` as PNG bytes, cropped as the inline backend crops; the figure is closed, so
    it is not also shown below the cell."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _figure(widgets, draw, controls: dict):
    """An ``Image`` showing ``draw(**values of controls)``, redrawn whenever a control's
    value changes, and a ``Label`` that says why when a figure could not be drawn."""
    image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
    problem = widgets.Label()

    def redraw(_change=None):
        try:
            image.value = _png(draw(**{name: c.value for name, c in controls.items()}))
            problem.value = ""
        except (ValueError, KeyError, RuntimeError) as error:
            problem.value = f"could not draw this figure: {error}"

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return image, problem


def beta_slider(sweep, beta: float | None = None, split=None, settings=None, device=None):
    """A β slider over a sweep: rate–distortion, validation NDCG@100 and the latent μ.

    Args:
        sweep: a :class:`vaecf.experiments.beta_sweep.BetaSweep` (trained or loaded once).
        beta: where the slider starts; default the best β on validation.
        split, settings: give both (small data only) to add a "train this β now" box that
            trains one more model with :func:`vaecf.experiments.beta_sweep.train_beta` and adds it to
            the slider.

    Returns the widget to display (the last line of a cell shows it), or None after
    showing the static figure when ipywidgets is missing.
    """
    beta = sweep.best_beta if beta is None else sweep.betas[sweep.index(beta)]
    widgets = _ipywidgets()
    if widgets is None:
        _static(lambda: plot_beta_effect(sweep, beta))
        return None
    state = {"sweep": sweep}
    slider = widgets.SelectionSlider(
        options=[(f"{b:g}", float(b)) for b in sweep.betas], value=float(beta),
        description="β", continuous_update=False, readout=True,
        layout=widgets.Layout(width="420px"))
    colour = widgets.Dropdown(options=list(sweep.properties), description="colour by")
    fixed = widgets.Checkbox(value=True, description="same latent axes for every β")

    def draw(beta, colour_by, fixed_axes):
        return plot_beta_effect(state["sweep"], beta, colour_by, fixed_axes)

    figure = _figure(widgets, draw, {"beta": slider, "colour_by": colour, "fixed_axes": fixed})
    rows = [widgets.HBox([slider, colour, fixed])]
    if split is not None and settings is not None:
        new_beta = widgets.FloatText(value=0.15, description="new β", step=0.05,
                                     layout=widgets.Layout(width="180px"))
        button = widgets.Button(description="train this β now", icon="play")
        message = widgets.Label()

        def train(_):
            value = float(new_beta.value)
            message.value = f"training β = {value:g} …"
            try:
                point = train_beta(split, value, settings, device)
            except (ValueError, RuntimeError) as error:  # bad β, or training diverged
                message.value = str(error)
                return
            state["sweep"] = state["sweep"].add_point(point)
            slider.options = [(f"{b:g}", float(b)) for b in state["sweep"].betas]
            slider.value = float(state["sweep"].betas[state["sweep"].index(value)])
            message.value = f"β = {value:g} trained: validation NDCG@100 {point['ndcg']:.3f}"

        button.on_click(train)
        rows.append(widgets.HBox([new_beta, button, message]))
    return widgets.VBox(rows + list(figure))


def annealing_slider(history: list, epoch: int | None = None):
    """An epoch slider over an annealing run: β at that step and NDCG@100 against β.

    Args:
        history: from :func:`vaecf.train.fit` with β annealed (``sweep.anneal_history``).
        epoch: where the slider starts; default the epoch with the best validation score.
    """
    if not history:
        raise ValueError("the history is empty; train with annealing first "
                         "(SweepSettings(anneal_run=True) or vaecf.train.fit).")
    if epoch is None:
        epoch = max(history, key=lambda h: h["val_ndcg@100"])["epoch"]
    widgets = _ipywidgets()
    if widgets is None:
        _static(lambda: plot_annealing(history, epoch))
        return None
    epochs = [h["epoch"] for h in history]
    slider = widgets.SelectionSlider(options=epochs, value=epoch, description="epoch",
                                     continuous_update=False,
                                     layout=widgets.Layout(width="480px"))

    figure = _figure(widgets, lambda epoch: plot_annealing(history, epoch), {"epoch": slider})
    return widgets.VBox([slider, *figure])
