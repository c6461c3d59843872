"""Reading explicit rating files into a :class:`RatingTable`.

The three upstream MovieLens formats are supported exactly as GroupLens ships them:

* ``u.data`` (ML-100K): ``user \\t item \\t rating \\t timestamp``, no header;
* ``ratings.dat`` (ML-1M): ``UserID::MovieID::Rating::Timestamp``, no header
  (the timestamp may be absent);
* ``ratings.csv`` (ML-20M, ml-latest-small): ``userId,movieId,rating,timestamp`` with a
  header line, which is read: columns are taken by name, so a file whose columns come in
  another order (or with extra columns) is read right, and a file without a header, or
  with a header that names no user, item or rating column, is refused.

Every problem in a file (wrong delimiter, a missing or extra field, a non-numeric value,
a rating out of range, a repeated (user, item) pair) is reported with the file name and
the line number, so it can be fixed by hand.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import map_columns
from .text import read_text, text_encoding

__all__ = ["RatingTable", "RatingFileError", "RATING_FORMATS", "read_ratings", "format_for_path"]


_MAX_ID = 2.0 ** 53  # ids beyond it cannot be told apart once parsed as floats


class RatingFileError(ValueError):
    """A rating file that cannot be read as the format it claims to be."""


@dataclass(frozen=True)
class RatingFormat:
    """How one upstream file format is laid out."""

    name: str
    separator: str
    header: bool
    min_fields: int  # user, item, rating (+ optional timestamp)
    max_fields: int
    rating_range: tuple[float, float]


RATING_FORMATS = {
    "u.data": RatingFormat("u.data", "\t", False, 4, 4, (1.0, 5.0)),
    "ratings.dat": RatingFormat("ratings.dat", "::", False, 3, 4, (1.0, 5.0)),
    "ratings.csv": RatingFormat("ratings.csv", ",", True, 3, 4, (0.5, 5.0)),
}


@dataclass
class RatingTable:
    """Explicit ratings as three aligned arrays, in the order of the source file.

    ``item_titles`` and ``item_genres`` map raw item ids to a title and a list of genres
    when the dataset ships them (MovieLens does), so recommendations can be shown by name.
    ``click_threshold``: ratings strictly above it are clicks (the paper's 3.5 for star
    ratings; a click log's own). ``provenance`` says where the data came from and whether
    it is a known release (:func:`vaecf.data.load_movielens` fills it in).
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray
    name: str = "ratings"
    item_titles: dict = field(default_factory=dict)
    item_genres: dict = field(default_factory=dict)
    click_threshold: float = 3.5
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.user_ids)
        if len(self.item_ids) != n or len(self.ratings) != n:
            raise ValueError(
                f"user_ids, item_ids and ratings must have the same length; got "
                f"{len(self.user_ids)}, {len(self.item_ids)} and {len(self.ratings)}."
            )

    def __len__(self) -> int:
        return len(self.user_ids)

    @property
    def n_users(self) -> int:
        return int(np.unique(self.user_ids).size)

    @property
    def n_items(self) -> int:
        return int(np.unique(self.item_ids).size)

    def item_name(self, raw_id) -> str:
        """The item's title when the dataset ships one, else ``"item <raw id>"``."""
        return self.item_titles.get(raw_id, f"item {raw_id}")

    def rating_counts(self) -> dict:
        """How many ratings of each value (e.g. 1..5 stars)."""
        values, counts = np.unique(self.ratings, return_counts=True)
        return {float(v): int(c) for v, c in zip(values, counts)}


def format_for_path(path: str | os.PathLike) -> RatingFormat:
    """The upstream format a file name announces (``u.data``, ``*.dat`` or ``*.csv``)."""
    name = Path(path).name
    if name == "u.data":
        return RATING_FORMATS["u.data"]
    if name.endswith(".dat"):
        return RATING_FORMATS["ratings.dat"]
    if name.endswith(".csv"):
        return RATING_FORMATS["ratings.csv"]
    raise RatingFileError(
        f"Cannot tell the format of {path!s}: expected a MovieLens file named 'u.data' "
        "(ML-100K), '*.dat' such as 'ratings.dat' (ML-1M) or '*.csv' such as 'ratings.csv' "
        "(ML-20M, ml-latest-small). Rename the file, or name its format "
        "(read_ratings(path, fmt='ratings.csv')); for a click log of your own, use the custom "
        "dataset (--dataset custom)."
    )


def read_ratings(path: str | os.PathLike, fmt: str | RatingFormat | None = None,
                 name: str | None = None) -> RatingTable:
    """Read one MovieLens rating file, checking every line.

    A ``ratings.csv`` file's header is read and its columns are taken by name
    (``userId``, ``movieId``, ``rating``, ``timestamp`` or an alias such as ``user_id``,
    ``item`` or ``score``; other columns are ignored). Text may be UTF-8 or Latin-1;
    compressed files and UTF-16 text are refused by name (:mod:`vaecf.data.text`).

    Args:
        path: the rating file.
        fmt: one of ``RATING_FORMATS`` (``"u.data"``, ``"ratings.dat"``,
            ``"ratings.csv"``); guessed from the file name when omitted.
        name: a label for the table (defaults to the file name).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Rating file not found: {path}")
    if isinstance(fmt, str):
        if fmt not in RATING_FORMATS:
            raise ValueError(f"Unknown rating format {fmt!r}; choose one of {sorted(RATING_FORMATS)}.")
        fmt = RATING_FORMATS[fmt]
    fmt = fmt or format_for_path(path)
    if path.stat().st_size == 0:
        raise RatingFileError(f"{path} is empty: a {fmt.name} file holds one rating per line.")

    encoding = text_encoding(path, RatingFileError)
    frame = _parse_with_header(path, fmt, encoding) if fmt.header else _parse_table(path, fmt, encoding)
    first_line = 2 if fmt.header else 1
    layout = (f"user{_shown(fmt.separator)}item{_shown(fmt.separator)}rating"
              f"[{_shown(fmt.separator)}timestamp]")
    for column in ("user", "item", "rating"):
        frame[column] = numeric_column(frame, column, path, first_line,
                                       f"Each line of a {fmt.name} file must be {layout}.")
    users = whole_ids(frame["user"].to_numpy(), "user", path, first_line)
    items = whole_ids(frame["item"].to_numpy(), "item", path, first_line)
    ratings = frame["rating"].to_numpy(dtype=np.float32)
    low, high = fmt.rating_range
    bad = np.flatnonzero((ratings < low) | (ratings > high))
    if bad.size:
        row = int(bad[0])
        raise RatingFileError(
            f"{path}, line {row + first_line}: rating {ratings[row]:g} is outside "
            f"{low:g}..{high:g}, the range of a {fmt.name} file."
        )
    check_no_duplicates(path, users, items, first_line)
    return RatingTable(users, items, ratings, name=name or path.name)


def numeric_column(frame: pd.DataFrame, column: str, path, first_line: int,
                   layout: str) -> pd.Series:
    """A column as numbers; the first field that is not one is reported by line."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if bad.size:
        row = int(bad[0])
        raise RatingFileError(
            f"{path}, line {row + first_line}: the {column} field is missing or not a "
            f"number (got {frame[column].iloc[row]!r}). {layout}")
    return values


def whole_ids(ids: np.ndarray, label: str, path, first_line: int) -> np.ndarray:
    """Ids as int64, refusing negative, fractional, infinite or huge ones by line."""
    as_float = ids.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(as_float) | (as_float != np.round(as_float))
                         | (as_float < 0) | (as_float >= _MAX_ID))
    if bad.size:
        row = int(bad[0])
        raise RatingFileError(
            f"{path}, line {row + first_line}: {label} id {ids[row]!s} is not a "
            "non-negative whole number below 2**53."
        )
    return ids.astype(np.int64)


def _shown(separator: str) -> str:
    return {"\t": "<TAB>"}.get(separator, separator)


def first_line_fields(path: Path, separator: str, encoding: str) -> list[str]:
    """The fields of a file's first line (its header, if it has one)."""
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        return handle.readline().rstrip("\r\n").split(separator)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def header_columns(path: Path, separator: str, encoding: str, required, what: str) -> tuple[list[str], dict]:
    """The header's fields and the position of each known column; a file whose first
    line is a record (all numbers) has no header and is refused, as is a header without
    the ``required`` columns."""
    fields = first_line_fields(path, separator, encoding)
    other = next((s for s in ("::", ";", "\t", "|", ",") if s != separator and len(fields) == 1
                  and s in fields[0]), None)
    if other is not None:
        raise RatingFileError(
            f"{path}: the first line {fields[0]!r} is separated by {_shown(other)!r}, but a "
            f"{what} is separated by {_shown(separator)!r}. Save it with {_shown(separator)!r} "
            "between fields.")
    if all(_is_number(field) for field in fields):
        raise RatingFileError(
            f"{path} has no header line: its first line {separator.join(fields)!r} is a "
            f"record. A {what} starts with a header naming its columns, such as "
            f"{separator.join(['userId', 'movieId', 'rating', 'timestamp'])}; add one that "
            "names your columns in their order.")
    return fields, map_columns(fields, str(path), required=required, error=RatingFileError)


def read_fields(path: Path, separator: str, n_fields: int, encoding: str, what: str,
                skip_header: bool) -> pd.DataFrame:
    """Every record as strings, columns numbered; a line with too many fields is refused."""
    def read(text_encoding):
        return pd.read_csv(path, sep=separator, header=None, names=list(range(n_fields)),
                           skiprows=1 if skip_header else 0, engine="c", low_memory=False,
                           keep_default_na=False, na_values=[""], dtype=str,
                           encoding=text_encoding)

    try:
        try:
            return read(encoding)
        except UnicodeDecodeError:  # UTF-8 at the start, another encoding further on
            return read("latin-1")
    except pd.errors.ParserError as error:
        raise RatingFileError(
            f"{path} is not a well-formed {what} ({str(error).strip()}). Each line must hold "
            f"the {n_fields} fields of the header, separated by {_shown(separator)!r}."
        ) from None


def _parse_with_header(path: Path, fmt: RatingFormat, encoding: str) -> pd.DataFrame:
    fields, columns = header_columns(path, fmt.separator, encoding, ("user", "item", "rating"),
                                     f"{fmt.name} file")
    frame = read_fields(path, fmt.separator, len(fields), encoding, f"{fmt.name} file", True)
    if frame.empty:
        raise RatingFileError(f"{path} holds no ratings.")
    return frame[list(columns.values())].set_axis(list(columns), axis=1)


def _parse_table(path: Path, fmt: RatingFormat, encoding: str) -> pd.DataFrame:
    names = ["user", "item", "rating", "timestamp"][: fmt.max_fields]
    if fmt.separator == "::":
        # pandas' fast parser takes one-character separators only.
        text = read_text(path, RatingFileError).replace("::", "\t")
        source, separator = io.StringIO(text), "\t"
    else:
        source, separator = path, fmt.separator
    try:
        frame = pd.read_csv(source, sep=separator, header=None, names=names, engine="c",
                            low_memory=False, keep_default_na=False, na_values=[""],
                            encoding="latin-1")
    except pd.errors.ParserError as error:
        raise RatingFileError(
            f"{path} is not a well-formed {fmt.name} file ({str(error).strip()}). "
            "Each line must hold "
            f"{fmt.min_fields}{'' if fmt.min_fields == fmt.max_fields else ' or ' + str(fmt.max_fields)} "
            f"fields separated by {_shown(fmt.separator)!r}."
        ) from None
    if frame.empty:
        raise RatingFileError(f"{path} holds no ratings.")
    if fmt.min_fields == fmt.max_fields:
        missing = frame[names[-1]].isna().to_numpy()
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise RatingFileError(
                f"{path}, line {row + 1}: expected {fmt.max_fields} fields separated by "
                f"{_shown(fmt.separator)!r}. Is this really a {fmt.name} file?"
            )
    return frame


def check_no_duplicates(path, users, items, first_line):
    """Refuse a (user, item) pair rated twice, naming both lines."""
    order = np.lexsort((items, users))
    same = (np.diff(users[order]) == 0) & (np.diff(items[order]) == 0)
    if same.any():
        position = int(np.flatnonzero(same)[0])
        rows = sorted(order[position:position + 2])
        raise RatingFileError(
            f"{path}: user {users[rows[0]]} rated item {items[rows[0]]} twice (lines "
            f"{rows[0] + first_line} and {rows[1] + first_line}). Keep one rating per "
            "(user, item) pair."
        )
