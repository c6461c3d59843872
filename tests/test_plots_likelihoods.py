"""Notebook 3's computations and figure: the six networks, their test metrics and paired
comparisons, the mass on held-out clicks and the one-user mass figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import torch  # noqa: E402

from vaecf.experiments.comparison import paired_difference  # noqa: E402
from vaecf.data import make_synthetic, paper_split  # noqa: E402
from vaecf.experiments.likelihood_comparison import (held_out_mass, load_likelihood_networks,  # noqa: E402
                                         metrics_table, multinomial_versus, per_user_test_metrics,
                                         train_likelihood_networks)
from vaecf.metrics import evaluate  # noqa: E402
from vaecf.models import Popularity  # noqa: E402
from vaecf.plots.likelihoods import plot_mass_for_one_user  # noqa: E402


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=100, n_items=100, seed=0)
    return paper_split(table, n_heldout=15, seed=1)


def test_six_networks_train_and_load_with_their_kept_weights(split):
    runs = train_likelihood_networks(split, epochs=1, seed=0, device="cpu")
    assert set(runs) == {(kind, likelihood) for kind in ("VAE", "DAE")
                         for likelihood in ("multinomial", "gaussian", "logistic")}
    assert all(run["epochs_run"] == 1 and len(run["history"]) == 1 for run in runs.values())
    models = load_likelihood_networks(runs, split.n_items, "cpu")
    for key, model in models.items():
        assert type(model).__name__ == f"Mult{key[0]}" and model.likelihood_name == key[1]
        assert not model.training
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, runs[key]["state"][name])


def test_per_user_test_metrics_evaluates_the_test_users(split):
    popularity = Popularity().fit(split.train)
    got = per_user_test_metrics({"popularity": popularity}, split)["popularity"]
    want = evaluate(popularity.score, split.test_fold_in, split.test_target)
    for metric in ("recall@20", "recall@50", "ndcg@100"):
        np.testing.assert_array_equal(got[metric], want[metric])


def _per_user(ndcg):
    return {"recall@20": np.array([0.5, 1.0]), "recall@50": np.array([1.0, 1.0]), "ndcg@100": np.array(ndcg)}


def test_metrics_table_by_hand():
    table = metrics_table({"popularity": _per_user([0.1, 0.3])}).splitlines()
    assert table[0].split() == ["Recall@20", "Recall@50", "NDCG@100"]
    # mean 0.2, standard error sd / √2 = 0.1414… / 1.414… = 0.1
    assert table[1].split() == ["popularity", "0.7500", "1.0000", "0.2000", "±", "0.1000"]


def test_multinomial_versus_pairs_the_same_network():
    per_user = {"Mult-VAE multinomial": _per_user([0.3, 0.5, 0.4]),
                "Mult-VAE logistic": _per_user([0.1, 0.2, 0.4])}
    forward = multinomial_versus(per_user, "VAE", "logistic")
    want = paired_difference([0.3, 0.5, 0.4], [0.1, 0.2, 0.4], "Mult-VAE multinomial", "Mult-VAE logistic")
    assert (forward.a, forward.b) == (want.a, want.b)
    assert forward.difference == pytest.approx(want.difference) and forward.stderr == pytest.approx(want.stderr)
    backward = multinomial_versus(per_user, "VAE", "logistic", reverse=True)
    assert backward.a == "Mult-VAE logistic" and backward.difference == pytest.approx(-want.difference)


def test_held_out_mass_by_hand():
    logits = np.array([[5.0, 1.0, 0.0], [0.0, 2.0, -1.0]], dtype=np.float32)
    fold_in = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))
    target = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0]]))
    share, total = held_out_mass(logits, fold_in, target, "multinomial")
    # user 0: softmax over items 1, 2 -> e/(e+1) on item 1; user 1: 1/(1+e^-1) on item 0
    assert share == pytest.approx((np.e / (np.e + 1) + 1 / (1 + np.exp(-1))) / 2)
    torch.testing.assert_close(total, torch.ones(2, dtype=torch.float64))
    # Gaussian: fold-in items set to 0 and negatives count 0, so each user's only positive
    # prediction (item 1 for user 0, item 0 for user 1) is a held-out click
    logits[1, 0] = 3.0
    share, _ = held_out_mass(logits, fold_in, target, "gaussian")
    assert share == pytest.approx(1.0)
    assert logits[0, 0] == 5.0  # the caller's scores are not changed


def test_mass_plot_draws_each_likelihoods_top_items_coloured_by_role():
    scores = np.array([[3.0, 2.0, 1.0, 0.0, -1.0]], dtype=np.float32)
    logits = {"multinomial": scores, "logistic": scores[:, ::-1].copy()}
    fig = plot_mass_for_one_user(logits, fold_in_items={0}, target_items={1}, n_top=3)
    top, bottom = fig.axes
    pi = np.exp(scores[0]) / np.exp(scores[0]).sum()
    np.testing.assert_allclose([bar.get_height() for bar in top.patches], pi[:3], rtol=1e-6)
    assert [mcolors.to_hex(bar.get_facecolor()) for bar in top.patches] == \
        [mcolors.to_hex(c) for c in ("tab:grey", "tab:red", "tab:blue")]
    assert top.get_title().startswith(f"multinomial: {pi[0]:.0%} of the mass on fold-in items, {pi[1]:.0%}")
    assert bottom.get_title().startswith("logistic") and "3 items" in bottom.get_xlabel()
    assert top.get_ylabel() == "share of mass" and fig._suptitle.get_text()
    plt.close(fig)


def test_committed_multinomial_versus_reads_the_saved_per_user_values():
    import pytest

    from vaecf.experiments.likelihood_comparison import committed_multinomial_versus

    numbers = {"test_per_user": {"multinomial": [0.5, 0.4, 0.3], "gaussian": [0.2, 0.4, 0.3]}}
    diff = committed_multinomial_versus(numbers, "gaussian")
    assert (diff.a, diff.b) == ("ML-1M Mult-VAE multinomial", "ML-1M Mult-VAE gaussian")
    assert diff.difference == pytest.approx(0.1) and diff.n == 3
    assert committed_multinomial_versus(numbers, "gaussian", data="ML-20M").a.startswith("ML-20M")
    with pytest.raises(ValueError, match="'logistic'"):
        committed_multinomial_versus(numbers, "logistic")


class _FixedScores:
    """A stand-in model whose scores are given."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score(self, fold_in):
        return self.scores[: fold_in.shape[0]].copy()


def test_predicted_totals_and_held_out_masses_of_each_likelihood():
    from vaecf.experiments.likelihood_comparison import held_out_masses, predicted_totals

    scores = np.array([[0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    models = {"multinomial": _FixedScores(scores), "logistic": _FixedScores(scores),
              "gaussian": _FixedScores(scores)}
    fold_in = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))
    target = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0]]))
    totals = predicted_totals(models, fold_in)
    np.testing.assert_allclose(totals["multinomial"], [1.0, 1.0])
    np.testing.assert_allclose(totals["logistic"], [1.5, 1 / (1 + np.exp(-2)) + 1 / (1 + np.e) + 1 / (1 + np.exp(-0.5))])
    np.testing.assert_allclose(totals["gaussian"], [0.0, 1.5])
    on_target, shares = held_out_masses({"multinomial": models["multinomial"]}, fold_in, target)
    share, total = held_out_mass(scores, fold_in, target, "multinomial")
    assert on_target == {"multinomial": share}
    torch.testing.assert_close(shares["multinomial"], total)
