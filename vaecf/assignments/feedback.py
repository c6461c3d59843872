"""The feedback file returned to one student: the checks' own messages, bounded in length,
written only by the grader."""
from __future__ import annotations

from pathlib import Path

from ..outputs import write_data
from .verdicts import Verdict

__all__ = ["feedback_text", "write_feedback"]

MAX_FEEDBACK = 8000  # characters in all


def feedback_text(student: str, verdicts: list[Verdict], notes: list[str],
                  cell_errors: list[str]) -> str:
    """Notes on the run (timeouts, ...), then each question's score and message."""
    parts = [f"Feedback for {student}"]
    if notes:
        parts.append("\n".join(f"Note: {note}." for note in notes))
    for verdict in verdicts:
        parts.append(f"{verdict.question} ({verdict.score:g}/{verdict.points:g}): {verdict.message}")
    if cell_errors:
        shown = cell_errors[:20] + ([f"... and {len(cell_errors) - 20} more"]
                                    if len(cell_errors) > 20 else [])
        parts.append("Cells that raised an error when your notebook was run top to bottom:\n"
                     + "\n".join(f"  {line}" for line in shown))
    text = "\n\n".join(parts)
    if len(text) > MAX_FEEDBACK:
        text = text[:MAX_FEEDBACK - 20] + "\n[... cut short]"
    return text + "\n"


def write_feedback(folder: str | Path, student: str, text: str) -> Path:
    return write_data(Path(folder) / f"{student}.txt", text)
