"""β sweep, its figures and the sliders: values checked against independent computations."""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vaecf.experiments import beta_sweep as bs  # noqa: E402
from vaecf import widgets as vw  # noqa: E402
from vaecf.experiments.beta_sweep import BetaSweep, SweepSettings  # noqa: E402
from vaecf.data import make_synthetic, paper_split  # noqa: E402
from vaecf.plots.beta import PANEL_TITLES, plot_annealing, plot_beta_effect  # noqa: E402

TINY = dict(betas=(0.0, 0.5, 2.0), epochs=2, batch_size=64, hidden_dims=(16,), latent_dim=4,
            n_samples=2, seed=3)


@pytest.fixture(scope="module")
def data():
    torch.set_num_threads(1)
    table, truth = make_synthetic(n_users=160, n_items=120, seed=1, n_clusters=3)
    return paper_split(table, n_heldout=0.1), truth


@pytest.fixture(scope="module")
def trained(data):
    split, truth = data
    return bs.run_beta_sweep(split, SweepSettings(**TINY), truth, progress=False)


def made_sweep(n_users=25):
    """A sweep with known numbers, to check that the figures draw exactly these."""
    rng = np.random.default_rng(0)
    betas = np.array([0.0, 0.1, 0.2, 0.5, 1.0])
    latent = rng.normal(size=(5, n_users, 2)) / (1 + 3 * betas)[:, None, None]
    history = [{"epoch": e, "step": 4 * e, "beta": min(1.0, 4 * e / 40), "loss": 1.0,
                "val_ndcg@100": 0.3 + 0.02 * e - 0.002 * e * e} for e in range(1, 11)]
    return BetaSweep(betas=betas, reconstruction=np.array([150.0, 152, 154, 158, 163]),
                     kl=np.array([300.0, 30, 15, 7, 4]), ndcg=np.array([0.40, 0.43, 0.42, 0.41, 0.39]),
                     latent=latent, explained=np.full((5, 2), 0.3),
                     properties={"activity": rng.integers(3, 50, n_users).astype(float),
                                 "cluster": rng.integers(0, 4, n_users)},
                     histories=[[] for _ in betas], anneal_history=history)


def star(ax):
    """Offsets of the red star (the current value) drawn on ``ax``."""
    hits = [c for c in ax.collections if c.get_paths() and c.get_sizes().size
            and c.get_sizes()[0] >= 140]
    assert len(hits) == 1
    return hits[0].get_offsets()[0]


# --- the sweep itself -----------------------------------------------------------------

def test_pca_2d_matches_covariance_eigenvectors():
    rng = np.random.default_rng(5)
    points = rng.normal(size=(200, 5)) @ np.diag([5.0, 2.0, 1.0, 0.5, 0.1])
    proj, explained = bs.pca_2d(points)
    centred = points - points.mean(0)
    values, vectors = np.linalg.eigh(np.cov(centred.T))
    top = vectors[:, ::-1][:, :2]
    for k in range(2):
        assert abs(abs(np.corrcoef(proj[:, k], centred @ top[:, k])[0, 1]) - 1) < 1e-9
        assert np.isclose(proj[:, k].var(ddof=1), values[::-1][k])
    np.testing.assert_allclose(explained, values[::-1][:2] / values.sum())
    line, share = bs.pca_2d(np.outer(np.arange(4.0), [3.0, 4.0]))
    np.testing.assert_allclose(np.abs(line[:, 0]), np.abs(np.arange(4.0) - 1.5) * 5)
    np.testing.assert_allclose(share, [1.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="two users"):
        bs.pca_2d(np.ones((1, 3)))


def test_measure_terms_against_numpy(data):
    split, _ = data
    settings = SweepSettings(**TINY)
    model = settings.build_model(split.n_items, "cpu")
    model.eval()
    x = split.valid_fold_in
    with torch.no_grad():
        mu, logvar = model.encode(bs.csr_to_torch(x))
    mu, logvar = mu.numpy().astype(np.float64), logvar.numpy().astype(np.float64)
    kl = 0.5 * (np.exp(logvar) + mu ** 2 - 1 - logvar).sum(1).mean()
    terms = bs.measure_beta_terms(model, x, n_samples=3)
    assert np.isclose(terms["kl"], kl, rtol=1e-5)
    np.testing.assert_allclose(terms["mu"], mu, rtol=1e-5, atol=1e-6)
    # Monte Carlo over z = μ + σ ε with the same seeded draws, the likelihood in NumPy
    generator = torch.Generator().manual_seed(0)
    recon = 0.0
    for _ in range(3):
        eps = torch.randn(mu.shape, generator=generator).numpy().astype(np.float64)
        z = torch.as_tensor(mu + eps * np.exp(0.5 * logvar), dtype=torch.float32)
        with torch.no_grad():
            out = model.decode(z).numpy().astype(np.float64)
        out -= out.max(1, keepdims=True)
        out -= np.log(np.exp(out).sum(1, keepdims=True))
        recon -= (x.toarray() * out).sum(1).mean() / 3
    assert np.isclose(terms["reconstruction"], recon, rtol=1e-4)
    # with σ → 0 every sample is μ, so the reconstruction is −log softmax at μ
    model.encode = lambda batch: (torch.as_tensor(mu, dtype=torch.float32),
                                  torch.full(mu.shape, -60.0))
    with torch.no_grad():
        logits = model.decode(torch.as_tensor(mu, dtype=torch.float32)).numpy().astype(np.float64)
    log_pi = logits - logits.max(1, keepdims=True)
    log_pi -= np.log(np.exp(log_pi).sum(1, keepdims=True))
    expected = -(x.toarray() * log_pi).sum(1).mean()
    assert np.isclose(bs.measure_beta_terms(model, x, n_samples=2)["reconstruction"], expected,
                      rtol=1e-5)


def test_user_properties(data):
    split, truth = data
    props = bs.user_properties(split, truth)
    np.testing.assert_array_equal(props["activity (fold-in clicks)"],
                                  np.diff(split.valid_fold_in.indptr))
    np.testing.assert_array_equal(props["true taste cluster"], truth.clusters[split.valid_users])
    assert list(bs.user_properties(split)) == ["activity (fold-in clicks)"]
    _, small = make_synthetic(n_users=10, n_items=120, seed=1)
    with pytest.raises(ValueError, match="do not index"):
        bs.user_properties(split, small)


def test_sweep_trains_each_beta_constant_and_one_annealed_run(data, trained):
    split, _ = data
    np.testing.assert_array_equal(trained.betas, [0.0, 0.5, 2.0])
    assert trained.latent.shape == (3, split.valid_fold_in.shape[0], 2)
    for beta, history in zip(trained.betas, trained.histories):
        assert [h["beta"] for h in history] == [beta] * TINY["epochs"]  # constant after step 1
    assert np.isclose(trained.anneal_history[-1]["beta"], 1.0)
    assert np.all(np.diff([h["beta"] for h in trained.anneal_history]) > 0)
    for i, history in enumerate(trained.histories):
        assert np.isclose(trained.ndcg[i], max(h["val_ndcg@100"] for h in history))
    # the rate falls as β grows (the trade the first panel shows)
    assert trained.kl[0] > trained.kl[-1]
    assert trained.best_beta == trained.betas[np.argmax(trained.ndcg)]
    # each β's per-user validation NDCG averages to the score of the epoch it kept
    assert trained.ndcg_per_user.shape == (3, split.valid_fold_in.shape[0])
    np.testing.assert_allclose(trained.ndcg_per_user.mean(axis=1), trained.ndcg, atol=1e-6)
    diff = trained.paired(0.0, 2.0)
    np.testing.assert_allclose(diff.difference, trained.ndcg[0] - trained.ndcg[2], atol=1e-6)
    assert "constant β = 0" in diff.describe()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="duplicates"):
        SweepSettings(betas=(0.1, 0.1))
    with pytest.raises(ValueError, match="≥ 0"):
        SweepSettings(betas=(-0.1,))
    with pytest.raises(ValueError, match="empty"):
        SweepSettings(betas=())
    with pytest.raises(ValueError, match="epochs"):
        SweepSettings(epochs=0)


def test_cache_round_trip_and_train_or_load(tmp_path, data, trained, monkeypatch, capsys):
    path = trained.save(tmp_path / "sweep")
    assert path.suffix == ".npz" and path.with_suffix(".json").exists()
    back = BetaSweep.load(tmp_path / "sweep")
    for name in ("betas", "reconstruction", "kl", "ndcg", "latent", "explained", "ndcg_per_user"):
        np.testing.assert_array_equal(getattr(back, name), getattr(trained, name))
    assert back.properties.keys() == trained.properties.keys()
    for key in back.properties:
        np.testing.assert_array_equal(back.properties[key], trained.properties[key])
        assert back.properties[key].dtype == trained.properties[key].dtype
    assert back.histories == trained.histories and back.anneal_history == trained.anneal_history
    with pytest.raises(FileNotFoundError, match="run_beta_sweep"):
        BetaSweep.load(tmp_path / "nothing")

    split, truth = data
    settings = SweepSettings(**TINY)
    monkeypatch.setattr(bs, "run_beta_sweep", lambda *a, **k: trained)
    bs.train_or_load_sweep(tmp_path, split, settings, truth)
    assert "Trained" in capsys.readouterr().out

    def no_training(*args, **kwargs):
        raise AssertionError("a saved sweep must be loaded, not retrained")

    monkeypatch.setattr(bs, "run_beta_sweep", no_training)
    loaded = bs.train_or_load_sweep(tmp_path, split, settings, truth)
    assert "Loaded" in capsys.readouterr().out
    np.testing.assert_array_equal(loaded.ndcg, trained.ndcg)
    other = SweepSettings(**{**TINY, "epochs": 3})
    assert other.key(split) != settings.key(split)
    with pytest.raises(AssertionError, match="retrained"):
        bs.train_or_load_sweep(tmp_path, split, other, truth)


def test_add_point_keeps_the_grid_sorted():
    sweep = made_sweep()
    point = {"beta": 0.3, "reconstruction": 156.0, "kl": 10.0, "ndcg": 0.5,
             "latent": np.zeros((25, 2)), "explained": np.array([0.5, 0.2]), "history": [{"a": 1}]}
    grown = sweep.add_point(point)
    np.testing.assert_array_equal(grown.betas, [0.0, 0.1, 0.2, 0.3, 0.5, 1.0])
    i = grown.index(0.3)
    assert (grown.kl[i], grown.ndcg[i], grown.histories[i]) == (10.0, 0.5, [{"a": 1}])
    assert grown.best_beta == 0.3
    replaced = grown.add_point({**point, "ndcg": 0.1})
    assert len(replaced.betas) == 6 and replaced.ndcg[i] == 0.1
    with pytest.raises(KeyError, match="not in this sweep"):
        sweep.index(0.7)
    with pytest.raises(ValueError, match="no per-user NDCG"):
        sweep.paired(0.0, 0.1)


def test_add_point_carries_the_per_user_scores():
    sweep = made_sweep()
    sweep.ndcg_per_user = np.tile(sweep.ndcg[:, None], (1, 25))
    point = {"beta": 0.3, "reconstruction": 156.0, "kl": 10.0, "ndcg": 0.5, "ndcg_per_user": np.full(25, 0.5),
             "latent": np.zeros((25, 2)), "explained": np.array([0.5, 0.2]), "history": []}
    grown = sweep.add_point(point)
    np.testing.assert_allclose(grown.ndcg_per_user.mean(axis=1), grown.ndcg)
    assert grown.paired(0.3, 0.0).difference == pytest.approx(0.1)


# --- the figures over the whole slider range -------------------------------------------

@pytest.mark.parametrize("colour_by", ["activity", "cluster"])
def test_plot_beta_effect_over_every_beta(colour_by):
    sweep = made_sweep()
    limits = set()
    for i, beta in enumerate(sweep.betas):
        fig = plot_beta_effect(sweep, beta, colour_by=colour_by)
        ax_rd, ax_ndcg, ax_lat = fig.axes[:3]
        assert ax_rd.get_title() == "Rate–distortion"
        assert "rate" in ax_rd.get_xlabel() and "distortion" in ax_rd.get_ylabel()
        assert ax_ndcg.get_title() == PANEL_TITLES["ndcg"]
        assert ax_ndcg.get_ylabel() == "validation NDCG@100"
        assert ax_lat.get_title().endswith(f"β = {beta:g}")
        np.testing.assert_allclose(ax_rd.lines[0].get_xydata(), np.c_[sweep.kl, sweep.reconstruction])
        np.testing.assert_allclose(star(ax_rd), [sweep.kl[i], sweep.reconstruction[i]])
        np.testing.assert_allclose(star(ax_ndcg), [beta, sweep.ndcg[i]])
        users = ax_lat.collections[0]
        np.testing.assert_allclose(users.get_offsets(), sweep.latent[i])
        assert len(users.get_offsets()) == 25
        assert f"β = {beta:g}" in fig._suptitle.get_text()
        limits.add((ax_lat.get_xlim(), ax_lat.get_ylim()))
        plt.close(fig)
    assert len(limits) == 1  # fixed axes: the same frame for every β
    fig = plot_beta_effect(sweep, 1.0, colour_by=colour_by, fixed_axes=False)
    assert fig.axes[2].get_xlim()[1] < limits.pop()[0][1]  # shrunk means, tighter frame
    plt.close(fig)


def test_plot_beta_effect_defaults_and_errors():
    sweep = made_sweep()
    fig = plot_beta_effect(sweep)
    np.testing.assert_allclose(star(fig.axes[1]), [0.1, 0.43])  # the best β by default
    assert len(fig.axes) == 4  # activity is continuous: a colour bar
    plt.close(fig)
    with pytest.raises(KeyError, match="not in this sweep"):
        plot_beta_effect(sweep, 0.33)
    with pytest.raises(KeyError, match="no user property"):
        plot_beta_effect(sweep, 0.1, colour_by="age")


def test_named_categories_show_their_names_most_frequent_first():
    sweep = made_sweep(n_users=40)
    genres = np.array(["Drama"] * 12 + ["Horror"] * 8 + ["Comedy"] * 6 + ["Western"] * 2
                      + [f"rare {k}" for k in range(12)])
    sweep.properties["leaning genre"] = genres
    fig = plot_beta_effect(sweep, 0.2, colour_by="leaning genre")
    legend = fig.axes[2].get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert legend.get_title().get_text() == "leaning genre"
    assert labels == ["Drama", "Horror", "Comedy", "Western", "rare 0", "rare 1", "rare 10",
                      "rare 11", "rare 2", "other"]  # nine names, then the rest pooled
    colours = fig.axes[2].collections[0].get_array()
    assert len(set(colours[:12])) == 1 and colours[0] != colours[12]  # one colour a genre
    pooled = ~np.isin(genres, labels)
    assert pooled.sum() == 7 and set(colours[pooled]) == {9}  # the rest share "other"
    plt.close(fig)


def test_plot_annealing_over_every_epoch():
    history = made_sweep().anneal_history
    for h in history:
        fig = plot_annealing(history, h["epoch"])
        ax_beta, ax_ndcg = fig.axes
        assert ax_beta.get_xlabel().startswith("training step")
        assert ax_beta.get_ylabel() == "β (KL weight)"
        assert ax_ndcg.get_ylabel() == "validation NDCG@100"
        np.testing.assert_allclose(star(ax_beta), [h["step"], h["beta"]])
        np.testing.assert_allclose(star(ax_ndcg), [h["beta"], h["val_ndcg@100"]])
        assert len(ax_ndcg.lines[0].get_xdata()) == len(history)
        plt.close(fig)
    fig = plot_annealing(history)  # best epoch: 0.02 e − 0.002 e² peaks at e = 5
    assert "β ≈ 0.50" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="not in the history"):
        plot_annealing(history, 99)
    with pytest.raises(ValueError, match="empty"):
        plot_annealing([])


# --- the widgets -------------------------------------------------------------------------

@pytest.fixture
def shows(monkeypatch):
    """Record the titles of the figures that reach plt.show() or a slider's image (and
    close them)."""
    shown = []

    def title(fig):
        shown.append(fig._suptitle.get_text() if fig._suptitle else "")

    def show(*args, **kwargs):
        title(plt.gcf())
        plt.close("all")

    render = vw._png

    def png(fig):
        title(fig)
        return render(fig)

    monkeypatch.setattr(plt, "show", show)
    monkeypatch.setattr(vw, "_png", png)
    return shown


def _image(box):
    """The slider's figure: an Image widget holding a PNG, and the Label below it."""
    image, problem = box.children[-2:]
    assert image.format == "png" and bytes(image.value[:8]) == b"\x89PNG\r\n\x1a\n"
    return image, problem


def test_fallback_without_ipywidgets(monkeypatch, capsys, shows):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    sweep = made_sweep()
    assert vw.beta_slider(sweep, 0.5) is None
    assert vw.annealing_slider(sweep.anneal_history, 3) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [vw.NO_WIDGETS_NOTICE] * 2
    assert shows[0].startswith("β = 0.5:") and shows[1].startswith("Annealing")


def test_beta_slider_redraws_on_every_value(shows):
    widgets = pytest.importorskip("ipywidgets")
    sweep = made_sweep()
    box = vw.beta_slider(sweep, 0.2)
    slider, colour, fixed = box.children[0].children
    assert isinstance(slider, widgets.SelectionSlider) and not slider.continuous_update
    assert [v for _, v in slider.options] == sweep.betas.tolist()
    assert list(colour.options) == ["activity", "cluster"] and fixed.value
    assert len(box.children) == 3  # controls, figure, problem: no "train this β now" row
    image, problem = _image(box)
    first = bytes(image.value)
    for beta in sweep.betas[::-1]:
        slider.value = float(beta)
    assert bytes(image.value) != first and problem.value == ""
    colour.value = "cluster"
    titles = [t.split(":")[0] for t in shows]
    assert titles[0] == "β = 0.2"
    assert titles[1:6] == [f"β = {b:g}" for b in sweep.betas[::-1]]
    assert titles[6] == "β = 0"


def test_train_this_beta_now(data, trained, shows):
    pytest.importorskip("ipywidgets")
    split, _ = data
    box = vw.beta_slider(trained, 0.5, split=split, settings=SweepSettings(**TINY))
    slider = box.children[0].children[0]
    new_beta, button, message = box.children[1].children
    new_beta.value = 1.0
    button.click()
    assert [v for _, v in slider.options] == [0.0, 0.5, 1.0, 2.0]
    assert slider.value == 1.0 and "trained" in message.value
    assert shows[-1].startswith("β = 1:")
    new_beta.value = -1.0
    button.click()
    assert "≥ 0" in message.value and len(slider.options) == 4


def test_annealing_slider(shows):
    widgets = pytest.importorskip("ipywidgets")
    history = made_sweep().anneal_history
    box = vw.annealing_slider(history)
    slider = box.children[0]
    assert isinstance(slider, widgets.SelectionSlider) and slider.value == 5
    assert list(slider.options) == list(range(1, 11)) and not slider.continuous_update
    image, _ = _image(box)
    first = bytes(image.value)
    slider.value = 9
    assert len(shows) == 2 and bytes(image.value) != first
    with pytest.raises(ValueError, match="empty"):
        vw.annealing_slider([])


def test_a_figure_that_cannot_be_drawn_says_why_beside_the_slider(monkeypatch, shows):
    pytest.importorskip("ipywidgets")
    history = made_sweep().anneal_history
    box = vw.annealing_slider(history, 3)
    image, problem = _image(box)
    before = bytes(image.value)

    def broken(history, epoch):
        raise ValueError(f"no figure for epoch {epoch}")

    monkeypatch.setattr(vw, "plot_annealing", broken)
    box.children[0].value = 9
    assert problem.value == "could not draw this figure: no figure for epoch 9"
    assert bytes(image.value) == before  # the last good figure stays


def test_a_slider_run_whose_best_epoch_is_in_the_last_tenth_is_still_improving():
    def history(best_epoch, epochs=20):
        return [{"epoch": e, "val_ndcg@100": -abs(e - best_epoch)} for e in range(1, epochs + 1)]

    sweep = BetaSweep(betas=np.array([0.0, 0.5, 1.0]), reconstruction=np.zeros(3), kl=np.zeros(3),
                      ndcg=np.zeros(3), latent=np.zeros((3, 4, 2)), explained=np.zeros((3, 2)),
                      properties={}, histories=[history(7), history(18), history(19)])
    assert sweep.best_epochs() == [7, 18, 19]
    assert sweep.still_improving() == {1.0: (19, 20)}  # 18 of 20 is the last epoch outside the tenth
