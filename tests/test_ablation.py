import numpy as np

from vaecf.experiments.ablation import (IDEAS, Ablation, MULT_VAE_SWITCHES, RECVAE_SWITCHES, cumulative_variants,
                            leave_one_out_variants, run_ablation)
from vaecf.data import load_dataset, paper_split
from vaecf.models import MultVAE, RecVAE
from vaecf.train import TrainConfig


def test_cumulative_variants_go_from_mult_vae_to_recvae_one_idea_at_a_time():
    variants = list(cumulative_variants().values())
    assert variants[0] == MULT_VAE_SWITCHES and variants[-1] == RECVAE_SWITCHES
    assert len(variants) == len(IDEAS) + 1
    for before, after, idea in zip(variants, variants[1:], IDEAS.values()):
        changed = {key for key in after if after[key] != before[key]}
        assert changed == set(idea)


def test_leave_one_out_takes_exactly_one_idea_away():
    for name, switches in leave_one_out_variants().items():
        idea = name.split(" − ")[1]
        changed = {key for key in switches if switches[key] != RECVAE_SWITCHES[key]}
        assert changed == set(IDEAS[idea])


def test_every_switch_off_has_mult_vaes_layers():
    ours = RecVAE(50, **MULT_VAE_SWITCHES)
    theirs = MultVAE(50)
    shapes = lambda m: sorted(tuple(p.shape) for n, p in m.named_parameters()
                             if not n.startswith("prior_encoder"))
    assert shapes(ours) == shapes(theirs)
    assert not ours.user_beta and ours.uses_kl


def test_run_ablation_scores_every_variant_on_the_same_test_users():
    table, _ = load_dataset("synthetic", size="tiny", seed=4)
    split = paper_split(table, n_heldout=20, seed=4)
    variants = dict(list(cumulative_variants().items())[:2])
    result = run_ablation(split, variants, TrainConfig(epochs=1, seed=1), hidden=16, latent_dim=4,
                          n_layers=2)
    assert list(result.per_user) == list(variants)
    assert all(values.shape == (split.test_users.size,) for values in result.per_user.values())
    step = result.steps()[0]
    assert step.n == split.test_users.size
    assert np.isfinite(step.difference) and result.runs["+ encoder"]["epochs_run"] == 1
    assert result.runs["+ encoder"]["seconds"] > 0


def test_the_ablation_table_gives_each_step_against_the_row_above():
    result = Ablation()
    for name, values, epochs in (("a", [0.1, 0.2, 0.3], 5), ("b", [0.2, 0.4, 0.3], 7),
                                 ("c", [0.2, 0.4, 0.6], 9)):
        result.per_user[name] = np.asarray(values)
        result.validation[name] = sum(values) / 3
        result.runs[name] = {"epochs_run": epochs, "best_epoch": epochs - 2, "seconds": 1.5}
    table = result.table()
    assert list(table.index) == ["a", "b", "c"]
    assert np.isnan(table.loc["a", "step"])
    # b − a = (0.1, 0.2, 0): mean 0.1, s.d. 0.1, s.e. 0.1 / √3
    assert table.loc["b", "step"] == 0.1
    assert table.loc["b", "± s.e."] == round(0.1 / np.sqrt(3), 4)
    assert table.loc["c", "step"] == 0.1 and table.loc["c", "epochs run"] == 9
    assert table.loc["c", "best epoch"] == 7 and table.loc["c", "seconds"] == 1.5
    assert table.loc["b", "test NDCG@100"] == 0.3
