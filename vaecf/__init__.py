"""vaecf: variational autoencoders for collaborative filtering, from first principles.

A small, tested package behind the tutorial notebooks: data (MovieLens and a synthetic
ground truth, the paper's split protocol), metrics, likelihoods, models and training.
"""
__version__ = "0.4.0"
