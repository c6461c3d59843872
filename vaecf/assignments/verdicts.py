"""Score one question from what the sandbox returned, in the grader's own process."""
from __future__ import annotations

from dataclasses import dataclass

from .checks import CHECKS, Case, CheckFailed, Outcome, judge_case
from .questions import Question

__all__ = ["Verdict", "judge_question"]

MAX_MESSAGE = 1500  # characters of one question's feedback


@dataclass(frozen=True)
class Verdict:
    question: str
    score: float
    points: float
    message: str     # for the student: passed, or the check's own explanation
    error: str = ""  # for the teacher (the CSV's ``error``): why it could not be graded


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 20] + "\n  [... cut short]"


def judge_question(question: Question, cases: list[Case],
                   returned: tuple[str, list[Outcome]] | None, not_run: str = "",
                   reference_use: str = "") -> Verdict:
    """The verdict on ``question`` given the sandbox's answers ``returned`` (function state
    and one outcome per case; ``None`` when the sandbox left none, ``not_run`` saying why)."""
    zero = lambda message, error: Verdict(question.name, 0.0, question.points,  # noqa: E731
                                          _bounded(message), error)
    if reference_use:
        return zero(f"Not graded: {reference_use}. Write the function yourself.",
                    f"{question.name}: reference use ({reference_use})")
    if returned is None:
        return zero(f"Not graded: {not_run}.", f"{question.name}: not graded")
    state, outcomes = returned
    if state == "missing":
        return zero(f"There is no function named `{question.function}` in the notebook: keep "
                    f"the name of the handout's `def {question.function}(...)`.",
                    f"{question.name}: no function named `{question.function}`")
    if state == "not_callable":
        return zero(f"`{question.function}` is not a function.",
                    f"{question.name}: `{question.function}` is not a function")
    check = CHECKS[question.check]
    try:
        for index, case in enumerate(cases):
            outcome = outcomes[index] if index < len(outcomes) else Outcome("missing")
            judge_case(check, case, outcome)
    except CheckFailed as failed:
        return zero(str(failed), "")
    except Exception as error:  # an answer the comparison cannot handle counts as wrong
        return zero(f"{question.function}'s answer on case: {case.description} could not be "
                    f"compared with the reference ({type(error).__name__}).", "")
    return Verdict(question.name, question.points, question.points,
                   f"passed: all {len(cases)} cases agree with the reference.")
