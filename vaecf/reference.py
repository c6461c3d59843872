"""Published numbers to compare against (DESIGN §5). Test-set Recall@20, Recall@50, NDCG@100."""

PAPER_ML20M = {
    "Mult-VAE": {"recall@20": 0.395, "recall@50": 0.537, "ndcg@100": 0.426},
    "Mult-DAE": {"recall@20": 0.387, "recall@50": 0.524, "ndcg@100": 0.419},
    "WMF": {"recall@20": 0.360, "recall@50": 0.498, "ndcg@100": 0.386},
    "SLIM": {"recall@20": 0.370, "recall@50": 0.495, "ndcg@100": 0.401},
    "CDAE": {"recall@20": 0.391, "recall@50": 0.523, "ndcg@100": 0.418},
}
"""Liang et al. (2018), Table 2, ML-20M."""

PAPER_NETFLIX = {
    "Mult-VAE": {"recall@20": 0.351, "recall@50": 0.444, "ndcg@100": 0.386},
    "Mult-DAE": {"recall@20": 0.344, "recall@50": 0.438, "ndcg@100": 0.380},
}
"""Liang et al. (2018), Table 2, Netflix (the two autoencoders of this project)."""

PAPER_MSD = {
    "Mult-VAE": {"recall@20": 0.266, "recall@50": 0.364, "ndcg@100": 0.316},
    "Mult-DAE": {"recall@20": 0.266, "recall@50": 0.363, "ndcg@100": 0.313},
}
"""Liang et al. (2018), Table 2, the Million Song Dataset."""

PAPER_RESULTS = {"ml-20m": PAPER_ML20M, "netflix": PAPER_NETFLIX, "msd": PAPER_MSD}
"""The paper's test Recall@20, Recall@50 and NDCG@100 by dataset."""

PAPER_TABLE1 = {
    "ml-20m": {"users": 136_677, "items": 20_108, "clicks_millions": 10.0, "heldout": 10_000},
    "netflix": {"users": 463_435, "items": 17_769, "clicks_millions": 56.9, "heldout": 40_000},
    "msd": {"users": 571_355, "items": 41_140, "clicks_millions": 33.6, "heldout": 50_000},
}
"""Liang et al. (2018), Table 1: each dataset after preprocessing (users kept, items,
clicks in millions to one decimal, and held-out users in each of validation and test)."""

ML1M_NDCG100 = {
    "Popularity": 0.223, "EASE": 0.426, "Mult-DAE (authors' code)": 0.422,
    "Mult-VAE (authors' code, annealing reaches the cap)": 0.402,
    "Mult-VAE (authors' code, 200,000 annealing steps)": 0.391, "Cornac VAECF": 0.401,
}
"""Test NDCG@100 measured on real ML-1M with this protocol (seed 98765, 600 + 600 held-out
users); standard error ≈ 0.007."""

PUBLISHED_COUNTS = {
    "ml-20m": {"users_after_filtering": 136_677, "items_clicked": 20_720,
               "clicks_after_filtering": 9_990_682, "items": 20_108, "train_users": 116_677},
}
"""Counts after the paper's preprocessing, from the authors' published notebook."""

AFTER_THE_PAPER_ML20M = {
    "Mult-VAE": {"ndcg@100": 0.426, "source": "Liang et al. (WWW 2018), Table 2"},
    "EASE": {"ndcg@100": 0.420, "source": "Steck (WWW 2019), Table 1"},
    "RecVAE": {"ndcg@100": 0.442, "source": "Shenbin et al. (WSDM 2020), Table 2"},
    "H+Vamp (gated)": {"ndcg@100": 0.445, "source": "Kim & Suh (RecSys 2019), Table 2"},
}
"""Published test NDCG@100 on ML-20M (the paper's protocol) of Mult-VAE and what came after
it, each with its source (notebook 9)."""
