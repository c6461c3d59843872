import math

import pytest
import torch

from vaecf.toys.probability_mass import item_mass, item_predictions, raise_one_item

F = torch.tensor([[0.0, math.log(3.0), -1.0], [2.0, 0.5, -0.5]], dtype=torch.float64)


def test_predictions_by_hand():
    e = 1 + 3 + math.exp(-1)
    torch.testing.assert_close(item_predictions(F, "multinomial")[0],
                               torch.tensor([1 / e, 3 / e, math.exp(-1) / e], dtype=torch.float64))
    torch.testing.assert_close(item_predictions(F, "logistic")[0],
                               torch.tensor([0.5, 0.75, 1 / (1 + math.e)], dtype=torch.float64))
    torch.testing.assert_close(item_predictions(F, "gaussian"), F)


@pytest.mark.parametrize("name", ["multinomial", "logistic", "gaussian"])
def test_mass_sums_to_one_and_keeps_the_order(name):
    mass = item_mass(F, name)
    torch.testing.assert_close(mass.sum(-1), torch.ones(2, dtype=torch.float64))
    assert (mass >= 0).all()
    assert torch.equal(mass[1].argsort(), torch.tensor([2, 1, 0]))


def test_gaussian_mass_ignores_negative_predictions():
    torch.testing.assert_close(item_mass(F, "gaussian")[1],
                               torch.tensor([0.8, 0.2, 0.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="no mass"):
        item_mass(torch.tensor([[-1.0, -2.0]]), "gaussian")


def test_raising_one_item_takes_mass_from_the_others_only_under_the_multinomial():
    f = F[1]
    multinomial = raise_one_item(f, 0, 1.0, "multinomial")
    assert multinomial["total_before"] == pytest.approx(1) and multinomial["total_after"] == pytest.approx(1)
    gain = float(multinomial["after"][0] - multinomial["before"][0])
    assert gain > 0 and multinomial["change_of_others"] == pytest.approx(-gain)
    assert (multinomial["after"][1:] < multinomial["before"][1:]).all()
    logistic = raise_one_item(f, 0, 1.0, "logistic")
    assert logistic["change_of_others"] == 0.0
    assert logistic["total_after"] > logistic["total_before"]


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="Unknown likelihood"):
        item_mass(F, "poisson")
    with pytest.raises(ValueError, match="1-D"):
        raise_one_item(F, 0, 1.0, "multinomial")
    with pytest.raises(ValueError, match="item must be"):
        raise_one_item(F[0], 5, 1.0, "multinomial")


def test_total_mass_is_the_multinomials_fixed_budget_and_free_otherwise():
    from vaecf.toys.probability_mass import total_mass

    logits = torch.tensor([[2.0, 1.0, 0.0], [5.0, -3.0, 0.5]], dtype=torch.float64)
    assert torch.allclose(total_mass(logits, "multinomial"), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(total_mass(logits, "logistic"), torch.sigmoid(logits).sum(1))
    assert torch.allclose(total_mass(logits, "gaussian"), torch.tensor([3.0, 2.5], dtype=torch.float64))
