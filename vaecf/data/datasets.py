"""One entry point for every dataset the project knows, with the protocol's defaults."""
from __future__ import annotations

from .clicklog import read_click_log
from .movielens import MOVIELENS, default_data_dir, load_movielens
from .msd import read_msd
from .netflix import read_netflix
from .ratings import RatingTable
from .synthetic import SYNTHETIC_SIZES, SyntheticTruth, make_synthetic

__all__ = ["DATASETS", "PAPER_PROTOCOLS", "load_dataset", "default_heldout", "protocol_options"]

DATASETS = ("synthetic",) + tuple(MOVIELENS) + ("netflix", "msd", "custom")

PAPER_PROTOCOLS = {
    "netflix": {"n_heldout": 40_000},
    "msd": {"n_heldout": 50_000, "min_user_clicks": 20, "min_item_users": 200},
}
"""The paper's §4.1 settings for Netflix and the Million Song Dataset (every other
dataset: users with 5 or more clicks, no item filter)."""


def default_heldout(name: str) -> int | float:
    """Validation (and test) users: the paper's 10,000 on ML-20M, 40,000 on Netflix, 50,000
    on the Million Song Dataset, 600 on ML-1M, else 10% (synthetic data and a click log of
    your own)."""
    _check_name(name)
    if name in PAPER_PROTOCOLS:
        return PAPER_PROTOCOLS[name]["n_heldout"]
    return 0.1 if name in ("synthetic", "custom") else MOVIELENS[name].heldout_users


def protocol_options(name: str) -> dict:
    """The filters of the paper's protocol for a dataset, as :func:`vaecf.data.paper_split`
    arguments (``min_user_clicks``, ``min_item_users``); empty for the defaults."""
    _check_name(name)
    return {k: v for k, v in PAPER_PROTOCOLS.get(name, {}).items() if k != "n_heldout"}


def _check_name(name):
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def load_dataset(name: str, data_dir=None, path=None, size: str = "small", seed: int = 0,
                 download: bool = True, click_threshold: float | None = None,
                 mirror: str | None = None) -> tuple[RatingTable, SyntheticTruth | None]:
    """A rating table and, for synthetic data, its ground truth (else ``None``).

    Args:
        name: ``"synthetic"``, a MovieLens name (``"ml-100k"``, ``"ml-1m"``, ...),
            ``"netflix"`` or ``"msd"`` (files you already have: :mod:`vaecf.data.netflix`,
            :mod:`vaecf.data.msd`), or ``"custom"`` for a click log of your own
            (:func:`vaecf.data.read_click_log`).
        data_dir: where MovieLens files are looked for and downloaded; Netflix and MSD
            files are looked for there and in its ``netflix/`` or ``msd/`` folder.
        path: a ratings file or folder (MovieLens, Netflix, MSD), or the click log (custom;
            required).
        size: for synthetic data, one of ``SYNTHETIC_SIZES`` (``"tiny"`` … ``"ml-20m"``).
        seed: for synthetic data, the generator's seed.
        click_threshold: custom data only: ratings strictly above it are clicks
            (``None``: every line is a click).
        mirror: MovieLens only: a base URL of your own holding the archive, tried before
            the built-in sources (default ``$VAECF_MOVIELENS_MIRROR``).
    """
    _check_name(name)
    if click_threshold is not None and name != "custom":
        rule = "every song listened to is a click" if name == "msd" else "ratings above 3.5"
        raise ValueError(f"a click threshold (--click-threshold) applies to a click log of your "
                         f"own (--dataset custom); {name} uses the paper's rule, {rule}.")
    if name == "synthetic":
        if path is not None:
            raise ValueError(
                f"a ratings file (--path {path}) was given, but the dataset (--dataset) is "
                "synthetic, which reads no file. Name the data the file holds: --dataset "
                "ml-100k, ml-1m, ml-20m or ml-latest-small for MovieLens, netflix or msd for the "
                "Netflix Prize or Million Song Dataset files, --dataset custom for a click log "
                "of your own.")
        if size not in SYNTHETIC_SIZES:
            raise ValueError(f"Unknown synthetic size {size!r}; choose one of "
                             f"{', '.join(SYNTHETIC_SIZES)}.")
        return make_synthetic(seed=seed, **SYNTHETIC_SIZES[size])
    if name == "custom":
        if path is None:
            raise ValueError("the custom dataset reads a click log of your own: give its file "
                             "(--path).")
        return read_click_log(path, click_threshold=click_threshold), None
    if name in ("netflix", "msd"):
        where = path if path is not None else (data_dir if data_dir is not None
                                               else default_data_dir())
        reader = read_netflix if name == "netflix" else read_msd
        return reader(where), None
    return load_movielens(name, data_dir=data_dir, path=path, download=download,
                          mirror=mirror), None
