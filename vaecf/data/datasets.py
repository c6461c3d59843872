"""One entry point for every dataset the project knows, with the protocol's defaults."""
from __future__ import annotations

from .clicklog import read_click_log
from .movielens import MOVIELENS, load_movielens
from .ratings import RatingTable
from .synthetic import SYNTHETIC_SIZES, SyntheticTruth, make_synthetic

__all__ = ["DATASETS", "load_dataset", "default_heldout"]

DATASETS = ("synthetic",) + tuple(MOVIELENS) + ("custom",)


def default_heldout(name: str) -> int | float:
    """Validation (and test) users: the paper's 10,000 on ML-20M, 600 on ML-1M, else 10%
    (synthetic data and a click log of your own)."""
    _check_name(name)
    return 0.1 if name in ("synthetic", "custom") else MOVIELENS[name].heldout_users


def _check_name(name):
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def load_dataset(name: str, data_dir=None, path=None, size: str = "small", seed: int = 0,
                 download: bool = True, click_threshold: float | None = None,
                 mirror: str | None = None) -> tuple[RatingTable, SyntheticTruth | None]:
    """A rating table and, for synthetic data, its ground truth (else ``None``).

    Args:
        name: ``"synthetic"``, a MovieLens name (``"ml-100k"``, ``"ml-1m"``, ...) or
            ``"custom"`` for a click log of your own (:func:`vaecf.data.read_click_log`).
        path: a ratings file or folder (MovieLens), or the click log (custom; required).
        size: for synthetic data, one of ``SYNTHETIC_SIZES`` (``"tiny"`` … ``"ml-20m"``).
        seed: for synthetic data, the generator's seed.
        click_threshold: custom data only: ratings strictly above it are clicks
            (``None``: every line is a click).
        mirror: MovieLens only: a base URL of your own holding the archive, tried before
            the built-in sources (default ``$VAECF_MOVIELENS_MIRROR``).
    """
    _check_name(name)
    if click_threshold is not None and name != "custom":
        raise ValueError(f"a click threshold (--click-threshold) applies to a click log of your "
                         f"own (--dataset custom); {name} uses the paper's rule, ratings above "
                         "3.5.")
    if name == "synthetic":
        if path is not None:
            raise ValueError(
                f"a ratings file (--path {path}) was given, but the dataset (--dataset) is "
                "synthetic, which reads no file. Name the data the file holds: --dataset "
                "ml-100k, ml-1m, ml-20m or ml-latest-small for MovieLens, --dataset custom for "
                "a click log of your own.")
        if size not in SYNTHETIC_SIZES:
            raise ValueError(f"Unknown synthetic size {size!r}; choose one of "
                             f"{', '.join(SYNTHETIC_SIZES)}.")
        return make_synthetic(seed=seed, **SYNTHETIC_SIZES[size])
    if name == "custom":
        if path is None:
            raise ValueError("the custom dataset reads a click log of your own: give its file "
                             "(--path).")
        return read_click_log(path, click_threshold=click_threshold), None
    return load_movielens(name, data_dir=data_dir, path=path, download=download,
                          mirror=mirror), None
