import numpy as np
import pytest
import torch

from vaecf.data import make_synthetic, paper_split
from vaecf.experiments.autoencoder_comparison import ScoresOnTest, train_autoencoders
from vaecf.experiments.likelihood_comparison import per_user_test_metrics
from vaecf.metrics import evaluate
from vaecf.models import MultDAE, Popularity
from vaecf.train import TrainConfig, fit


@pytest.fixture(scope="module")
def split():
    table, _ = make_synthetic(n_users=240, n_items=80, seed=3, mean_clicks=10)
    return paper_split(table, n_heldout=30, seed=3)


def test_each_autoencoder_trains_from_the_same_seed(split):
    config = TrainConfig(epochs=2, batch_size=100, seed=5)
    runs, models = train_autoencoders(split, config, names=("Mult-DAE", "AE"), device="cpu",
                                      progress=False)
    assert list(runs) == list(models) == ["Mult-DAE", "AE"]
    assert all(len(run.history) == 2 for run in runs.values())
    torch.manual_seed(5)
    alone = MultDAE(split.n_items)
    fit(alone, split, config, progress=False)
    batch = split.test_fold_in[:5]
    np.testing.assert_allclose(models["Mult-DAE"].score(batch), alone.score(batch), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown autoencoder.*'VAE'.*Mult-VAE"):
        train_autoencoders(split, config, names=("VAE",))


def test_test_scores_table_and_paired_comparison(split):
    popularity = Popularity().fit(split.train)
    scores = ScoresOnTest(per_user_test_metrics({"Popularity": popularity}, split))
    direct = evaluate(popularity.score, split.test_fold_in, split.test_target)
    np.testing.assert_allclose(scores.per_user["Popularity"]["ndcg@100"], direct["ndcg@100"])

    made = ScoresOnTest({"A": {"recall@20": np.array([0.5, 0.7]), "recall@50": np.array([1.0, 1.0]),
                             "ndcg@100": np.array([0.4, 0.6])},
                       "B": {"recall@20": np.array([0.1, 0.1]), "recall@50": np.array([0.2, 0.4]),
                             "ndcg@100": np.array([0.2, 0.2])}})
    assert made.means["A"]["recall@20"] == pytest.approx(0.6)
    assert made.errors["A"]["ndcg@100"] == pytest.approx(np.std([0.4, 0.6], ddof=1) / np.sqrt(2))
    lines = made.table().splitlines()
    assert lines[0].split()[:4] == ["model", "Recall@20", "Recall@50", "NDCG@100"]
    assert lines[1] == "A                0.6000     1.0000     0.5000   ± 0.1000"
    diff = made.paired("A", "B")
    assert (diff.a, diff.b, diff.n) == ("A", "B", 2) and diff.difference == pytest.approx(0.3)
    with pytest.raises(ValueError, match="no test scores for C"):
        made.paired("A", "C")
