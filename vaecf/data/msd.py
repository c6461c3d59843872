"""The Million Song Dataset's listening data, from a file you already have.

The paper's MSD is the Echo Nest Taste Profile Subset's ``train_triplets.txt`` (one line
per user and song: ``user<TAB>song<TAB>play count``, e.g.
``b80344d063b5ccb3212f76538f3d9e43d87dca9e	SOAKIMP12A8C130995	1``; users are 40-digit
hexadecimal hashes, songs Echo Nest ids). It was published by LabROSA at Columbia
(millionsongdataset.com, "Taste Profile subset", ``train_triplets.txt.zip``); those
downloads are no longer served, so use a copy you already have. The release is
48,373,586 triplets by 1,019,318 users of 384,546 songs.

Every triplet is a click (a song listened to at all); the play count is kept as the
table's rating, with a click threshold of 0. The file is read in blocks by pandas' C
parser (its text ids are Python strings only while their block of about 500,000 lines
is parsed) and numbered by a table of the distinct ids seen so far (one string per
distinct user or song), in order of first appearance. The table keeps 12 bytes per triplet (int32 user, int32 song, float32 play
count).
"""
from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .ratings import RatingFileError, RatingTable
from .streaming import (concatenate_columns, first_bad_line, layout_error, line_blocks,
                        release_provenance)
from .text import text_encoding

__all__ = ["MSD_RELEASE_COUNTS", "MSD_SOURCE", "msd_file", "read_msd"]

MSD_RELEASE_COUNTS = (48_373_586, 1_019_318, 384_546)
"""Triplets, users and songs of the Taste Profile Subset's ``train_triplets.txt``."""
MSD_FILE = "train_triplets.txt"
MSD_SOURCE = (
    "The Million Song Dataset's listening data is the Echo Nest Taste Profile Subset's "
    "train_triplets.txt (from train_triplets.txt.zip, once at millionsongdataset.com; no "
    "longer served): use a copy you already have")
LAYOUT = ("train_triplets.txt holds one 'user<TAB>song<TAB>play count' line per user and "
          "song (such as 'b80344d063b5ccb3212f76538f3d9e43d87dca9e<TAB>SOAKIMP12A8C130995"
          "<TAB>1'), no header, play counts whole numbers of 1 or more.")
_LINES = {"triplet": re.compile(r"[^\t\s]+\t[^\t\s]+\t[1-9]\d*")}


def msd_file(path: str | Path) -> Path:
    """``train_triplets.txt``: ``path`` itself, or in the folder ``path`` or ``path/msd``."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path, path / "msd"):
        if (folder / MSD_FILE).is_file():
            return folder / MSD_FILE
        if (folder / f"{MSD_FILE}.zip").is_file():
            raise FileNotFoundError(
                f"{folder / (MSD_FILE + '.zip')} is a zip archive: unpack it first (unzip "
                f"{folder / (MSD_FILE + '.zip')} -d {folder}) and give {folder / MSD_FILE}.")
    where = "nothing is there" if not path.exists() else f"no {MSD_FILE} in it or in {path / 'msd'}"
    raise FileNotFoundError(f"No Million Song Dataset file at {path}: {where}. {MSD_SOURCE}, "
                            "and give the file or its folder (--path or --data-dir).")


class _Numbering:
    """Text ids numbered 0, 1, 2, … in order of first appearance, a block at a time."""

    def __init__(self):
        self.codes: dict[str, int] = {}

    def __call__(self, values: np.ndarray) -> np.ndarray:
        local, distinct = pd.factorize(values)
        codes = self.codes
        numbers = np.fromiter((codes.setdefault(v, len(codes)) for v in distinct),
                              dtype=np.int64, count=len(distinct))
        return numbers[local].astype(np.int32)


def _bad_block(block: bytes, first_line: int, path: Path, why: str) -> RatingFileError:
    found = first_bad_line(block, first_line, _LINES)
    if found is None:
        return RatingFileError(f"{path}, from line {first_line}: {why}. {LAYOUT}")
    return layout_error(path, found[0], found[1], LAYOUT)


def _parse_block(block: bytes, first_line: int, path: Path, users: _Numbering,
                 songs: _Numbering):
    lines = block.count(b"\n")
    try:
        frame = pd.read_csv(io.BytesIO(block), sep="\t", header=None,
                            names=("user", "song", "plays"), dtype={"plays": np.float64},
                            engine="c", quoting=3, na_filter=True, keep_default_na=False,
                            na_values=[""], skip_blank_lines=False)
    except (ValueError, pd.errors.ParserError):
        raise _bad_block(block, first_line, path, "a field is missing or a play count is not "
                                                  "a number") from None
    plays = frame["plays"].to_numpy()
    if len(frame) != lines or block.count(b"\t") != 2 * lines \
            or frame["user"].isna().any() or frame["song"].isna().any():
        raise _bad_block(block, first_line, path, "a line has too few or too many fields")
    if not (np.isfinite(plays) & (plays >= 1) & (plays == np.round(plays))).all():
        raise _bad_block(block, first_line, path, "a play count is not a whole number ≥ 1")
    return users(frame["user"].to_numpy()), songs(frame["song"].to_numpy()), \
        plays.astype(np.float32)


def read_msd(path: str | Path, progress: bool = True) -> RatingTable:
    """Read ``train_triplets.txt`` (``path``: the file or its folder) into a table of play
    counts whose every row is a click; ``table.provenance`` says whether it is the whole
    release, and ``table.item_titles`` maps each song's number to its Echo Nest id."""
    file = msd_file(path)
    text_encoding(file, RatingFileError)  # compressed files and archives refused by name
    users, songs = _Numbering(), _Numbering()
    chunks: list = []
    with tqdm(total=file.stat().st_size, unit="B", unit_scale=True, desc="reading MSD",
              disable=not progress) as bar:
        for block, first_line in line_blocks(file, progress=bar):
            chunks.append(list(_parse_block(block, first_line, file, users, songs)))
    user_ids, song_ids, plays = concatenate_columns(chunks, (np.int32, np.int32, np.float32))
    if user_ids.size == 0:
        raise RatingFileError(f"{file} holds no triplets. {LAYOUT}")
    table = RatingTable(user_ids, song_ids, plays, name="msd", click_threshold=0.0)
    counts = (user_ids.size, len(users.codes), len(songs.codes))
    table.provenance = release_provenance(counts, file, "Million Song Dataset (Taste "
                                          "Profile)", MSD_RELEASE_COUNTS)
    if table.provenance["status"] == "modified":
        table.name = "msd (modified)"
    table.item_titles = {number: song for song, number in songs.codes.items()}
    return table
