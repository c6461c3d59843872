"""Reading very large rating files a block of bytes at a time (Netflix, the Million Song
Dataset): never a Python object per rating, and a wrong line named by file and number.

Parsers hand each block of whole lines to a C parser (pandas) and check the result with
whole-array tests; only when a check fails is the block read again line by line, to name
the first line that is wrong (:func:`first_bad_line`).
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from .ratings import RatingFileError
from .releases import ModifiedDataWarning

__all__ = ["CHUNK_BYTES", "line_blocks", "first_bad_line", "concatenate_columns",
           "release_provenance", "layout_error", "distinct_count"]

CHUNK_BYTES = 1 << 25
"""Bytes read at a time (32 MiB, about 1.5 M Netflix lines)."""


def line_blocks(path: Path, chunk_bytes: int | None = None, progress=None
                ) -> Iterator[tuple[bytes, int]]:
    """The file as blocks of whole lines, each with the number of its first line (from 1).

    ``chunk_bytes``: bytes read at a time (default :data:`CHUNK_BYTES`).
    Windows line ends are turned into ``\\n``; the last line gets a ``\\n`` if it has none.
    ``progress`` (a tqdm bar counting bytes) is advanced as the file is read.
    """
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    line = 1
    rest = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_bytes)
            if progress is not None:
                progress.update(len(block))
            if not block:
                break
            block = rest + block
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # no line end yet: read on
                rest = block
                continue
            block, rest = block[:cut], block[cut:]
            if b"\r" in block:
                block = block.replace(b"\r\n", b"\n")
            yield block, line
            line += block.count(b"\n")
    if rest:
        yield rest.replace(b"\r\n", b"\n").rstrip(b"\r") + b"\n", line


def first_bad_line(block: bytes, first_line: int, patterns: dict[str, re.Pattern]
                   ) -> tuple[int, str] | None:
    """The number and text of the first line of ``block`` that fits none of ``patterns``
    (``None`` if all fit). Slow (a Python loop), so only called once a check has failed."""
    compiled = [re.compile(p) if isinstance(p, str) else p for p in patterns.values()]
    for number, text in enumerate(block.decode("latin-1").split("\n")[:-1], start=first_line):
        if not any(p.fullmatch(text) for p in compiled):
            return number, text
    return None


def concatenate_columns(chunks: list[list[np.ndarray]], dtypes) -> list[np.ndarray]:
    """Join per-chunk columns one column at a time, freeing each column's chunks as it
    goes, so the peak is the data once plus one column (not the data twice)."""
    columns = []
    for position, dtype in enumerate(dtypes):
        parts = [chunk[position] for chunk in chunks]
        for chunk in chunks:
            chunk[position] = None
        columns.append(np.concatenate(parts).astype(dtype, copy=False) if parts
                       else np.zeros(0, dtype=dtype))
        del parts
    return columns


def release_provenance(counts: tuple[int, int, int], path: Path, release: str,
                       release_counts: tuple[int, int, int]) -> dict:
    """Where the ratings came from and whether they are the whole release.

    There is no published hash of these files to check, so the numbers of ratings, users
    and items are compared with the release's: ``"release ratings"`` when all three
    agree, else ``"modified"`` with a :class:`ModifiedDataWarning` (the paper's numbers
    are then not set beside the results). ``counts``: the table's (ratings, users, items).
    """
    counts = tuple(int(c) for c in counts)
    status = "release ratings" if counts == tuple(release_counts) else "modified"
    if status == "modified":
        warnings.warn(
            f"{path} is not the whole {release} release: {counts[0]:,} ratings, {counts[1]:,} "
            f"users and {counts[2]:,} items where the release has {release_counts[0]:,}, "
            f"{release_counts[1]:,} and {release_counts[2]:,}. The run is labelled as "
            f"modified data, and results.json records it.", ModifiedDataWarning, stacklevel=3)
    return {"status": status, "path": str(path), "ratings": counts[0], "users": counts[1],
            "items": counts[2], "release_counts": list(release_counts)}


def layout_error(path: Path, line: int, text: str, layout: str) -> RatingFileError:
    """The error for a line that does not fit the file's layout."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    return RatingFileError(f"{path}, line {line}: {shown!r} does not fit the layout. {layout}")


def distinct_count(ids: np.ndarray) -> int:
    """How many distinct non-negative ids (a bincount: no sorted copy of the array)."""
    return int(np.count_nonzero(np.bincount(ids))) if ids.size else 0
