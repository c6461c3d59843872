"""Recommenders: every model offers ``score(fold_in_csr) -> scores``."""
from .autoencoders import AutoencoderRecommender, MultDAE, MultVAE
from .gaussian import kl_to_standard_normal, reparameterise
from .popularity import Popularity

__all__ = ["AutoencoderRecommender", "MultDAE", "MultVAE", "Popularity",
           "kl_to_standard_normal", "reparameterise"]
