"""The classroom assignments: checks, generated student notebooks, grading.

The solution (master) notebooks in assignments/source are executed by nbval (`make test`
runs `pytest ... assignments/source --nbval-lax`); here we test that the checks accept the
reference implementations and catch wrong ones, that the student notebooks are current
and fail their checks as handed out, and that grading a folder gives the expected CSV.
"""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbclient import NotebookClient

from vaecf import likelihoods, metrics
from vaecf.assignments import (CheckFailed, check_beta_schedule, check_elbo_loss,
                               check_gaussian, check_kl, check_multinomial,
                               check_multinomial_gradient, check_ndcg, check_recall,
                               check_reparameterise, check_train_step)
from vaecf.assignments import tools
from vaecf.assignments.__main__ import main as assignments_main
from vaecf.models.gaussian import kl_to_standard_normal
from vaecf.train import beta_at

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "assignments" / "source"
STUDENT = ROOT / "assignments" / "student"


def _elbo(logits, x, mu, logvar, beta):
    return (-likelihoods.multinomial(logits, x) + beta * kl_to_standard_normal(mu, logvar)).mean()


def _step(model, optimiser, x, beta):
    logits, mu, logvar = model(x)
    loss = _elbo(logits, x, mu, logvar, beta)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    return loss.item()


def _ranking(scores, target, k):
    relevant = np.asarray(target) > 0
    top = np.argsort(-np.asarray(scores), axis=1)[:, :k]
    return relevant, np.take_along_axis(relevant, top, axis=1)


def _ndcg_no_discount(scores, target, k):
    relevant, hits = _ranking(scores, target, k)
    return hits.sum(1) / np.minimum(k, relevant.sum(1))


def _recall_over_target(scores, target, k):
    relevant, hits = _ranking(scores, target, k)
    return hits.sum(1) / relevant.sum(1)


def _step_without_zero_grad(model, optimiser, x, beta):
    logits, mu, logvar = model(x)
    loss = _elbo(logits, x, mu, logvar, beta)
    loss.backward()
    optimiser.step()
    return loss.item()


CORRECT = [
    (check_ndcg, metrics.ndcg_at_k),
    (check_recall, metrics.recall_at_k),
    (check_multinomial, likelihoods.multinomial),
    (check_gaussian, likelihoods.gaussian),
    (check_multinomial_gradient, lambda f, x: x - x.sum(-1, keepdim=True) * torch.softmax(f, -1)),
    (check_reparameterise, lambda mu, logvar, eps: mu + torch.exp(0.5 * logvar) * eps),
    (check_kl, kl_to_standard_normal),
    (check_beta_schedule, beta_at),
    (check_elbo_loss, _elbo),
    (check_train_step, _step),
]


@pytest.mark.parametrize("check, reference", CORRECT, ids=lambda v: getattr(v, "__name__", ""))
def test_checks_accept_the_reference(check, reference, capsys):
    check(reference)
    assert "✓" in capsys.readouterr().out


# (check, wrong implementation, words the feedback must contain)
WRONG = {
    "ndcg without the log discount": (check_ndcg, _ndcg_no_discount,
                                      ["five-item example", "expected: [0.9197]",
                                       "without the log discount"]),
    "recall over |target|": (check_recall, _recall_over_target,
                             ["instead of min(K, |target|)"]),
    "multinomial from log(softmax)": (check_multinomial,
                                      lambda f, x: (x * torch.log(torch.softmax(f, -1))).sum(-1),
                                      ["large logits", "NaN or ±inf"]),
    "gaussian without ½": (check_gaussian, lambda f, x: -((x - f) ** 2).sum(-1),
                           ["missing factor ½"]),
    "gradient without N": (check_multinomial_gradient, lambda f, x: x - torch.softmax(f, -1),
                           ["number of clicks"]),
    "reparameterise with the variance": (check_reparameterise,
                                         lambda mu, logvar, eps: mu + torch.exp(logvar) * eps,
                                         ["standard deviation"]),
    "reparameterise detached": (check_reparameterise,
                                lambda mu, logvar, eps: (mu + torch.exp(0.5 * logvar) * eps).detach(),
                                ["gradients can flow"]),
    "kl with a sign error": (check_kl,
                             lambda mu, lv: 0.5 * (lv.exp() + mu ** 2 - 1 + lv).sum(-1),
                             ["sign error on the log σ² term", "expected:", "got:"]),
    "beta without the cap": (check_beta_schedule, lambda s, a, c: s / a, ["without the cap"]),
    "elbo summed over users": (check_elbo_loss,
                               lambda f, x, mu, lv, b: (-likelihoods.multinomial(f, x)
                                                        + b * kl_to_standard_normal(mu, lv)).sum(),
                               ["sum over users instead of a mean"]),
    "elbo minus the KL": (check_elbo_loss,
                          lambda f, x, mu, lv, b: (-likelihoods.multinomial(f, x)
                                                   - b * kl_to_standard_normal(mu, lv)).mean(),
                          ["the KL must be added"]),
    "train step without zero_grad": (check_train_step, _step_without_zero_grad,
                                     ["zero_grad", "β=0.3"]),
}


@pytest.mark.parametrize("name", WRONG)
def test_checks_catch_a_wrong_implementation(name):
    check, wrong, words = WRONG[name]
    with pytest.raises(CheckFailed) as caught:
        check(wrong)
    for word in words:
        assert word in str(caught.value), f"{word!r} not in the feedback:\n{caught.value}"


def test_not_implemented_yet_says_what_to_do():
    def todo(*args):
        raise NotImplementedError

    with pytest.raises(CheckFailed, match="(?s)not implemented yet.*YOUR CODE HERE"):
        check_kl(todo)


def test_a_crash_names_the_input():
    with pytest.raises(CheckFailed, match="(?s)raised IndexError.*on case: the five-item"):
        check_ndcg(lambda scores, target, k: scores[:, 99])


def test_student_notebooks_are_generated_from_the_masters():
    assert [p.name for p in tools.masters(SOURCE)] == sorted(p.name for p in STUDENT.glob("*.ipynb"))
    assert tools.stale_students(SOURCE, STUDENT) == [], (
        "run `python -m vaecf.assignments generate` and commit assignments/student/")


def test_student_notebooks_have_gaps_and_no_solutions():
    for path in STUDENT.glob("*.ipynb"):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        assert source.count("# YOUR CODE HERE") >= 2, path.name
        assert "SOLUTION" not in source and "BEGIN TESTS" not in source, path.name


def test_check_command_reports_a_stale_student_notebook(tmp_path, capsys):
    for path in STUDENT.glob("*.ipynb"):
        (tmp_path / path.name).write_text(path.read_text())
    stale = tmp_path / "03_reparameterisation_kl.ipynb"
    stale.write_text(stale.read_text().replace("Question 3a", "Question 3z"))
    assert assignments_main(["--source", str(SOURCE), "check", "--student", str(tmp_path)]) == 1
    assert "03_reparameterisation_kl.ipynb" in capsys.readouterr().err


def test_generate_brings_the_colab_cell_up_to_date(tmp_path, monkeypatch):
    source, student = tmp_path / "source", tmp_path / "student"
    source.mkdir()
    master = source / "01_ranking_metrics.ipynb"
    master.write_text((SOURCE / master.name).read_text())
    monkeypatch.setattr("vaecf.notebook.bootstrap_source.__defaults__",
                        ("https://github.com/someone/fork", "v9.9.9"))
    assert tools.stale_students(source, student) == ["01_ranking_metrics.ipynb (its Colab cell)"]
    tools.generate(source, student)
    assert "someone/fork@v9.9.9" in master.read_text()
    assert "someone/fork@v9.9.9" in (student / master.name).read_text()
    assert tools.stale_students(source, student) == []


def _run(nb, cwd):
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def test_student_notebooks_fail_their_checks_as_handed_out(tmp_path, monkeypatch):
    """Run every student notebook untouched: each check cell reports the gap."""
    monkeypatch.setenv("VAECF_SMOKE", "1")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    # One kernel for all four notebooks keeps this test short; each is self-contained.
    combined, owners = nbformat.v4.new_notebook(), []
    for path in sorted(STUDENT.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            combined.cells.append(cell)
            owners.append(path.name)
    _run(combined, tmp_path)
    checked = set()
    for owner, cell in zip(owners, combined.cells):
        if cell.cell_type == "code" and cell.source.startswith("check_"):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert errors and errors[0].ename == "CheckFailed", (owner, cell.source, cell.outputs)
            assert "not implemented yet" in errors[0].evalue
            assert "YOUR CODE HERE" in errors[0].evalue
            checked.add(owner)
    assert checked == {p.name for p in STUDENT.glob("*.ipynb")}


def _submission(student_nb: Path, answers: dict) -> dict:
    nb = json.loads(student_nb.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        for name, body in answers.items():
            if source.startswith(f"def {name}("):
                source = source.replace("    # YOUR CODE HERE\n    raise NotImplementedError", body)
        cell["source"] = source
    return nb


NDCG_ANSWER = """    top = np.argsort(-scores, axis=1)[:, :k]
    hits = np.take_along_axis(relevant, top, axis=1)
    discount = 1 / np.log2(np.arange(2, k + 2))
    return (hits * discount).sum(1) / np.cumsum(discount)[np.minimum(relevant.sum(1), k) - 1]"""
RECALL_ANSWER = """    top = np.argsort(-scores, axis=1)[:, :k]
    return np.take_along_axis(relevant, top, axis=1).sum(1) / np.minimum(k, relevant.sum(1))"""


def test_grading_without_the_sandbox_gives_the_expected_scores_and_says_what_is_missing(
        tmp_path, monkeypatch, capsys):
    """The --no-sandbox fallback (for machines without bubblewrap): the same scores, resumed
    runs skip who is done, and the output lists the protections it lacks. The sandboxed
    run is tested on hostile submissions in test_grading_hostile.py."""
    monkeypatch.setenv("VAECF_SMOKE", "1")
    monkeypatch.chdir(tmp_path)
    student = STUDENT / "01_ranking_metrics.ipynb"
    folder = tmp_path / "submissions"
    folder.mkdir()
    submissions = {"correct": {"ndcg_at_k": NDCG_ANSWER, "recall_at_k": RECALL_ANSWER},
                   "partial": {"ndcg_at_k": NDCG_ANSWER}}
    for name, answers in submissions.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(_submission(student, answers)))
    (folder / "unreadable.ipynb").write_text("")
    out = tmp_path / "scores.csv"
    argv = ["--source", str(SOURCE), "grade", "01", str(folder), "--out", str(out),
            "--feedback", str(tmp_path / "feedback"), "--no-sandbox", "--timeout", "120"]
    assert assignments_main(argv) == 0
    assert "graded WITHOUT a sandbox; missing file-system isolation" in capsys.readouterr().err
    import pandas as pd

    scores = pd.read_csv(out).set_index("student")
    assert list(scores.columns[:4]) == ["q1a", "q1b", "total", "possible"]
    assert scores.loc["correct", ["q1a", "q1b", "total"]].tolist() == [1.0, 1.0, 2.0]
    assert scores.loc["partial", ["q1a", "q1b", "total"]].tolist() == [1.0, 0.0, 1.0]
    assert scores.loc["unreadable", "total"] == 0.0
    assert "not a readable notebook" in scores.loc["unreadable", "error"]
    assert (scores["possible"] == 2.0).all()
    feedback = (tmp_path / "feedback" / "partial.txt").read_text()
    assert "recall_at_k is not implemented yet" in feedback

    (folder / "late.ipynb").write_text(json.dumps(_submission(student, {})))
    assert assignments_main(argv) == 0
    assert "kept 3 already graded" in capsys.readouterr().out
    assert pd.read_csv(out).set_index("student").loc["late", "total"] == 0.0


def test_grade_rejects_an_unknown_assignment_and_an_empty_folder(tmp_path, capsys):
    assert assignments_main(["--source", str(SOURCE), "grade", "99", str(tmp_path)]) == 2
    assert "No assignment '99'" in capsys.readouterr().err
    assert assignments_main(["--source", str(SOURCE), "grade", "01", str(tmp_path)]) == 2
    assert "No .ipynb submissions" in capsys.readouterr().err
    assert assignments_main(["--source", str(SOURCE), "grade", "01", str(tmp_path / "no")]) == 2
    assert "No folder" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, words", [("--timeout", "1", "at least 5 seconds"),
                                                 ("--memory", "512", "at least 1024"),
                                                 ("--jobs", "0", "at least 1"),
                                                 ("--jobs", "two", "not a number")])
def test_grade_rejects_bad_flags_with_the_reason(flag, value, words, tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        assignments_main(["grade", "01", str(tmp_path), flag, value])
    assert exited.value.code == 2
    assert words in capsys.readouterr().err
