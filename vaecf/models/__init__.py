"""Recommenders: every model offers ``score(fold_in_csr) -> scores``."""
from .autoencoders import AE, AutoencoderRecommender, MultDAE, MultVAE
from .gaussian import kl_to_standard_normal, reparameterise
from .linear import EASE, WMF
from .popularity import Popularity
from .recvae import RecVAE

__all__ = ["AE", "AutoencoderRecommender", "EASE", "MultDAE", "MultVAE", "Popularity", "RecVAE", "WMF",
           "kl_to_standard_normal", "reparameterise"]
