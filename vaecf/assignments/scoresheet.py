"""The grading CSV, rewritten atomically after every student so a stopped run loses nothing
and a rerun skips who is done."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from ..outputs import write_data

__all__ = ["ScoreSheet"]


class ScoreSheet:
    """Rows keyed by ``student``; an existing file with the same columns is resumed."""

    def __init__(self, path: str | Path, columns: list[str]):
        self.path = Path(path)
        self.columns = list(columns)
        self.rows: dict[str, dict] = {}
        if self.path.exists():
            with self.path.open(newline="") as handle:
                reader = csv.DictReader(handle)
                if reader.fieldnames != self.columns:
                    raise ValueError(
                        f"{self.path} exists with the columns {reader.fieldnames}, not this "
                        f"assignment's {self.columns}: choose another --out, or delete it to "
                        "grade from scratch.")
                self.rows = {row["student"]: row for row in reader}

    @property
    def done(self) -> set[str]:
        return set(self.rows)

    def add(self, row: dict) -> None:
        """Record one student's row and rewrite the file (old or new, never half)."""
        self.rows[row["student"]] = {column: row.get(column, "") for column in self.columns}
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n")
        writer.writeheader()
        for student in sorted(self.rows):
            writer.writerow(self.rows[student])
        write_data(self.path, buffer.getvalue())
