"""How fast a Mult-VAE epoch is, against what the hardware allows and another library.

For each data size (an ML-20M-sized and an ML-1M-sized synthetic click matrix, both
shrunk by ``scale``; on request, ``sizes=("msd",)`` or ``--sizes msd``, also a Million
Song Dataset-sized one: 571,355 users × 41,140 items, 50,000 validation and 50,000 test
users) one fresh Python process, so that its memory high-water mark is its own, measures:

* ``gen_s``: drawing the synthetic clicks (:func:`vaecf.data.make_synthetic`) and the split;
* ``epoch_s``: one training epoch of the paper's Mult-VAE [I → 600 → 200 → 600 → I],
  batch 500, with :func:`vaecf.train.train_epoch` (median of ``repeats`` epochs); with
  ``epoch_batches`` (``--epoch-batches N``) only the first N batches of each epoch are
  run, and this time and the bounds below are scaled to the whole epoch (the record's
  ``epoch_batches`` says so; the memory high-water mark is reached in the first batches);
* ``bound_s``: the dense decoder products an epoch cannot avoid, timed with plain torch
  on the same shapes for every batch: logits = h Wᵀ (forward), ∂W = Gᵀ h and ∂h = G W
  (backward), with h the batch's 600-wide hidden layer and G the gradient of the logits;
* ``epoch_bf16_s`` and ``bound_bf16_s``: the same epoch with ``precision="bf16"`` (the
  matrix products in bfloat16 under ``torch.autocast``) and the same decoder products in
  bfloat16; ``bf16_native`` says whether the CPU has bf16 instructions (without them
  bfloat16 is emulated and slow);
* ``adam_s``: the Adam updates of the epoch alone (every weight, every batch), the other
  cost that grows with the number of items;
* ``eval_s``: NDCG@100 of every held-out user (validation and test);
* ``huge_pages``: whether PyTorch allocated with transparent huge pages
  (``THP_MEM_ALLOC_ENABLE=1``, set for the measuring processes unless already set, as
  ``python -m vaecf`` does for training);
* ``peak_gib``: the resident-memory high-water mark of training and evaluation (Linux
  ``VmHWM``, reset after the data are built); ``peak_total_gib`` includes the data build;
* ``other_epoch_s``: the same epoch in Cornac's ``VAECF`` (same layers, batch size and
  optimiser), run by a Python that has Cornac, in its own process.

Cornac lives in an environment of its own, never beside this package: the benchmark makes
one from the package index on first use and reuses it (:mod:`vaecf.experiments.comparison_env`;
``--other-python`` names another, ``--no-other`` skips the comparison).

Ratios: ``epoch_over_bound = epoch_s / bound_s``, ``other_over_ours = other_epoch_s /
epoch_s`` (both float32, like Cornac), and for bfloat16 ``bf16_epoch_over_bound =
epoch_bf16_s / bound_bf16_s``, ``bf16_speedup = epoch_s / epoch_bf16_s`` and
``other_over_ours_bf16 = other_epoch_s / epoch_bf16_s``. Nothing here is a dependency of
the package: when there is no Python with Cornac, the comparison is reported as skipped,
with the reason.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

__all__ = ["BENCH_SIZES", "scaled_size", "run_benchmark", "format_bench_table", "ratios"]

BENCH_SIZES = ("ml-20m", "ml-1m")
"""The sizes measured by default."""
KNOWN_SIZES = BENCH_SIZES + ("msd",)
"""Every size that can be asked for (the MSD-sized one takes tens of minutes on a small CPU)."""
BATCH_SIZE = 500
HIDDEN, LATENT = 600, 200
MIN_USERS, MIN_ITEMS = 300, 120
OTHER_SCRIPT = Path(__file__).with_name("_cornac_epoch.py")
OTHER_LIBRARY = "cornac VAECF"


def scaled_size(name: str, scale: float) -> dict:
    """``make_synthetic`` arguments for a named size with users and items times ``scale``.

    Users and items are floored at 300 and 120 so the split still has held-out users
    with targets and NDCG@100 has 100 items to rank; the clicks per user stay those of
    the full size (clipped by the generator to half the items).
    """
    from ..data import SYNTHETIC_SIZES

    if name not in KNOWN_SIZES:
        raise ValueError(f"Unknown benchmark size {name!r}; choose from {', '.join(KNOWN_SIZES)}.")
    if not 0 < scale <= 1:
        raise ValueError(f"scale must lie in (0, 1], got {scale}; 1 is the full size.")
    full = dict(SYNTHETIC_SIZES[name])
    full["n_users"] = max(MIN_USERS, int(round(full["n_users"] * scale)))
    full["n_items"] = max(MIN_ITEMS, int(round(full["n_items"] * scale)))
    return full


def ratios(record: dict) -> dict:
    """The ratios of a record, from its measured times (None where one is missing)."""
    other, bf16 = record.get("other_epoch_s"), record.get("epoch_bf16_s")
    answer = {"epoch_over_bound": record["epoch_s"] / record["bound_s"],
              "other_over_ours": None if other is None else other / record["epoch_s"]}
    if bf16 is not None:
        answer.update(bf16_epoch_over_bound=bf16 / record["bound_bf16_s"],
                      bf16_speedup=record["epoch_s"] / bf16,
                      other_over_ours_bf16=None if other is None else other / bf16)
    return answer


def _cpu_has_bf16() -> bool:
    """Whether the CPU advertises bfloat16 instructions (Linux ``/proc/cpuinfo``)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        function()
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def _batch_sizes(n_users: int) -> list:
    full, rest = divmod(n_users, BATCH_SIZE)
    return [BATCH_SIZE] * full + ([rest] if rest else [])


def _decoder_bound(n_users: int, n_items: int, repeats: int, dtype=None) -> float:
    """Seconds of the decoder's last-layer products, forward and backward, for one epoch
    (in ``dtype``, float32 by default)."""
    import torch

    dtype = dtype or torch.float32
    weight = torch.randn(n_items, HIDDEN, dtype=dtype)  # nn.Linear layout: out × in
    shapes = {b: (torch.randn(b, HIDDEN, dtype=dtype), torch.randn(b, n_items, dtype=dtype))
              for b in set(_batch_sizes(n_users))}

    def epoch():
        for b in _batch_sizes(n_users):
            hidden, grad_logits = shapes[b]
            torch.mm(hidden, weight.t())  # logits
            torch.mm(grad_logits.t(), hidden)  # ∂L/∂W
            torch.mm(grad_logits, weight)  # ∂L/∂h

    epoch()  # warm-up: kernels chosen, memory touched
    return _median_time(epoch, repeats)


def _adam_time(model, n_users: int, repeats: int) -> float:
    """Seconds of one epoch's Adam updates alone, on a copy of the model's weights."""
    import copy

    import torch

    from ..train import make_optimiser

    twin = copy.deepcopy(model)
    optimiser = make_optimiser(twin, lr=1e-3)
    for parameter in twin.parameters():
        parameter.grad = torch.randn_like(parameter) * 1e-3
    optimiser.step()  # the moments allocated

    def epoch():
        for _ in _batch_sizes(n_users):
            optimiser.step()

    return _median_time(epoch, repeats)


def _reset_peak_memory() -> bool:
    """Reset the process's resident-memory high-water mark (Linux); False where impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_gib(since_reset: bool) -> float:
    """The resident-memory high-water mark in GiB: since the reset, or of the whole process."""
    if since_reset:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20  # kB
    kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return kilobytes / 2**20 if sys.platform != "darwin" else kilobytes / 2**30


def find_other_python(explicit: str | None = None, make: bool = True) -> tuple[str | None, str | None]:
    """A Python that can import Cornac, and why there is none if there is none.

    In order: ``explicit`` (``--other-python``), ``$VAECF_BENCH_PYTHON``, this Python if it
    has Cornac, else the comparison environment (:mod:`vaecf.experiments.comparison_env`), made on
    first use unless ``make`` is False (``--no-other``).
    """
    if explicit:
        return explicit, None
    if os.environ.get("VAECF_BENCH_PYTHON"):
        return os.environ["VAECF_BENCH_PYTHON"], None
    if importlib.util.find_spec("cornac") is not None:
        return sys.executable, None
    if not make:
        return None, "skipped (--no-other)"
    from .comparison_env import comparison_python

    return comparison_python()


def _other_epoch(python: str | None, train, threads: int, repeats: int, seed: int,
                 why_none: str | None = None) -> dict:
    """Cornac's VAECF epoch on the same training matrix, in a separate process."""
    if python is None:
        return {"other_library": None, "other_epoch_s": None, "other_skipped": why_none}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.npz"
        np.savez(path, indptr=train.indptr, indices=train.indices, shape=np.array(train.shape))
        command = [python, str(OTHER_SCRIPT), str(path), "--threads", str(threads),
                   "--repeats", str(repeats), "--seed", str(seed), "--batch-size", str(BATCH_SIZE),
                   "--hidden", str(HIDDEN), "--latent", str(LATENT)]
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as error:
            return {"other_library": None, "other_epoch_s": None,
                    "other_skipped": f"{python} cannot be run ({error.strerror})"}
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return {"other_library": None, "other_epoch_s": None,
                "other_skipped": f"{python} could not run Cornac: {reason}"}
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return {"other_library": f"{OTHER_LIBRARY} {answer['version']}",
            "other_epoch_s": answer["epoch_s"], "other_skipped": None}


def measure_size(name: str, scale: float, threads: int, repeats: int, seed: int,
                 other_python: str | None, other_skipped: str | None = None,
                 epoch_batches: int | None = None) -> dict:
    """Every figure for one data size, measured in this process (see the module docstring)."""
    import torch

    from ..data import SYNTHETIC_SIZES, default_heldout, make_synthetic, paper_split
    from ..metrics import evaluate
    from ..models import MultVAE
    from ..train import TrainConfig, make_optimiser, train_epoch

    torch.set_num_threads(threads)
    size = scaled_size(name, scale)
    tic = time.perf_counter()
    table, _ = make_synthetic(seed=seed, **size)
    heldout = default_heldout(name) / SYNTHETIC_SIZES[name]["n_users"]
    split = paper_split(table, n_heldout=heldout, seed=seed)
    gen_s = time.perf_counter() - tic
    del table
    build_peak = _peak_gib(False)  # the reset below clears this high-water mark too
    reset = _reset_peak_memory()

    torch.manual_seed(seed)
    model = MultVAE(split.n_items, hidden_dims=(HIDDEN,), latent_dim=LATENT)
    optimiser = make_optimiser(model, lr=1e-3)
    config = TrainConfig(epochs=1, batch_size=BATCH_SIZE, seed=seed)
    rng = np.random.default_rng(seed)
    n_train = split.train.shape[0]
    n_batches = len(_batch_sizes(n_train))
    if epoch_batches is not None and not 1 <= epoch_batches:
        raise ValueError(f"epoch_batches must be at least 1, got {epoch_batches}.")
    timed = min(n_batches, epoch_batches or n_batches)
    timed_users = min(n_train, timed * BATCH_SIZE)
    to_epoch = n_batches / timed  # the timed batches' share of an epoch, inverted

    def users():
        return rng.permutation(n_train)[:timed_users]

    model.train()
    train_epoch(model, split.train, optimiser, rng.permutation(n_train)[: 3 * BATCH_SIZE], config)
    epoch_s = to_epoch * _median_time(
        lambda: train_epoch(model, split.train, optimiser, users(), config), repeats)
    bf16 = replace(config, precision="bf16")
    train_epoch(model, split.train, optimiser, rng.permutation(n_train)[: 3 * BATCH_SIZE], bf16)
    epoch_bf16_s = to_epoch * _median_time(
        lambda: train_epoch(model, split.train, optimiser, users(), bf16), repeats)

    def evaluate_all():
        for group in ("valid", "test"):
            evaluate(model.score, getattr(split, f"{group}_fold_in"),
                     getattr(split, f"{group}_target"), ks_recall=(), ks_ndcg=(100,),
                     batch_size=config.eval_batch_size)

    eval_s = _median_time(evaluate_all, repeats)
    peak = _peak_gib(reset)
    bound_s = to_epoch * _decoder_bound(timed_users, split.n_items, repeats)
    bound_bf16_s = to_epoch * _decoder_bound(timed_users, split.n_items, repeats, torch.bfloat16)
    adam_s = to_epoch * _adam_time(model, timed_users, repeats)
    record = {
        "size": name, "scale": scale, "threads": threads, "repeats": repeats,
        "users": int(split.train.shape[0] + split.valid_fold_in.shape[0]
                     + split.test_fold_in.shape[0]),
        "train_users": int(n_train), "items": int(split.n_items),
        "train_clicks": int(split.train.nnz),
        "eval_users": int(split.valid_fold_in.shape[0] + split.test_fold_in.shape[0]),
        "batches": n_batches, "epoch_batches": timed, "gen_s": gen_s, "epoch_s": epoch_s,
        "bound_s": bound_s, "epoch_bf16_s": epoch_bf16_s, "bound_bf16_s": bound_bf16_s,
        "bf16_native": _cpu_has_bf16(), "adam_s": adam_s,
        "huge_pages": os.environ.get("THP_MEM_ALLOC_ENABLE") == "1", "eval_s": eval_s,
        "peak_gib": peak,
        "peak_is_training_only": reset, "torch": torch.__version__,
    }
    record.update(_other_epoch(other_python, split.train, threads, repeats, seed, other_skipped))
    record["peak_total_gib"] = max(build_peak, _peak_gib(False))
    record.update(ratios(record))
    return record


def run_benchmark(scale: float = 1.0, sizes=BENCH_SIZES, threads: int | None = None,
                  repeats: int = 3, seed: int = 0, other_python: str | None = None,
                  other: bool = True, progress: bool = True,
                  epoch_batches: int | None = None) -> list:
    """Measure every size, each in a fresh process; one record (dict) per size.

    ``epoch_batches``: time only that many batches of each epoch, scaled to the epoch."""
    threads = threads or os.cpu_count() or 1
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}.")
    if epoch_batches is not None and epoch_batches < 1:
        raise ValueError(f"epoch_batches (--epoch-batches) must be at least 1, got "
                         f"{epoch_batches}.")
    for name in sizes:
        scaled_size(name, scale)  # bad input fails here, before any process starts
    other_python, other_skipped = find_other_python(other_python, make=other)
    records = []
    for name in sizes:
        if progress:
            print(f"measuring {name} × {scale} ...", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "vaecf.experiments.bench", name, "--scale", str(scale),
                   "--threads", str(threads), "--repeats", str(repeats), "--seed", str(seed)]
        if other_python:
            command += ["--other-python", other_python]
        else:
            command += ["--other-skipped", other_skipped]
        if epoch_batches:
            command += ["--epoch-batches", str(epoch_batches)]
        env = {"THP_MEM_ALLOC_ENABLE": "1", **os.environ, "PYTHONPATH": _package_root()}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"the {name} benchmark failed:\n{done.stderr.strip()[-2000:]}")
        records.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return records


def _package_root() -> str:
    root = str(Path(__file__).resolve().parents[2])
    rest = os.environ.get("PYTHONPATH")
    return root + (os.pathsep + rest if rest else "")


def _fmt(value, spec):
    return "—" if value is None else format(value, spec)


def format_bench_table(records: list) -> str:
    """The records as a text table, one row per size, then the comparison notes."""
    header = (f"{'size':<8}{'users×items':>16}{'clicks':>11}{'thr':>4}{'gen s':>8}{'epoch s':>9}"
              f"{'bound s':>9}{'ep/bnd':>8}{'adam s':>8}{'other s':>9}{'oth/ours':>9}"
              f"{'eval s':>8}{'peak GiB':>9}")
    lines = [header, "-" * len(header)]
    for r in records:
        lines.append(
            f"{r['size']:<8}{r['users']:>9,}×{r['items']:<6,}{r['train_clicks']:>11,}"
            f"{r['threads']:>4}{r['gen_s']:>8.1f}{r['epoch_s']:>9.2f}{r['bound_s']:>9.2f}"
            f"{r['epoch_over_bound']:>8.2f}{r['adam_s']:>8.2f}{_fmt(r['other_epoch_s'], '.2f'):>9}"
            f"{_fmt(r['other_over_ours'], '.2f'):>9}{r['eval_s']:>8.2f}{r['peak_gib']:>9.2f}")
    bf16 = f"{'bf16':<8}{'epoch s':>9}{'bound s':>9}{'ep/bnd':>8}{'fp32/bf16':>10}{'oth/ours':>9}"
    lines += ["", bf16, "-" * len(bf16)]
    for r in records:
        lines.append(f"{r['size']:<8}{r['epoch_bf16_s']:>9.2f}{r['bound_bf16_s']:>9.2f}"
                     f"{r['bf16_epoch_over_bound']:>8.2f}{r['bf16_speedup']:>10.2f}"
                     f"{_fmt(r['other_over_ours_bf16'], '.2f'):>9}"
                     + ("" if r["bf16_native"] else "   (no bf16 instructions: emulated)"))
    first = records[0] if records else {}
    if first.get("other_library"):
        lines.append(f"other library: {first['other_library']} (same layers, batch {BATCH_SIZE}, Adam).")
    elif records:
        lines.append(f"comparison with another library skipped: {first['other_skipped']}.")
    if records:
        lines.append(f"scale {first['scale']}, median of {first['repeats']} run(s); torch "
                     f"{first['torch']}. bound = decoder products forward + backward, plain torch.")
    for r in records:
        if r.get("epoch_batches", r["batches"]) < r["batches"]:
            lines.append(f"{r['size']}: epoch, bound and Adam times from {r['epoch_batches']} of "
                         f"{r['batches']} batches, scaled to the epoch.")
    return "\n".join(lines)


def _worker(argv=None) -> int:
    """Measure one size in this process and print its record as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m vaecf.experiments.bench")
    parser.add_argument("size", choices=KNOWN_SIZES)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--other-python", default=None)
    parser.add_argument("--other-skipped", default=None)
    parser.add_argument("--epoch-batches", type=int, default=None)
    args = parser.parse_args(argv)
    record = measure_size(args.size, args.scale, args.threads, args.repeats, args.seed,
                          args.other_python, args.other_skipped, args.epoch_batches)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(_worker())
