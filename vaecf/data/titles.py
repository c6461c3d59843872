"""Item titles and genres from MovieLens' item files (``u.item``, ``movies.dat``, ``movies.csv``).

GroupLens ships ``u.item`` and ``movies.dat`` in Latin-1 and ``movies.csv`` in UTF-8; a copy
re-saved in the other encoding is read right too (:mod:`vaecf.data.text`).
"""
from __future__ import annotations

import csv
from pathlib import Path

from .text import read_text, text_encoding

__all__ = ["read_item_metadata", "ML100K_GENRES"]

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def read_item_metadata(path: str | Path) -> tuple[dict, dict]:
    """Titles and genres by raw item id; two empty dicts when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return {}, {}
    titles, genres = {}, {}
    if path.name == "u.item":
        for line in read_text(path).splitlines():
            fields = line.split("|")
            if len(fields) < 5 + len(ML100K_GENRES):
                continue
            item = int(fields[0])
            titles[item] = fields[1]
            flags = fields[5:5 + len(ML100K_GENRES)]
            genres[item] = [g for g, flag in zip(ML100K_GENRES, flags) if flag == "1"]
    elif path.suffix == ".dat":
        for line in read_text(path).splitlines():
            fields = line.split("::")
            if len(fields) == 3:
                titles[int(fields[0])] = fields[1]
                genres[int(fields[0])] = fields[2].split("|")
    else:
        with open(path, encoding=text_encoding(path), errors="replace", newline="") as handle:
            for row in csv.DictReader(handle):
                titles[int(row["movieId"])] = row["title"]
                genres[int(row["movieId"])] = row["genres"].split("|")
    return titles, genres
