"""Where each MovieLens archive is downloaded from, in the order the sources are tried.

This table is the one place to change when a host moves. Every source must serve the
same archive byte for byte: whichever host it comes from, the archive is accepted only if
its SHA-256 is the one pinned for the release in :data:`vaecf.data.movielens.MOVIELENS`,
so a mirror is exactly as safe as GroupLens. A release without a pinned SHA-256 is
fetched from GroupLens only (and never from a mirror of the user's either). TLS
certificates are always verified.

How each address was established (neither mirror was reachable when they were set, so
each one rests on its keepers' own words and code):

- **GroupLens**, ``https://files.grouplens.org/datasets/movielens/<release>.zip``: the
  publisher. GroupLens publishes an MD5 for each archive; the SHA-256s pinned in
  ``MOVIELENS`` are those TensorFlow Datasets records for these GroupLens URLs
  (``tensorflow_datasets/url_checksums/movielens.txt``, with the archive sizes
  4,924,029, 5,917,549 and 198,702,078 bytes), and the same three values are pinned
  independently by many projects that say the archive they hashed also had GroupLens'
  published MD5.
- **Hugging Face** dataset ``Recommenders/MovieLens`` (kept by the Microsoft
  Recommenders maintainers): their merged pull request "Add Hugging Face backup URL for
  MovieLens downloads" (recommenders-team/recommenders#2369, opened 2026-08-31) makes it
  the fallback of their own loader and says it holds the four GroupLens zips, verified
  identical by SHA-256 (ml-100k, ml-1m, ml-10m, ml-20m). The file address is the Hub's
  download form, ``https://huggingface.co/datasets/<owner>/<name>/resolve/main/<file>``,
  with the archives under their GroupLens names at the top of the repository, as the
  same organisation serves its MIND and Criteo copies (e.g.
  ``.../Recommenders/MIND/resolve/main/MINDdemo_train.zip`` in their tests); the exact
  file path inside the MovieLens repository is that convention, not read from a listing.
- **Cornac** (Preferred.AI), ``https://static.preferred.ai/cornac/datasets/movielens/``:
  the maintainers' pull request "data: migrate movielens dataset to new domain"
  (PreferredAI/cornac#691, 2026-05) says they copied the GroupLens data there, and its
  diff points the 1M loader at ``.../movielens/ml-1m.zip``; ``ml-20m.zip`` is taken to
  follow the same layout (the diff changed every entry; only the 100K and 1M lines could
  be read). The pull request was closed without being merged, Cornac does not say its
  zips are byte-identical, and for ML-100K it keeps only the extracted
  ``ml-100k/u.data``, not the archive, so Cornac is not a source for ml-100k and comes
  last for the others: the SHA-256 check decides, and a repackaged file is refused.

A user's own mirror (``VAECF_MOVIELENS_MIRROR`` or ``--mirror``) is a base URL holding
the archives under the same names (``<base>/ml-1m.zip``); it is tried first.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit

__all__ = ["GROUPLENS", "HUGGING_FACE", "CORNAC", "ARCHIVE_SOURCES", "MIRROR_VARIABLE",
           "archive_urls", "user_mirror"]

GROUPLENS = "https://files.grouplens.org/datasets/movielens"
HUGGING_FACE = "https://huggingface.co/datasets/Recommenders/MovieLens/resolve/main"
CORNAC = "https://static.preferred.ai/cornac/datasets/movielens"

# Base URLs per release, GroupLens first; the archive is <base>/<release>.zip.
ARCHIVE_SOURCES = {
    "ml-100k": (GROUPLENS, HUGGING_FACE),
    "ml-1m": (GROUPLENS, HUGGING_FACE, CORNAC),
    "ml-20m": (GROUPLENS, HUGGING_FACE, CORNAC),
    "ml-latest-small": (GROUPLENS,),  # re-released from time to time: nothing to pin
}

MIRROR_VARIABLE = "VAECF_MOVIELENS_MIRROR"


def user_mirror(mirror: str | None = None) -> str | None:
    """The user's mirror: ``mirror`` if given, else ``$VAECF_MOVIELENS_MIRROR`` (unless
    empty), else ``None``, without a trailing slash.

    Raises ``ValueError`` unless it is an http(s) URL with a host.
    """
    where = "--mirror, mirror="
    if mirror is None:
        where, mirror = MIRROR_VARIABLE, os.environ.get(MIRROR_VARIABLE) or None
    if mirror is None:
        return None
    parts = urlsplit(mirror.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValueError(
            f"the MovieLens mirror ({where}) must be an https:// (or http://) URL of the "
            f"folder that holds the archives, such as https://example.org/movielens, "
            f"got {mirror!r}.")
    return mirror.strip().rstrip("/")


def archive_urls(name: str, pinned: bool, mirror: str | None = None) -> list[str]:
    """Every URL to try for release ``name``'s archive, in order: the user's mirror (when
    the release has a pinned hash to check it against), then :data:`ARCHIVE_SOURCES`."""
    bases = list(ARCHIVE_SOURCES[name] if pinned else ARCHIVE_SOURCES[name][:1])
    mirror = user_mirror(mirror)
    if mirror is not None and pinned:
        bases.insert(0, mirror)
    return [f"{base}/{name}.zip" for base in dict.fromkeys(bases)]
