"""A click log of your own (``--dataset custom``): one interaction a line, with a header.

The header names the columns (``user``/``userId``/``user_id``, ``item``/``itemId``/
``item_id``/``movieId``, optionally ``rating``/``score`` and ``timestamp``; other columns
are ignored); fields are separated by commas, tabs or semicolons. Ids may be numbers or
any text (text ids are numbered in order of first appearance; item names are kept as
titles). Without a click threshold every line is a click and a pair seen twice is one
click; with one (``click_threshold``, ``--click-threshold``) only ratings strictly above
it are clicks, and a pair rated twice is refused.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .movielens import sha256_of
from .ratings import (RatingFileError, RatingTable, check_no_duplicates, first_line_fields,
                      header_columns, numeric_column, read_fields)
from .text import text_encoding

__all__ = ["read_click_log", "CLICK_LOG_SEPARATORS"]

CLICK_LOG_SEPARATORS = (",", "\t", ";")


def _separator(path: Path, encoding: str) -> str:
    line = first_line_fields(path, "\n", encoding)[0]
    counts = {separator: line.count(separator) for separator in CLICK_LOG_SEPARATORS}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise RatingFileError(
            f"{path}: the first line {line!r} has one column. A click log starts with a header "
            "naming at least a user and an item column, separated by commas (or tabs), such as "
            "'user,item'.")
    return best


def _ids(values: pd.Series) -> tuple[np.ndarray, dict]:
    """Whole-number ids as they are; any other ids numbered from 0 (names kept)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy()
    if np.isfinite(numbers).all() and (numbers == np.round(numbers)).all() \
            and (np.abs(numbers) < 2.0 ** 53).all():
        return numbers.astype(np.int64), {}
    codes, names = pd.factorize(values)
    return codes.astype(np.int64), dict(enumerate(names))


def read_click_log(path: str | os.PathLike, click_threshold: float | None = None,
                   name: str | None = None) -> RatingTable:
    """Read a click log into a table whose ``click_threshold`` says which rows are clicks.

    Args:
        path: the click log (the ratings file, ``--path``).
        click_threshold: ratings strictly above it are clicks (the file needs a rating
            column); ``None``: every line is a click.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Click log not found: {path}. Give the file of your own "
                                "clicks (--path).")
    if path.stat().st_size == 0:
        raise RatingFileError(f"{path} is empty: a click log holds a header and one click a line.")
    if click_threshold is not None and not math.isfinite(click_threshold):
        raise ValueError(f"the click threshold (--click-threshold) must be a finite number, "
                         f"got {click_threshold}.")
    encoding = text_encoding(path, RatingFileError)
    separator = _separator(path, encoding)
    fields, columns = header_columns(path, separator, encoding, ("user", "item"), "click log")
    frame = read_fields(path, separator, len(fields), encoding, "click log", True)
    if frame.empty:
        raise RatingFileError(f"{path} holds a header and no clicks.")
    layout = f"Each line of this click log holds {separator.join(fields)}."
    for role in ("user", "item"):
        missing = np.flatnonzero(frame[columns[role]].isna().to_numpy())
        if missing.size:
            raise RatingFileError(f"{path}, line {int(missing[0]) + 2}: the {role} field is "
                                  f"empty. {layout}")
    users, _ = _ids(frame[columns["user"]].str.strip())
    items, item_names = _ids(frame[columns["item"]].str.strip())
    if click_threshold is None:
        first = ~pd.DataFrame({"u": users, "i": items}).duplicated().to_numpy()
        users, items = users[first], items[first]
        ratings, threshold = np.ones(users.size, dtype=np.float32), 0.0
    else:
        if "rating" not in columns:
            raise RatingFileError(
                f"{path} has no rating column (its header: {', '.join(map(repr, fields))}), so "
                "a click threshold (--click-threshold) cannot apply: leave it out to count "
                "every line as a click, or add a rating column.")
        frame["rating"] = frame[columns["rating"]]
        ratings = numeric_column(frame, "rating", path, 2, layout).to_numpy(dtype=np.float32)
        check_no_duplicates(path, users, items, 2)
        threshold, first = float(click_threshold), np.ones(users.size, dtype=bool)
    table = RatingTable(users, items, ratings, name=name or path.name,
                        item_titles={code: str(n) for code, n in item_names.items()},
                        click_threshold=threshold)
    table.provenance = {"status": "custom", "path": str(path), "sha256": sha256_of(path),
                        "click_threshold": click_threshold,
                        "repeated_clicks_merged": int((~first).sum())}
    return table
