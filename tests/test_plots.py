"""The item map and the coloured scatter it shares with the β slider."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from vaecf.plots.results import category_codes, plot_item_map  # noqa: E402

XY = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, -1.0]])
EXPLAINED = np.array([0.6, 0.25])


def test_integer_categories_keep_their_order_names_go_by_frequency():
    codes, labels = category_codes(np.array([7, 3, 7, 5]))
    assert labels == ["3", "5", "7"] and codes.tolist() == [2, 0, 2, 1]
    codes, labels = category_codes(np.array(["Horror", "Drama", "Drama", "Comedy"]))
    assert labels == ["Drama", "Comedy", "Horror"] and codes.tolist() == [2, 0, 0, 1]


def test_item_map_by_genre_names_the_items_and_labels_the_axes():
    genres = np.array(["Drama", "Comedy", "Drama", "Horror"])
    fig = plot_item_map(XY, EXPLAINED, genres, "most specific genre",
                        names={2: "Toy Story (1995)", 0: "Fargo (1996)"})
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), XY)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Drama", "Comedy", "Horror"]
    assert ax.get_legend().get_title().get_text() == "most specific genre"
    annotations = {t.get_text(): tuple(float(v) for v in t.xy) for t in ax.texts}
    assert annotations == {"Toy Story (1995)": (2.0, 2.0), "Fargo (1996)": (0.0, 1.0)}
    assert ax.get_xlabel() == "principal axis 1 (60% of variance)"
    assert ax.get_ylabel() == "principal axis 2 (25% of variance)"
    assert "coloured by most specific genre" in ax.get_title()
    plt.close(fig)


def test_item_map_by_a_number_draws_a_colour_bar():
    popularity = np.array([0.5, 1.0, 2.0, 3.0])
    fig = plot_item_map(XY, EXPLAINED, popularity, "log10(1 + clicks)")
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "log10(1 + clicks)"
    np.testing.assert_allclose(fig.axes[0].collections[0].get_array(), popularity)
    assert fig.axes[0].get_legend() is None and not fig.axes[0].texts
    plt.close(fig)


def test_gap_figures_label_their_axes_and_state_the_beta():
    from vaecf.models.amortisation import AmortisationGap
    from vaecf.plots.results import plot_amortisation_gap, plot_gap_decomposition
    from vaecf.toys.elbo_gaps import GapDecomposition

    values = np.array([-10.0, -9.0, -12.0])
    gap = AmortisationGap(0.2, values, values + 1, values + 0.5, 0.01, 1.0)
    fig = plot_amortisation_gap(gap, activity=np.array([3, 10, 30]))
    assert "β = 0.20" in fig.axes[0].get_xlabel() and fig.axes[1].get_ylabel()
    plt.close(fig)
    fig = plot_gap_decomposition(GapDecomposition(np.zeros(3), -np.ones(3), -np.array([1.5, 2, 3])))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "nats" and ax.get_title()
    assert [t.get_text().split(",")[0] for t in ax.get_legend().get_texts()] == [
        "approximation gap: log p(x) − ELBO(q*)", "amortisation gap: ELBO(q*) − ELBO(q_φ)"]
    plt.close(fig)


def test_total_mass_figure_has_one_labelled_panel_per_likelihood():
    from vaecf.plots.results import plot_total_mass

    clicks = np.array([3, 10, 30])
    fig = plot_total_mass({"multinomial": np.ones(3), "logistic": np.array([2.0, 5.0, 9.0])}, clicks)
    assert [ax.get_title() for ax in fig.axes] == ["multinomial", "logistic"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    plt.close(fig)
