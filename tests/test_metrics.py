import numpy as np
import pytest
import scipy.sparse as sp

from vaecf.metrics import evaluate, exclude_fold_in, ndcg_at_k, recall_at_k, top_k

# One user, five items. Scores rank the items 2 > 0 > 4 > 1 > 3; the user's held-out
# items are 0 and 3.
SCORES = np.array([[0.8, 0.3, 0.9, 0.1, 0.5]])
TARGET = sp.csr_matrix(np.array([[1, 0, 0, 1, 0]]))


def test_top_k_order():
    assert top_k(SCORES, 3).tolist() == [[2, 0, 4]]


def test_ndcg_by_hand():
    # Hits at ranks 2 and 5. DCG@5 = 1/log2(3) + 1/log2(6); IDCG = 1/log2(2) + 1/log2(3).
    dcg = 1 / np.log2(3) + 1 / np.log2(6)
    idcg = 1 + 1 / np.log2(3)
    assert ndcg_at_k(SCORES, TARGET, 5)[0] == pytest.approx(dcg / idcg)
    # @1: no hit; @2: 1/log2(3) over IDCG@2.
    assert ndcg_at_k(SCORES, TARGET, 1)[0] == 0
    assert ndcg_at_k(SCORES, TARGET, 2)[0] == pytest.approx((1 / np.log2(3)) / idcg)


def test_recall_by_hand():
    assert recall_at_k(SCORES, TARGET, 1)[0] == 0  # top-1 is item 2
    assert recall_at_k(SCORES, TARGET, 2)[0] == pytest.approx(1 / 2)  # min(2, 2) = 2
    assert recall_at_k(SCORES, TARGET, 5)[0] == pytest.approx(1.0)


def test_recall_normalises_by_min_k_and_target():
    target = sp.csr_matrix(np.array([[1, 1, 1, 1, 0]]))
    # top-2 = items 2, 0: both hits; min(2, 4) = 2.
    assert recall_at_k(SCORES, target, 2)[0] == pytest.approx(1.0)


def test_perfect_ranking_scores_one():
    target = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]]))  # items 2 and 0: ranks 1 and 2
    assert ndcg_at_k(SCORES, target, 3)[0] == pytest.approx(1.0)


def test_fold_in_items_are_excluded():
    fold_in = sp.csr_matrix(np.array([[0, 0, 1, 0, 0]]))
    scores = exclude_fold_in(SCORES, fold_in)
    assert scores[0, 2] == -np.inf
    assert top_k(scores, 1).tolist() == [[0]]


def test_evaluate_batches_agree_with_one_batch():
    rng = np.random.default_rng(0)
    fold_in = sp.csr_matrix((rng.random((37, 20)) < 0.2).astype(np.float32))
    target = ((rng.random((37, 20)) < 0.2) & (fold_in.toarray() == 0)).astype(np.float32)
    target[target.sum(axis=1) == 0, 0] = 1
    target = sp.csr_matrix(target)
    weights = rng.normal(size=(20, 20))
    scorer = lambda x: x @ weights  # noqa: E731
    a = evaluate(scorer, fold_in, target, ks_recall=(5,), ks_ndcg=(10,), batch_size=7)
    b = evaluate(scorer, fold_in, target, ks_recall=(5,), ks_ndcg=(10,), batch_size=100)
    for name in a:
        np.testing.assert_allclose(a[name], b[name])


@pytest.mark.parametrize("k", [0, -3, 6, 2.5])
def test_bad_k(k):
    with pytest.raises(ValueError, match="K"):
        ndcg_at_k(SCORES, TARGET, k)


def test_users_without_target_are_refused():
    with pytest.raises(ValueError, match="no held-out items"):
        ndcg_at_k(SCORES, sp.csr_matrix((1, 5)), 3)


def test_shape_mismatch_and_nan():
    with pytest.raises(ValueError, match="same users and items"):
        ndcg_at_k(SCORES, sp.csr_matrix(np.ones((1, 4))), 3)
    with pytest.raises(ValueError, match="NaN"):
        ndcg_at_k(np.array([[np.nan, 1, 2, 3, 4.0]]), TARGET, 3)
