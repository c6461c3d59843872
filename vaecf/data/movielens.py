"""MovieLens: find the files a user already has, or download them and verify them.

``load_movielens("ml-1m")`` looks for the ratings file in ``data_dir`` (default: the
project's ``data/`` folder, or ``$VAECF_DATA``); if it is missing and ``download=True``
the release's archive is fetched from the first source that serves it (the user's mirror,
GroupLens, then the mirrors in :mod:`vaecf.data.sources`), accepted only if its SHA-256
is the one pinned here, and the ratings file is extracted. ``load_movielens("ml-1m",
path=...)`` reads a file or folder the user already has. MovieLens may not be
redistributed, so the project never ships it.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..outputs import atomic_write
from .download import AllSourcesFailed, fetch_first
from .ratings import RATING_FORMATS, RatingFileError, RatingTable, format_for_path, read_ratings
from .releases import check_release
from .sources import MIRROR_VARIABLE, archive_urls, user_mirror
from .titles import read_item_metadata

__all__ = ["MOVIELENS", "MovieLensSpec", "DatasetUnavailable", "load_movielens",
           "default_data_dir", "sha256_of"]


class DatasetUnavailable(FileNotFoundError):
    """The dataset is neither on disk nor downloadable right now."""


@dataclass(frozen=True)
class MovieLensSpec:
    name: str
    # The SHA-256 of GroupLens' <name>.zip, which every source must match (vaecf.data.sources
    # says where these come from); None where the release is re-released from time to time.
    archive_sha256: str | None
    folder: str  # top-level folder inside the archive
    ratings_file: str
    ratings_sha256: str | None  # of the extracted ratings file, where the release is frozen
    items_file: str
    # Defaults for the paper's protocol on this dataset (DESIGN §5).
    heldout_users: int | float
    # The ratings' content hash (vaecf.data.releases.content_sha256), whatever the layout.
    content_sha256: str | None = None
    release_counts: tuple | None = None  # (ratings, users, items) of the release

    @property
    def archive(self) -> str:
        """The archive's file name, the same at GroupLens and at every mirror."""
        return f"{self.name}.zip"


MOVIELENS = {
    "ml-100k": MovieLensSpec(
        "ml-100k", "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        "ml-100k", "u.data",
        "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490", "u.item", 0.1,
        "57031973187f9732e672e1496e8badbecb97478307f31790d25fada918bdf209", (100_000, 943, 1_682)),
    "ml-1m": MovieLensSpec(
        "ml-1m", "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        "ml-1m", "ratings.dat",
        "506d64ca44484487c11dc2d9a28de5c54948213e6b96285e298afe28d6ea4e0f", "movies.dat", 600,
        "23b0b12e1ace99d0fbefe9925982598f3a5de0675f6467ba438f4737c964f0ff",
        (1_000_209, 6_040, 3_706)),
    "ml-20m": MovieLensSpec(
        "ml-20m", "96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        "ml-20m", "ratings.csv", None, "movies.csv",
        10_000, None, (20_000_263, 138_493, 26_744)),
    # ml-latest-small is re-released from time to time, so no fixed hash can be kept.
    "ml-latest-small": MovieLensSpec(
        "ml-latest-small", None, "ml-latest-small", "ratings.csv", None, "movies.csv", 0.1),
}


def default_data_dir() -> Path:
    """``$VAECF_DATA`` if set, else the ``data/`` folder of a source checkout, else ``~/vaecf_data``."""
    if os.environ.get("VAECF_DATA"):
        return Path(os.environ["VAECF_DATA"])
    checkout = Path(__file__).resolve().parents[2] / "data"
    if checkout.is_dir():
        return checkout
    return Path.home() / "vaecf_data"


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _spec(name: str) -> MovieLensSpec:
    if name not in MOVIELENS:
        raise ValueError(f"Unknown MovieLens dataset {name!r}; choose one of {sorted(MOVIELENS)}.")
    return MOVIELENS[name]


def _ratings_candidates(spec: MovieLensSpec, folder: Path):
    names = [spec.ratings_file]
    if spec.name == "ml-1m":
        names.append("ratings_no_timestamp.dat")  # the same ratings without their timestamps
    for base in (folder, folder / spec.folder):
        for file_name in names:
            yield base / file_name


def _locate(spec: MovieLensSpec, path: Path) -> Path | None:
    if path.is_file():
        return path
    return next((p for p in _ratings_candidates(spec, path) if p.is_file()), None)


def _download(spec: MovieLensSpec, data_dir: Path, progress: bool,
              mirror: str | None = None) -> Path:
    """Fetch and verify the archive (unless a verified one is already there), then
    extract the files that are not already there.

    Each source is downloaded to a temporary file that is renamed only once the archive's
    SHA-256 matches; the ratings file is extracted to a temporary name and renamed only
    once its sha256 matches the release. Files already in ``data_dir`` are never
    overwritten, and a failed or corrupt download leaves nothing behind.
    """
    archive = data_dir / spec.archive
    if archive.exists() and spec.archive_sha256 and sha256_of(archive) != spec.archive_sha256:
        raise DatasetUnavailable(
            f"{archive} exists but is not GroupLens' {spec.name} release (its SHA-256 differs "
            f"from {spec.archive_sha256}). It was left untouched: move it away or delete it, "
            "then try again.")
    created = [d for d in (*reversed(data_dir.parents), data_dir, data_dir / spec.folder)
               if not d.exists()]
    had_archive = archive.exists()
    urls = [] if had_archive else _sources(spec, mirror)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if not had_archive:
            fetch_first(urls, archive, spec.archive_sha256, progress)
        return _extract(spec, archive, data_dir)
    except BaseException as error:
        if not had_archive:  # a fresh archive that could not be used is not kept
            archive.unlink(missing_ok=True)
        for folder in reversed(created):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        if isinstance(error, AllSourcesFailed):
            raise DatasetUnavailable(_all_failed(spec, data_dir, error)) from None
        raise


def _sources(spec: MovieLensSpec, mirror: str | None) -> list[str]:
    """The URLs to try; a user's mirror is not used for a release with no pinned hash."""
    if spec.archive_sha256 is None and user_mirror(mirror) is not None:
        warnings.warn(
            f"the MovieLens mirror (--mirror / {MIRROR_VARIABLE}) is not used for "
            f"{spec.name}: it has no pinned SHA-256 to check a copy against, so only "
            "GroupLens is tried.", stacklevel=4)
    return archive_urls(spec.name, pinned=spec.archive_sha256 is not None, mirror=mirror)


def _all_failed(spec: MovieLensSpec, data_dir: Path, failure: AllSourcesFailed) -> str:
    """Every URL tried and why it failed, then how to put the files in place by hand."""
    tried = "".join(f"\n  {a.url}: {a.reason}" for a in failure.attempts)
    check = f" (its SHA-256 must be {spec.archive_sha256})" if spec.archive_sha256 else ""
    return (
        f"Could not download {spec.name}: every source failed, and nothing was left "
        f"behind.{tried}\n"
        f"To go on by hand, download {spec.archive} from one of these on a machine that can "
        f"reach it{check}, then either\n"
        f"  - put the archive at {data_dir / spec.archive}: it is checked and extracted on "
        f"the next run, or\n"
        f"  - put '{spec.ratings_file}' from it in {data_dir / spec.folder}/.\n"
        "The data folder is --data-dir on the command line ($VAECF_DATA otherwise). Or "
        "point to the ratings file or its folder: --path on the command line, DATA_PATH in "
        "a notebook's parameters cell, path= in Python.\n"
        f"A mirror of your own holding {spec.archive} is tried first: --mirror URL on the "
        f"command line, or {MIRROR_VARIABLE}=URL.")


def _extract(spec: MovieLensSpec, archive: Path, data_dir: Path) -> Path:
    """Extract the ratings and item files, each through a temporary name and a rename
    (:func:`vaecf.outputs.atomic_write`), skipping files that already exist; the ratings
    file must match the release's sha256 if one is known."""
    import zipfile

    folder = data_dir / spec.folder
    if not zipfile.is_zipfile(archive):
        raise DatasetUnavailable(f"{archive} is not a zip archive, so not the {spec.name} "
                                 "release; delete it and try again.")
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        for file_name in (spec.ratings_file, spec.items_file):
            member, target = f"{spec.folder}/{file_name}", folder / file_name
            if target.exists():
                continue
            if member not in names:
                if file_name == spec.items_file:
                    continue  # titles are optional; the ratings are not
                raise DatasetUnavailable(f"{archive} has no {member}; it is not the "
                                         f"{spec.name} release.")
            pinned = spec.ratings_sha256 if file_name == spec.ratings_file else None
            atomic_write(target, lambda sink: _copy_checked(zipped, member, sink, pinned,
                                                            archive))
    return folder / spec.ratings_file


def _copy_checked(zipped, member: str, sink, sha256: str | None, archive: Path) -> None:
    """Copy one archive member into ``sink``; raise if its sha256 is not ``sha256``."""
    digest = hashlib.sha256()
    with zipped.open(member) as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            sink.write(block)
            digest.update(block)
    if sha256 is not None and digest.hexdigest() != sha256:
        raise DatasetUnavailable(f"{member} in {archive} does not match the published release "
                                 "(sha256); it was not extracted. Try the download again.")


def load_movielens(name: str, data_dir: str | os.PathLike | None = None,
                   path: str | os.PathLike | None = None, download: bool = True,
                   progress: bool = True, mirror: str | None = None) -> RatingTable:
    """Load a MovieLens rating table, with item titles and genres where they are present.

    Args:
        name: ``"ml-100k"``, ``"ml-1m"``, ``"ml-20m"`` or ``"ml-latest-small"``.
        data_dir: where downloads go and where files are looked for
            (``data_dir/<name>/<ratings file>``).
        path: a ratings file or a folder holding it, that the user already has. It is
            read as it is and never modified, and checked against the release
            (:mod:`vaecf.data.releases`): another release is refused, data that matches
            no release is read with a warning and labelled ``"<name> (modified)"``;
            ``table.provenance`` says which.
        download: fetch the archive when no local copy is found, from the sources in
            :mod:`vaecf.data.sources`, each checked against the pinned SHA-256.
        mirror: a base URL of your own holding ``<name>.zip``, tried first (default:
            ``$VAECF_MOVIELENS_MIRROR``); checked against the same SHA-256.
    """
    spec = _spec(name)
    if path is not None:
        found = _locate(spec, Path(path))
        if found is None:
            raise DatasetUnavailable(_not_found_at(spec, Path(path)))
    else:
        data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        found = _locate(spec, data_dir / spec.folder) or _locate(spec, data_dir)
        if found is None:
            if not download:
                raise DatasetUnavailable(
                    f"{name} is not on disk: put '{spec.ratings_file}' (from GroupLens' "
                    f"{spec.archive}) in {data_dir / spec.folder}/, or allow the download.")
            found = _download(spec, data_dir, progress, mirror)
    table = read_ratings(found, fmt=_format_of(spec, found), name=name)
    table.provenance = check_release(spec, MOVIELENS, found, table, sha256_of(found))
    if table.provenance["status"] == "modified":
        table.name = f"{name} (modified)"
    titles, genres = read_item_metadata(found.parent / spec.items_file)
    table.item_titles, table.item_genres = titles, genres
    return table


def _format_of(spec: MovieLensSpec, path: Path):
    """The layout the file's name announces, else the one the release uses."""
    try:
        return format_for_path(path)
    except RatingFileError:
        return RATING_FORMATS[spec.ratings_file]


def _not_found_at(spec: MovieLensSpec, path: Path) -> str:
    """Why ``path`` gave no ratings file, naming the dataset it holds if it is another."""
    if not path.exists():
        return (f"No {spec.ratings_file} for {spec.name} at {path}: nothing is there. Check "
                "the ratings file (--path): give the file or the folder that holds it.")
    for other in MOVIELENS.values():
        if other.ratings_file != spec.ratings_file and _locate(other, path) is not None:
            return (f"No {spec.ratings_file} for {spec.name} at {path}, which holds "
                    f"{other.name}'s {other.ratings_file}: pass --dataset {other.name}, or "
                    f"point --path at {spec.name}'s {spec.ratings_file}.")
    return (f"No {spec.ratings_file} for {spec.name} at {path}. Point the ratings file "
            "(--path) at the file or at the folder that holds it.")
