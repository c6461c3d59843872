"""A class's worth of hostile submissions graded together with honest ones, in the sandbox.

One grading run (two at a time) of every submission in :mod:`submissions`: each hostile one
gets its expected score and reason, honest work full marks, the run exits 0, no file outside
the grading output changes (the repository, the submissions, a decoy home are hashed before
and after), no decoy secret appears in any output, and no temporary folder is left behind.
Needs bubblewrap (``.ci/run`` installs it); skipped without it unless VAECF_REQUIRE_SANDBOX=1.
Short limits keep it to about a minute on two cores.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import secrets
import tempfile
from pathlib import Path

import pytest

from submissions import EXPECTED, ROOT, hostile, honest
from vaecf.assignments.__main__ import main as assignments_main
from vaecf.assignments.sandbox import Bubblewrap, SandboxUnavailable

SOURCE = ROOT / "assignments" / "source"
TIMEOUT, MEMORY = 30, 2048
SKIP = {".venv", ".git", "__pycache__", ".pytest_cache", "runs"}


def _sandbox_or_skip():
    try:
        Bubblewrap().probe()
    except SandboxUnavailable as error:
        if os.environ.get("VAECF_REQUIRE_SANDBOX") == "1":
            raise
        pytest.skip(f"no sandbox here: {error}")


def _hashes(*folders: Path) -> dict:
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if SKIP & set(path.relative_to(folder).parts) or not path.is_file():
                continue
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        digests[f"{folder} (entries)"] = sorted(str(p) for p in folder.rglob("*")
                                                if not SKIP & set(p.relative_to(folder).parts))
    return digests


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    _sandbox_or_skip()
    base = tmp_path_factory.mktemp("class")
    home, folder, feedback = base / "home", base / "submissions", base / "feedback"
    marker = base / "PICKLE_PAYLOAD_RAN"
    secret_file, secret_env = secrets.token_hex(16), secrets.token_hex(16)
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY----- {secret_file}\n")
    folder.mkdir()
    for name, nb in {**honest(), **hostile(home, feedback, folder, marker)}.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    (folder / "unreadable.ipynb").write_text("")
    assert set(p.stem for p in folder.glob("*.ipynb")) == set(EXPECTED)

    saved = dict(os.environ)
    os.environ.update({"HOME": str(home), "TEACHER_API_TOKEN": secret_env, "VAECF_SMOKE": "1"})
    private_temp = base / "tmp"  # the grader's temporary folders go here, to be counted
    private_temp.mkdir()
    before = _hashes(ROOT, folder, home)
    out = base / "out" / "scores.csv"
    argv = ["--source", str(SOURCE), "grade", "01", str(folder), "--out", str(out),
            "--feedback", str(feedback), "--timeout", str(TIMEOUT), "--memory", str(MEMORY),
            "--jobs", "2"]
    tempfile.tempdir = str(private_temp)
    try:
        code = assignments_main(argv)
    finally:
        tempfile.tempdir = None
        os.environ.clear()
        os.environ.update(saved)
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    return {"code": code, "rows": rows, "feedback": feedback, "out": out, "marker": marker,
            "secrets": (secret_file, secret_env), "changed": before != _hashes(ROOT, folder, home),
            "before": before, "after": _hashes(ROOT, folder, home),
            "temp_left": set(private_temp.iterdir())}


def test_the_run_succeeds_and_grades_everyone(graded):
    assert graded["code"] == 0
    assert set(graded["rows"]) == set(EXPECTED)


@pytest.mark.parametrize("student", EXPECTED)
def test_each_submission_gets_its_score_and_reason(graded, student):
    q1a, q1b, error_words, feedback_words = EXPECTED[student]
    row = graded["rows"][student]
    assert (float(row["q1a"]), float(row["q1b"])) == (q1a, q1b), row
    assert float(row["total"]) == q1a + q1b and float(row["possible"]) == 2.0
    for word in error_words:
        assert word in row["error"], (word, row["error"])
    if not error_words:
        assert "stopped" not in row["error"] and "early" not in row["error"], row["error"]
    text = (graded["feedback"] / f"{student}.txt").read_text()
    for word in feedback_words:
        assert word in text, (word, text)


def test_no_file_outside_the_output_changed(graded):
    changed = {k for k in graded["before"].keys() | graded["after"].keys()
               if graded["before"].get(k) != graded["after"].get(k)}
    assert not changed, changed


def test_no_secret_reaches_any_output(graded):
    outputs = [graded["out"], *graded["feedback"].iterdir()]
    for path in outputs:
        text = path.read_text()
        for secret in graded["secrets"]:
            assert secret not in text, path


def test_nothing_the_sandbox_wrote_was_executed(graded):
    assert not graded["marker"].exists()


def test_feedback_files_are_the_graders_own(graded):
    assert sorted(p.name for p in graded["feedback"].iterdir()) == sorted(
        f"{s}.txt" for s in EXPECTED)
    for path in graded["feedback"].iterdir():
        assert "FORGED" not in path.read_text()


def test_no_temporary_folder_is_left_behind(graded):
    assert graded["temp_left"] == set()


@pytest.mark.parametrize("assignment", ["02_likelihoods", "03_reparameterisation_kl",
                                        "04_beta_elbo"])
def test_the_other_assignments_grade_their_solution_full_and_the_handout_zero(
        assignment, tmp_path, monkeypatch):
    """Their torch checks (gradients, a model's parameters after a step) pass through the
    sandbox as arrays too."""
    _sandbox_or_skip()
    monkeypatch.setenv("VAECF_SMOKE", "1")
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "solution.ipynb").write_text((SOURCE / f"{assignment}.ipynb").read_text())
    (folder / "handout.ipynb").write_text(
        (ROOT / "assignments" / "student" / f"{assignment}.ipynb").read_text())
    out = tmp_path / "scores.csv"
    assert assignments_main(["--source", str(SOURCE), "grade", assignment[:2], str(folder),
                             "--out", str(out), "--timeout", "120"]) == 0
    rows = {row["student"]: row for row in csv.DictReader(out.open())}
    assert rows["solution"]["total"] == rows["solution"]["possible"], rows["solution"]
    assert float(rows["handout"]["total"]) == 0.0 and rows["handout"]["error"] == ""
