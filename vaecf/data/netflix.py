"""The Netflix Prize ratings, from files you already have (they cannot be downloaded).

Netflix released the prize data in 2006 (``nf_prize_dataset.tar.gz``) and withdrew it in
2009; it is no longer distributed by Netflix, and its licence does not allow this
project to ship it. Copies circulate in two layouts, both read here:

* the original ``training_set/`` folder (from ``training_set.tar`` inside the archive):
  17,770 files ``mv_0000001.txt`` … ``mv_0017770.txt``, each a ``MovieID:`` line (``1:``)
  then one ``CustomerID,Rating,Date`` line per rating (``1488844,3,2005-09-06``);
* the common re-distribution (e.g. Kaggle's "Netflix Prize data"): the same blocks
  concatenated into ``combined_data_1.txt`` … ``combined_data_4.txt``.

Either way the release is 100,480,507 ratings (1 to 5 stars) by 480,189 customers of
17,770 movies. Blocks of lines are parsed by pandas' C parser (no Python object per
rating); the table keeps 12 bytes per rating (int32 customer, int32 movie, float32
stars) and the peak while reading is about 16 bytes per rating. A line that does not fit
the layout is named by file and line number.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .ratings import RatingFileError, RatingTable
from .streaming import (concatenate_columns, distinct_count, first_bad_line, layout_error,
                        line_blocks, release_provenance)
from .text import text_encoding

__all__ = ["NETFLIX_RELEASE_COUNTS", "NETFLIX_SOURCE", "netflix_files", "read_netflix"]

NETFLIX_RELEASE_COUNTS = (100_480_507, 480_189, 17_770)
"""Ratings, customers and movies of the Netflix Prize training set."""
NETFLIX_SOURCE = (
    "The Netflix Prize data is no longer distributed by Netflix: use a copy you (or your "
    "institution) obtained, either the training_set/ folder of nf_prize_dataset.tar.gz "
    "(mv_0000001.txt ... mv_0017770.txt) or the four combined_data_N.txt files of its "
    "common re-distribution (e.g. Kaggle's 'Netflix Prize data')")
COMBINED = tuple(f"combined_data_{n}.txt" for n in range(1, 5))
LAYOUT = ("A Netflix Prize file holds, for each movie, a 'MovieID:' line (such as '1:') and "
          "then one 'CustomerID,Rating,Date' line per rating (such as '1488844,3,2005-09-06'), "
          "ratings 1 to 5.")
_LINES = {"header": re.compile(r"[1-9]\d{0,9}:"),
          "rating": re.compile(r"[1-9]\d{0,9},[1-5],\d{4}-\d{2}-\d{2}")}
_MOVIE_FILE = re.compile(r"mv_(\d+)\.txt")
_BATCH_BYTES = 1 << 25


def netflix_files(path: str | Path) -> list[Path]:
    """The rating files at ``path`` in reading order: the four ``combined_data_N.txt``, or
    the ``mv_*.txt`` files of a ``training_set`` folder (``path`` may be that folder, the
    folder above it, or one such file)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"No Netflix Prize files at {path}: nothing is there. "
                                f"{NETFLIX_SOURCE}, and give their folder (--path or --data-dir).")
    for folder in (path, path / "netflix"):
        combined = [folder / name for name in COMBINED]
        present = [f for f in combined if f.is_file()]
        if present:
            missing = [f.name for f in combined if not f.is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{folder} holds {', '.join(f.name for f in present)} but not "
                    f"{', '.join(missing)}: the release is the four files together. Put the "
                    "missing ones beside them.")
            return combined
        for training in (folder, folder / "training_set", folder / "download" / "training_set"):
            movies = sorted(training.glob("mv_*.txt")) if training.is_dir() else []
            if movies:
                return movies
        for archive in (folder / "training_set.tar", folder / "download" / "training_set.tar",
                        folder / "nf_prize_dataset.tar.gz"):
            if archive.is_file():
                raise FileNotFoundError(
                    f"{archive} is an archive: unpack it first (tar xf {archive} -C "
                    f"{archive.parent}) and give the folder that holds training_set/.")
    raise FileNotFoundError(
        f"No Netflix Prize files in {path} (looked for combined_data_1.txt ... "
        f"combined_data_4.txt and training_set/mv_*.txt, there and in {path / 'netflix'}). "
        f"{NETFLIX_SOURCE}.")


def _bad_block(block: bytes, first_line: int, path: Path, why: str) -> RatingFileError:
    found = first_bad_line(block, first_line, _LINES)
    if found is None:
        return RatingFileError(f"{path}, from line {first_line}: {why}. {LAYOUT}")
    return layout_error(path, found[0], found[1], LAYOUT)


def _parse_block(block: bytes, first_line: int, path: Path, movie: int | None):
    """(customers, movies, stars, row of each header, header movie ids) of a block of
    whole lines; ``movie``: the movie whose ratings the block continues (None: none)."""
    lines, headers = block.count(b"\n"), block.count(b":\n")
    marked = block.replace(b":\n", b",-1,\n")  # a header becomes 'MovieID,-1,'
    try:
        frame = pd.read_csv(io.BytesIO(marked), header=None, names=("id", "stars", "date"),
                            usecols=(0, 1), dtype={"id": np.int64, "stars": np.int8},
                            engine="c", skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError):
        raise _bad_block(block, first_line, path, "a field is missing or not a number") from None
    ids, stars = frame["id"].to_numpy(), frame["stars"].to_numpy()
    del frame, marked
    is_header = stars == -1
    if len(ids) != lines or int(is_header.sum()) != headers \
            or block.count(b",") != 2 * (lines - headers):
        raise _bad_block(block, first_line, path, "a line has too few or too many fields")
    rating = ~is_header
    if ((stars[rating] < 1) | (stars[rating] > 5)).any() or (ids < 1).any() \
            or (ids >= 2 ** 31).any():
        raise _bad_block(block, first_line, path, "a rating is not 1 to 5, or an id is not a "
                                                  "positive whole number")
    header_rows = np.flatnonzero(is_header)
    if movie is None and (header_rows.size == 0 or header_rows[0] != 0):
        raise layout_error(path, first_line, block[:block.find(b"\n")].decode("latin-1"),
                           "The file must start with a 'MovieID:' line. " + LAYOUT)
    block_of_row = np.cumsum(is_header) - 1
    header_movies = ids[header_rows]
    movie_of_row = header_movies[np.maximum(block_of_row, 0)] if header_rows.size else \
        np.zeros(len(ids), dtype=np.int64)
    if movie is not None:
        movie_of_row[block_of_row < 0] = movie
    return (ids[rating].astype(np.int32), movie_of_row[rating].astype(np.int32),
            stars[rating], header_rows, header_movies)


def _read_combined(path: Path, chunks: list, bar) -> None:
    text_encoding(path, RatingFileError)  # compressed files and archives refused by name
    movie = None
    for block, first_line in line_blocks(path, progress=bar):
        customers, movies, stars, _, header_movies = _parse_block(block, first_line, path, movie)
        if header_movies.size:
            movie = int(header_movies[-1])
        chunks.append([customers, movies, stars])


def _movie_number(path: Path) -> int:
    match = _MOVIE_FILE.fullmatch(path.name)
    if match is None:
        raise RatingFileError(f"{path}: a training_set file is named mv_NNNNNNN.txt after its "
                              "movie (mv_0000001.txt holds movie 1).")
    return int(match.group(1))


def _check_movie_file(path: Path, data: bytes, chunks: list) -> None:
    """One ``mv_NNNNNNN.txt`` file alone: its one header, on line 1, names its movie."""
    number = _movie_number(path)
    data = data.replace(b"\r\n", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    customers, movies, stars, header_rows, header_movies = _parse_block(data, 1, path, None)
    if header_movies[0] != number:
        raise RatingFileError(f"{path}, line 1: the file names movie {header_movies[0]}, but "
                              f"its name says movie {number}. {LAYOUT}")
    if header_rows.size > 1:
        line = int(header_rows[1]) + 1
        raise layout_error(path, line, f"{header_movies[1]}:", "A training_set file holds one "
                           "movie: one 'MovieID:' line, the first. " + LAYOUT)
    chunks.append([customers, movies, stars])


def _read_movie_files(paths: list[Path], chunks: list, bar) -> None:
    """Files joined into blocks of about 32 MiB and parsed together; a block that fails
    any check is parsed again file by file, to name the file and line."""
    text_encoding(paths[0], RatingFileError)
    batch, size = [], 0
    for index, path in enumerate(paths):
        data = path.read_bytes()
        bar.update(len(data))
        batch.append((path, data))
        size += len(data)
        if size >= _BATCH_BYTES or index == len(paths) - 1:
            _parse_movie_batch(batch, chunks)
            batch, size = [], 0


def _parse_movie_batch(batch: list, chunks: list) -> None:
    datas = [d.replace(b"\r\n", b"\n") for _, d in batch]
    datas = [d if d.endswith(b"\n") else d + b"\n" for d in datas]
    try:
        numbers = np.array([_movie_number(p) for p, _ in batch])
        starts = np.cumsum([0] + [d.count(b"\n") for d in datas[:-1]])
        parsed = _parse_block(b"".join(datas), 1, batch[0][0], None)
        customers, movies, stars, header_rows, header_movies = parsed
        fits = header_rows.size == len(batch) and (header_rows == starts).all() \
            and (header_movies == numbers).all()
    except RatingFileError:
        fits = False
    if fits:
        chunks.append([customers, movies, stars])
        return
    for path, data in batch:  # find the file at fault, and the line
        _check_movie_file(path, data, chunks)


def read_movie_titles(path: Path) -> dict:
    """``movie_titles.txt`` (``MovieID,YearOfRelease,Title``, Latin-1) as {movie: title};
    empty where the file is missing."""
    if not path.is_file():
        return {}
    titles = {}
    for line in path.read_bytes().decode("latin-1").splitlines():
        fields = line.split(",", 2)
        if len(fields) == 3 and fields[0].strip().isdigit():
            year = fields[1].strip()
            titles[int(fields[0])] = fields[2].strip() + (f" ({year})" if year.isdigit() else "")
    return titles


def read_netflix(path: str | Path, progress: bool = True) -> RatingTable:
    """Read the Netflix Prize ratings from ``path`` (see :func:`netflix_files` for where
    it may point); ``table.provenance`` says whether they are the whole release."""
    files = netflix_files(path)
    chunks: list = []
    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, unit="B", unit_scale=True, desc="reading Netflix",
              disable=not progress) as bar:
        if all(_MOVIE_FILE.fullmatch(f.name) for f in files):
            _read_movie_files(files, chunks, bar)
        else:
            for file in files:
                _read_combined(file, chunks, bar)
    customers, movies, stars = concatenate_columns(chunks, (np.int32, np.int32, np.int8))
    if customers.size == 0:
        raise RatingFileError(f"{path} holds no ratings. {LAYOUT}")
    ratings = stars.astype(np.float32)
    del stars
    table = RatingTable(customers, movies, ratings, name="netflix", click_threshold=3.5)
    counts = (customers.size, distinct_count(customers), distinct_count(movies))
    where = Path(path)
    table.provenance = release_provenance(counts, where, "Netflix Prize", NETFLIX_RELEASE_COUNTS)
    if table.provenance["status"] == "modified":
        table.name = "netflix (modified)"
    folder = files[0].parent
    for candidate in (folder / "movie_titles.txt", folder.parent / "movie_titles.txt",
                      folder / "movie_titles.csv"):
        table.item_titles = read_movie_titles(candidate)
        if table.item_titles:
            break
    return table
