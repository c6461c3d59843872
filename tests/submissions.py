"""Submissions of assignment 01 for the grading tests: honest ones, honest edge cases, and
one hostile one per way a class has been seen to break or cheat the grader.

Each is built from the handout (``assignments/student/01_ranking_metrics.ipynb``): answers
put under ``# YOUR CODE HERE`` and, for the hostile ones, cells appended. ``EXPECTED`` says
what the grader must make of each: the scores, and words its ``error`` or feedback must
contain.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANDOUT = ROOT / "assignments" / "student" / "01_ranking_metrics.ipynb"
OTHER_HANDOUT = ROOT / "assignments" / "student" / "02_likelihoods.ipynb"
GAP = "    # YOUR CODE HERE\n    raise NotImplementedError"

NDCG = """    top = np.argsort(-scores, axis=1)[:, :k]
    hits = np.take_along_axis(relevant, top, axis=1)
    discount = 1 / np.log2(np.arange(2, k + 2))
    return (hits * discount).sum(1) / np.cumsum(discount)[np.minimum(relevant.sum(1), k) - 1]"""
NDCG_LOOPS = """    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ranks = np.arange(1, k + 1)
    dcg = (np.take_along_axis(relevant, top, axis=1) / np.log2(ranks + 1)).sum(1)
    ideal = np.array([(1 / np.log2(ranks[:min(k, n)] + 1)).sum() for n in relevant.sum(1)])
    return dcg / ideal"""
RECALL = """    top = np.argsort(-scores, axis=1)[:, :k]
    return np.take_along_axis(relevant, top, axis=1).sum(1) / np.minimum(k, relevant.sum(1))"""
WRONG = "    return np.zeros(len(scores))"


def notebook(answers: dict, extra_cells=(), source: Path = HANDOUT) -> dict:
    """The handout with ``answers`` (function name -> body) and ``extra_cells`` appended."""
    nb = json.loads(source.read_text())
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        for name, body in answers.items():
            if text.startswith(f"def {name}("):
                text = text.replace(GAP, body)
        cell["source"] = text
    for extra in extra_cells:
        nb["cells"].append({"cell_type": "code", "execution_count": None, "id": f"x{len(nb['cells'])}",
                            "metadata": {}, "outputs": [], "source": textwrap.dedent(extra)})
    return nb


CORRECT = {"ndcg_at_k": NDCG, "recall_at_k": RECALL}
INCORRECT = {"ndcg_at_k": WRONG, "recall_at_k": WRONG}


def hostile(decoy_home: Path, feedback_dir: Path, submissions_dir: Path, marker: Path) -> dict:
    """name -> notebook, for every hostile submission (paths are the test's own, written
    into the attacks as a student who guessed them would)."""
    return {
        "hang_cell": notebook(CORRECT, ["while True:\n    pass"]),
        "hang_ignoring_alarm": notebook(CORRECT, ["""
            import signal
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass"""]),
        "hang_in_check": notebook({"ndcg_at_k": "    while k == 4:\n        pass\n" + NDCG,
                                   "recall_at_k": RECALL}),
        "fork_bomb": notebook(CORRECT, ["""
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass"""]),
        "memory_hog": notebook(CORRECT, ["""
            blocks = []
            while True:
                blocks.append(np.ones(2 ** 27))  # 1 GiB at a time"""]),
        "os_exit": notebook(CORRECT, ["import os\nos._exit(0)"]),
        "exit_and_kill_parent": notebook(CORRECT, [
            "exit()", "import sys\nsys.exit(3)", """
            import os, signal
            for pid in (os.getppid(), 1):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass"""]),
        "writes_outside": notebook(INCORRECT, [f"""
            import os, shutil
            from pathlib import Path
            import vaecf
            repo = Path(vaecf.__file__).resolve().parents[1]
            targets = [repo / "assignments" / "source" / "01_ranking_metrics.ipynb",
                       repo / "assignments" / "student" / "01_ranking_metrics.ipynb",
                       repo / "README.md", Path("{decoy_home}") / "planted.txt",
                       Path(os.path.expanduser("~")).parent / "planted.txt"]
            for target in targets:
                try:
                    target.write_text("overwritten")
                except OSError:
                    pass
                try:
                    target.unlink()
                except OSError:
                    pass
            try:
                shutil.rmtree(repo / "assignments")
            except OSError:
                pass"""]),
        "monkeypatches_checks": notebook(INCORRECT, ["""
            import os
            import vaecf.assignments
            import vaecf.assignments.checks as checks
            passed = lambda *args, **kwargs: None
            checks.judge_case = passed
            for check in checks.CHECKS.values():
                check.judge = passed
            checks.check_ndcg = checks.check_recall = passed
            vaecf.assignments.check_ndcg = vaecf.assignments.check_recall = passed
            os.makedirs("tests", exist_ok=True)
            for q in ("q1a", "q1b"):
                with open(f"tests/{q}.py", "w") as f:
                    f.write("name = '%s'\\npoints = 1\\ntest_cases = []\\n" % q)
            try:
                import otter.test_files.abstract_test as abstract
                abstract.TestFile.score = property(lambda self: 1.0)
            except Exception:
                pass"""]),
        "rewrites_checks_on_disk": notebook(INCORRECT, ["""
            from pathlib import Path
            import vaecf.assignments.checks as checks
            for path in (Path(checks.__file__), Path(checks.__file__).with_name("verdicts.py")):
                try:
                    path.write_text("def judge_question(*a, **k):\\n    return 1\\n")
                except OSError:
                    pass"""]),
        "malicious_pickle": notebook(INCORRECT, [f"""
            import os, pickle
            import numpy as np

            class Payload:
                def __reduce__(self):
                    return (os.system, ("touch {marker}",))

            def evil_save(file, arr, allow_pickle=True, **kwargs):
                np.lib.format.write_array(file, np.array([Payload()], dtype=object),
                                          allow_pickle=True)

            np.save = evil_save
            pickle.dump = lambda obj, file, *a, **k: file.write(pickle.dumps(Payload()))"""]),
        "uses_the_reference": notebook({"ndcg_at_k": "    from vaecf.metrics import ndcg_at_k as reference\n"
                                                     "    return reference(scores, target, k)",
                                        "recall_at_k": RECALL},
                                       ["recall_at_k = vaecf.metrics.recall_at_k"]),
        "leaks_secrets": notebook({"ndcg_at_k": f"""    import os
    leaked = [repr(dict(os.environ))]
    for path in ("~/.ssh/id_rsa", "{decoy_home}/.ssh/id_rsa", "/proc/1/cmdline",
                 "/proc/self/cmdline"):
        try:
            leaked.append(open(os.path.expanduser(path)).read())
        except OSError as error:
            leaked.append(str(error))
    print(leaked)
    raise RuntimeError(" ".join(leaked))""", "recall_at_k": RECALL}),
        "steals_and_forges": notebook(INCORRECT, [f"""
            import glob, os, shutil
            stolen = []
            for pattern in ("/*/*.ipynb", "/tmp/**/*.ipynb", "../*.ipynb",
                            "{submissions_dir}/*.ipynb"):
                for path in glob.glob(pattern, recursive=True):
                    try:
                        shutil.copy(path, ".")
                        stolen.append(path)
                    except OSError:
                        pass
            for folder in ("{feedback_dir}", "../feedback", "feedback"):
                for name in ("honest_a", "honest_b"):
                    try:
                        os.makedirs(folder, exist_ok=True)
                        with open(os.path.join(folder, name + ".txt"), "w") as f:
                            f.write("FORGED: you failed")
                    except OSError:
                        pass"""]),
    }


def honest() -> dict:
    """name -> notebook, for honest work and the honest edge cases."""
    fresh = {"cells": [c for c in notebook(CORRECT)["cells"] if c["cell_type"] == "code"],
             "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    other_kernel = notebook(CORRECT)
    other_kernel["metadata"]["kernelspec"] = {"name": "conda-env-ml-py", "display_name": "ML",
                                              "language": "python"}
    renamed = notebook({"recall_at_k": RECALL})
    for cell in renamed["cells"]:
        if cell["source"].startswith("def ndcg_at_k("):
            cell["source"] = cell["source"].replace("def ndcg_at_k(", "def my_ndcg(").replace(GAP, NDCG)
    return {"honest_a": notebook(CORRECT), "honest_b": notebook({**CORRECT, "ndcg_at_k": NDCG_LOOPS}),
            "no_otter_metadata": fresh, "unknown_kernel": other_kernel, "renamed_function": renamed,
            "other_assignment": notebook({}, source=OTHER_HANDOUT)}


# name -> (q1a, q1b, words the error column must contain, words the feedback must contain)
EXPECTED = {
    "honest_a": (1, 1, [], ["q1a (1/1): passed", "q1b (1/1): passed"]),
    "honest_b": (1, 1, [], ["q1a (1/1): passed"]),
    "no_otter_metadata": (1, 1, [], ["passed"]),
    "unknown_kernel": (1, 1, [], ["passed"]),
    "renamed_function": (0, 1, ["no function named `ndcg_at_k`"], ["keep the name"]),
    "other_assignment": (0, 0, ["assignment 02_likelihoods", "not 01_ranking_metrics"], []),
    "unreadable": (0, 0, ["not a readable notebook"], []),
    "hang_cell": (1, 1, ["was stopped after"], ["passed"]),
    "hang_ignoring_alarm": (0, 0, ["(--timeout) while running code cell"], ["Not graded"]),
    "hang_in_check": (0, 1, ["was stopped after"], ["ran past its time limit", "on case: fewer target items"]),
    "fork_bomb": (1, 1, ["was stopped after"], ["passed"]),
    "memory_hog": (1, 1, ["ran out of memory"], ["passed"]),
    "os_exit": (0, 0, ["ended its grading process early (exit status 0) while running code cell"],
                ["Not graded"]),
    "exit_and_kill_parent": (1, 1, [], ["passed"]),
    "writes_outside": (0, 0, [], ["gave a wrong answer"]),
    "monkeypatches_checks": (0, 0, [], ["gave a wrong answer"]),
    "rewrites_checks_on_disk": (0, 0, [], ["gave a wrong answer"]),
    "malicious_pickle": (0, 0, [], ["not plain numbers"]),
    "uses_the_reference": (0, 0, ["q1a: reference use", "vaecf.metrics.ndcg_at_k",
                                  "q1b: reference use", "vaecf.metrics.recall_at_k"],
                           ["package's own implementation"]),
    "leaks_secrets": (0, 1, [], ["raised RuntimeError (run the check cell"]),
    "steals_and_forges": (0, 0, [], ["gave a wrong answer"]),
}
