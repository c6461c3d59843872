"""Data: MovieLens loaders, your own click logs, the paper's split protocol and a synthetic
generator."""
from .clicklog import read_click_log
from .datasets import DATASETS, default_heldout, load_dataset
from .movielens import MOVIELENS, DatasetUnavailable, default_data_dir, load_movielens
from .releases import DatasetMismatch, ModifiedDataWarning
from .protocol import Split, SplitError, paper_split
from .ratings import RatingFileError, RatingTable, read_ratings
from .synthetic import SYNTHETIC_SIZES, SyntheticTruth, make_synthetic

__all__ = ["read_click_log", "DatasetMismatch", "ModifiedDataWarning",
           "DATASETS", "default_heldout", "load_dataset", "MOVIELENS", "DatasetUnavailable", "default_data_dir", "load_movielens", "Split",
           "SplitError", "paper_split", "RatingFileError", "RatingTable", "read_ratings",
           "SYNTHETIC_SIZES", "SyntheticTruth", "make_synthetic"]
