"""One Mult-VAE epoch in Cornac's VAECF, timed; run by ``vaecf.experiments.bench`` with a Python that has Cornac.

Standalone on purpose (it imports nothing from vaecf, which that Python may lack). It reads
the training click matrix (CSR arrays in an .npz), builds Cornac's dataset from it directly,
and times ``VAECF.fit`` for one epoch with the paper's layers [I → 600 → 200 → 600 → I],
tanh, multinomial likelihood, batch 500 and Adam (lr 1e-3); a fresh model each repeat.
Prints one JSON line: ``{"version", "epoch_s", "times"}``.
"""
import argparse
import json
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("matrix")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=600)
    parser.add_argument("--latent", type=int, default=200)
    args = parser.parse_args()

    import cornac
    import scipy.sparse as sp
    import torch
    from cornac.data import Dataset
    from cornac.models import VAECF

    torch.set_num_threads(args.threads)
    saved = np.load(args.matrix)
    n_users, n_items = (int(n) for n in saved["shape"])
    matrix = sp.csr_matrix((np.ones(saved["indices"].size), saved["indices"], saved["indptr"]),
                           shape=(n_users, n_items)).tocoo()
    dataset = Dataset(n_users, n_items, {u: u for u in range(n_users)},
                      {i: i for i in range(n_items)},
                      (matrix.row.astype(np.int64), matrix.col.astype(np.int64), matrix.data),
                      seed=args.seed)
    dataset.matrix  # built once here, not inside the timed epoch

    times = []
    for repeat in range(args.repeats):
        model = VAECF(k=args.latent, autoencoder_structure=[args.hidden], act_fn="tanh",
                      likelihood="mult", n_epochs=1, batch_size=args.batch_size,
                      learning_rate=1e-3, beta=0.2, seed=args.seed + repeat)
        tic = time.perf_counter()
        model.fit(dataset)
        times.append(time.perf_counter() - tic)
    print(json.dumps({"version": cornac.__version__, "epoch_s": float(np.median(times)),
                      "times": times}))


if __name__ == "__main__":
    main()
