"""Is a local MovieLens file the release it is said to be?

Three checks, strongest first: the file's sha256 against the release's (where one is
pinned); the ratings' content (users, items and ratings in file order, whatever the layout,
encoding or timestamps) against the release's; and, where neither hash is pinned (ML-20M),
the numbers of ratings, users and items. A file that is another known release is refused
(it would be labelled with the wrong name); one that matches no release is read, with a
:class:`ModifiedDataWarning`, and labelled as modified data.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np

from .ratings import RatingTable

__all__ = ["ModifiedDataWarning", "DatasetMismatch", "content_sha256", "check_release"]


class ModifiedDataWarning(UserWarning):
    """A local file said to be a MovieLens release is not that release."""


class DatasetMismatch(ValueError):
    """A local file is another MovieLens release than the one it was given as."""


def content_sha256(table: RatingTable) -> str:
    """A hash of the ratings themselves: (user, item, rating) in file order, as integers."""
    digest = hashlib.sha256()
    for column in (table.user_ids, table.item_ids, np.round(table.ratings.astype(np.float64) * 2)):
        digest.update(np.ascontiguousarray(column, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _identify(spec, file_sha: str, content: str, counts: tuple) -> str | None:
    """How ``spec`` matches: ``"release"``, ``"release ratings"`` or ``None``."""
    if spec.ratings_sha256 and file_sha == spec.ratings_sha256:
        return "release"
    if spec.content_sha256 and content == spec.content_sha256:
        return "release ratings"
    if not spec.content_sha256 and spec.release_counts and counts == spec.release_counts:
        return "release ratings"
    return None


def check_release(spec, releases: dict, path: Path, table: RatingTable, file_sha: str) -> dict:
    """The file's provenance (``status``: release, release ratings, modified or unverified).

    Raises :class:`DatasetMismatch` when the file is another of ``releases``.
    """
    content = content_sha256(table)
    counts = (len(table), table.n_users, table.n_items)
    provenance = {"path": str(path), "sha256": file_sha, "content_sha256": content,
                  "ratings": counts[0], "users": counts[1], "items": counts[2]}
    status = _identify(spec, file_sha, content, counts)
    if status is None:
        other = next((s for s in releases.values()
                      if s.name != spec.name and _identify(s, file_sha, content, counts)), None)
        if other is not None:
            raise DatasetMismatch(
                f"{path} holds the {other.name} release ({counts[0]:,} ratings, {counts[1]:,} "
                f"users, {counts[2]:,} items), not {spec.name}: pass --dataset {other.name}.")
        pinned = spec.ratings_sha256 or spec.content_sha256 or spec.release_counts
        status = "modified" if pinned else "unverified"
    if status == "modified":
        warnings.warn(
            f"{path} is not the {spec.name} release (its content differs from the published "
            f"files: {counts[0]:,} ratings, {counts[1]:,} users, {counts[2]:,} items). The run "
            f"is labelled as modified data ('{spec.name} (modified)'), and results.json "
            "records it.", ModifiedDataWarning, stacklevel=3)
    return {"status": status, **provenance}
