"""Unit tests of the grading's building blocks (the sandboxed whole: test_grading_hostile.py)."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from vaecf.assignments import exchange
from vaecf.outputs import write_data
from vaecf.assignments.checks import CHECKS, Outcome
from vaecf.assignments.feedback import MAX_FEEDBACK, feedback_text
from vaecf.assignments.questions import Question, read_questions
from vaecf.assignments.reference_use import reference_uses
from vaecf.assignments.scoresheet import ScoreSheet
from vaecf.assignments.verdicts import judge_question
from vaecf.metrics import ndcg_at_k

ROOT = Path(__file__).resolve().parents[1]
Q1A = Question("q1a", 1.0, "ndcg_at_k", "check_ndcg")
REFERENCES = {"q1a": ("vaecf.metrics.ndcg_at_k",), "q1b": ("vaecf.metrics.recall_at_k",)}


def test_questions_are_read_from_the_master():
    assert read_questions(ROOT / "assignments/source/01_ranking_metrics.ipynb") == [
        Q1A, Question("q1b", 1.0, "recall_at_k", "check_recall")]


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    write_data(tmp_path / "a" / "f.txt", "one")
    write_data(tmp_path / "a" / "f.txt", "two")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["f.txt"]
    assert (tmp_path / "a" / "f.txt").read_text() == "two"


@pytest.mark.parametrize("cells, flagged", [
    (["import vaecf.metrics", "def ndcg_at_k(s, t, k):\n    return s"], set()),
    (["from vaecf.metrics import ndcg_at_k"], {"q1a"}),
    (["import vaecf.metrics as m\ndef recall_at_k(s, t, k):\n    return m.recall_at_k(s, t, k)"],
     {"q1b"}),
    (["from vaecf.assignments import checks", "f = checks.ndcg_at_k", "ndcg_at_k = f"], {"q1a"}),
    (["from vaecf.metrics import *"], {"q1a", "q1b"}),
    (["import vaecf\nf = getattr(vaecf.metrics, 'ndcg' + '_at_k')"], {"q1a", "q1b"}),
    (["exec('x = 1')"], {"q1a", "q1b"}),
    (["!pip install something\n%time x = 1"], set()),
])
def test_reference_use_is_found_through_aliases(cells, flagged):
    assert set(reference_uses(cells, REFERENCES)) == flagged


def test_handout_cells_are_not_searched():
    colab = 'import sys\nif "google.colab" in sys.modules:\n    pass'
    assert reference_uses([colab], REFERENCES) != {}
    assert reference_uses([colab], REFERENCES, handout={colab}) == {}


def _returned(tmp_path, outcomes):
    exchange.write_outcomes(tmp_path, "q1a", "found", outcomes)
    return exchange.OutputReader(tmp_path).outcomes("q1a", len(CHECKS["check_ndcg"].cases()))


def test_correct_answers_read_back_pass_and_wrong_ones_fail(tmp_path):
    cases = CHECKS["check_ndcg"].cases()
    right = [Outcome("returned", {"value": ndcg_at_k(c.value("scores"), c.value("target"),
                                                     c.value("k"))}) for c in cases]
    assert judge_question(Q1A, cases, _returned(tmp_path, right)).score == 1.0
    wrong = [Outcome("returned", {"value": np.zeros(len(c.value("scores")))}) for c in cases]
    verdict = judge_question(Q1A, cases, _returned(tmp_path, wrong))
    assert verdict.score == 0.0 and "wrong answer" in verdict.message


def test_the_reader_refuses_pickles_links_and_bad_fields(tmp_path):
    cases = CHECKS["check_ndcg"].cases()
    _returned(tmp_path, [Outcome("returned", {"value": np.zeros(1)})])
    pickled = io.BytesIO()
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)
    (tmp_path / "outputs" / "q1a" / "0.value.npy").write_bytes(pickled.getvalue())
    status = exchange.OutputReader(tmp_path).outcomes("q1a", len(cases))[1][0]
    assert status.status == "bad_return" and status.outputs == {}

    secret = tmp_path / "secret.npy"
    np.save(secret, np.ones(3))
    (tmp_path / "outputs" / "q1a" / "0.value.npy").unlink()
    os.symlink(secret, tmp_path / "outputs" / "q1a" / "0.value.npy")
    assert exchange.OutputReader(tmp_path).outcomes("q1a", len(cases))[1][0].outputs == {}

    manifest = tmp_path / "outputs" / "q1a.json"
    manifest.write_text(json.dumps({"function": "found", "cases": [
        {"status": "raised", "type": "Error: $HOME is /root"}]}))
    assert exchange.OutputReader(tmp_path).outcomes("q1a", len(cases))[1][0].type_name == "an exception"
    manifest.write_text(json.dumps({"function": "found", "cases": [{"status": "passed"}]}))
    assert exchange.OutputReader(tmp_path).outcomes("q1a", len(cases)) is None


def test_the_reader_has_a_byte_budget(tmp_path):
    _returned(tmp_path, [Outcome("returned", {"value": np.zeros(1000)})])
    reader = exchange.OutputReader(tmp_path, budget=2000)
    assert reader.outcomes("q1a", 10)[1][0].status == "bad_return"


def test_scoresheet_resumes_and_refuses_another_assignments_csv(tmp_path):
    path = tmp_path / "scores.csv"
    sheet = ScoreSheet(path, ["student", "q1a", "total", "possible", "error"])
    sheet.add({"student": "b", "q1a": 1.0, "total": 1.0, "possible": 1.0, "error": ""})
    sheet.add({"student": "a", "q1a": 0.0, "total": 0.0, "possible": 1.0, "error": "x, y"})
    assert ScoreSheet(path, sheet.columns).done == {"a", "b"}
    assert path.read_text().splitlines()[1].startswith("a,")
    with pytest.raises(ValueError, match="choose another --out"):
        ScoreSheet(path, ["student", "q2a", "total", "possible", "error"])


def test_feedback_is_bounded():
    verdicts = [judge_question(Q1A, [], None, "x" * 5000)] * 10
    assert len(feedback_text("s", verdicts, ["note"], ["cell 1: Error"] * 100)) <= MAX_FEEDBACK + 1
