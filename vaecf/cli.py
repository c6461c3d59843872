"""Command line: ``python -m vaecf reproduce --dataset synthetic`` and friends.

``reproduce`` writes each autoencoder's checkpoint to ``OUT/checkpoints`` after every
epoch: if a long run (ML-20M) is interrupted, the same command resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

__all__ = ["main", "format_table"]

COLUMNS = ("recall@20", "recall@50", "ndcg@100")


def format_table(results: dict) -> str:
    """The results as a text table; the paper's ML-20M numbers beside ours when present,
    each autoencoder's epochs, and a warning for every model that was still improving."""
    from .comparison import unconverged_models

    paper = results.get("paper", {})
    header = f"{'model':<30}" + "".join(f"{c.upper():>12}" for c in COLUMNS)
    if paper:
        header += "   | paper: " + " / ".join(c.upper() for c in COLUMNS)
    header += f"{'best / run / budget epochs':>30}"
    lines = [header, "-" * len(header)]
    for name, entry in results["models"].items():
        line = f"{name:<30}" + "".join(f"{entry['test'][c]:>12.4f}" for c in COLUMNS)
        if name in paper:
            line += "   | " + " / ".join(f"{paper[name][c]:.3f}" for c in COLUMNS)
        if "best_epoch" in entry:
            epochs = f"{entry['best_epoch']} / {entry['epochs_run']} / {entry['budget_epochs']}"
            line += f"{epochs + ('' if entry['converged'] else ' STILL IMPROVING'):>30}"
        lines.append(line)
    counts = results["counts"]
    epochs = results["epochs"]
    lines.append(
        f"{results['dataset']}: {counts['train_users']} train / {counts['valid_users']} validation / "
        f"{counts['test_users']} test users, {counts['items']} items; test users' mean, "
        f"seed {results['seed']}, " + (f"{epochs} epochs" if isinstance(epochs, int) else
                                       "each autoencoder trained to a validation plateau")
        + (f", {results['likelihood']} likelihood." if "likelihood" in results else "."))
    for name in unconverged_models(results):
        lines.append(f"WARNING: {name} was still improving at the end of its budget; its score "
                     "understates it (pass a larger --epochs, or leave --epochs out to train to a "
                     "plateau).")
    return "\n".join(lines)


def _reproduce(args) -> int:
    from .plots import plot_results, plot_training_curves
    from .reproduce import reproduce

    out = Path(args.out)
    results_file = out / "results.json"
    if results_file.exists() and not args.overwrite:
        print(f"error: {results_file} already exists; choose another --out or pass --overwrite.",
              file=sys.stderr)
        return 2
    checkpoints = out / "checkpoints"
    if args.overwrite and checkpoints.exists():
        shutil.rmtree(checkpoints)  # --overwrite asks for a fresh run, not a resumed one
    results, histories = reproduce(
        args.dataset, data_dir=args.data_dir, path=args.path, epochs=args.epochs, seed=args.seed,
        size=args.size, n_heldout=args.heldout, device=args.device, beta_cap=args.beta_cap,
        checkpoint_dir=checkpoints,
        likelihood=args.likelihood, progress=not args.quiet, precision=args.precision)
    out.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2))
    curves = plot_training_curves(histories)
    curves.savefig(out / "training_curves.png", dpi=110)
    bars = plot_results(results)
    bars.savefig(out / "test_ndcg.png", dpi=110)
    print(format_table(results))
    print(f"\nWrote {results_file}, {out / 'training_curves.png'} and {out / 'test_ndcg.png'}.")
    return 0


def _counts(args) -> int:
    from .reference import PUBLISHED_COUNTS

    table, split = _split(args)
    ours = {**split.protocol, **split.counts()}
    published = PUBLISHED_COUNTS.get(args.dataset, {})
    print(f"{args.dataset}: {len(table):,} ratings, {table.n_users:,} users, {table.n_items:,} items")
    mismatches = 0
    for key, value in ours.items():
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        line = f"  {key:<32}{value:>12,}"
        if key in published:
            agrees = published[key] == value
            mismatches += not agrees
            line += f"   published {published[key]:>12,}  {'ok' if agrees else 'DIFFERENT'}"
        print(line)
    if published:
        print("All published counts agree." if mismatches == 0 else
              f"{mismatches} count(s) differ from the published ones.")
    if args.statistics:
        _write_statistics(args, split)
    return 1 if mismatches else 0


def _write_statistics(args, split) -> None:
    from .assignments.atomic import write_atomically
    from .data.statistics import click_statistics
    from .plots_clicks import statistics_table

    stats = click_statistics(split)
    print("\n" + statistics_table({args.dataset: stats}))
    payload = {"dataset": args.dataset, "seed": args.seed, "statistics": stats.as_dict()}
    write_atomically(args.statistics, json.dumps(payload, indent=2))
    print(f"Wrote {args.statistics}.")


def _bench(args) -> int:
    from .bench import format_bench_table, run_benchmark

    records = run_benchmark(scale=args.scale, threads=args.threads, repeats=args.repeats,
                            seed=args.seed, other_python=args.other_python)
    print(format_bench_table(records))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(records, indent=2))
        print(f"\nWrote {args.out}.")
    return 0


def _figures(args) -> int:
    from . import __version__
    from .figures import dataset_figures
    from .train import PAPER_RUN_EPOCHS

    out = Path(args.out)
    if (out / "figures.json").exists() and not args.overwrite:
        print(f"error: {out / 'figures.json'} already exists; choose another --out or pass "
              "--overwrite.", file=sys.stderr)
        return 2
    _, split = _split(args)
    numbers, figures = dataset_figures(split, args.epochs, seed=args.seed, device=args.device,
                                       progress=not args.quiet)
    out.mkdir(parents=True, exist_ok=True)
    for name, figure in figures.items():
        figure.savefig(out / f"{name}.png", dpi=90)
    epochs = args.epochs if args.epochs is not None else \
        f"annealing run {PAPER_RUN_EPOCHS}, the others to a validation plateau"
    numbers.update(dataset=args.dataset, epochs=epochs, seed=args.seed, counts=split.counts(),
                   vaecf_version=__version__)
    (out / "figures.json").write_text(json.dumps(numbers, indent=2))
    print(f"Wrote {', '.join(f'{n}.png' for n in figures)} and figures.json to {out}.")
    return 0


def _beta_cap(text: str):
    if text == "anneal":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"expected a number ≥ 0 such as 0.2, or 'anneal', got {text!r}")
    return value


def _heldout(text: str):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 0.5 and not (value >= 1 and value.is_integer()):
        raise argparse.ArgumentTypeError(
            f"expected a count of users such as 600 or a fraction below 0.5 such as 0.1, "
            f"got {text!r}")
    return int(value) if value >= 1 else value


def _add_data_arguments(parser):
    from .data import DATASETS, SYNTHETIC_SIZES

    parser.add_argument("--dataset", default="synthetic", choices=DATASETS)
    parser.add_argument("--data-dir", default=None,
                        help="where MovieLens files are looked for / downloaded")
    parser.add_argument("--path", default=None,
                        help="a MovieLens ratings file (or folder) you already have")
    parser.add_argument("--size", default="small", choices=list(SYNTHETIC_SIZES),
                        help="synthetic data size (synthetic only)")
    parser.add_argument("--seed", type=int, default=98765)
    parser.add_argument("--heldout", type=_heldout, default=None,
                        help="validation and test users each: a count, or a fraction such as 0.1")


def _add_run_arguments(parser, out: str):
    parser.add_argument("--epochs", type=int, default=None,
                        help="a fixed number of epochs per autoencoder (default: train each to a "
                             "validation plateau, within a step budget scaled to the data; "
                             "figures: the annealing run 200 epochs, the others to a plateau)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--out", default=out, help="folder for the results and figures")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier results in --out and start afresh")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _split(args):
    """The rating table and the paper's split for the data the arguments name."""
    from .data import default_heldout, load_dataset, paper_split

    table, _ = load_dataset(args.dataset, data_dir=args.data_dir, path=args.path, size=args.size,
                            seed=args.seed)
    heldout = args.heldout if args.heldout is not None else default_heldout(args.dataset)
    return table, paper_split(table, n_heldout=heldout, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vaecf", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    rep = commands.add_parser("reproduce", help="train and evaluate the paper's models")
    _add_data_arguments(rep)
    _add_run_arguments(rep, "runs/latest")
    rep.add_argument("--beta-cap", type=_beta_cap, default=0.2,
                     help="Mult-VAE's β cap (default 0.2, the paper's), or 'anneal' to choose it "
                          "the paper's way from one run annealed to β = 1")
    rep.add_argument("--likelihood", default="multinomial",
                     choices=["multinomial", "gaussian", "logistic"],
                     help="the autoencoders' likelihood (paper eqs. 2-4; default multinomial)")
    rep.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                     help="bf16: bfloat16 matrix products in training, about twice as fast on "
                          "CPUs with bf16 instructions and recent GPUs (scoring stays fp32)")
    rep.set_defaults(run=_reproduce)

    bench = commands.add_parser("bench", help="time a Mult-VAE epoch against its bound and Cornac")
    bench.add_argument("--scale", type=float, default=1.0,
                       help="shrink users and items of the ML-20M/ML-1M sizes (0 < scale ≤ 1)")
    bench.add_argument("--out", default=None, help="a JSON file for every figure and ratio")
    bench.add_argument("--repeats", type=int, default=3, help="runs of each timing; the median is kept")
    bench.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--other-python", default=None,
                       help="a Python with cornac installed (default: $VAECF_BENCH_PYTHON, or this one if it has cornac)")
    bench.set_defaults(run=_bench)

    fig = commands.add_parser("figures", help="annealing curve, β sweep, likelihoods, NDCG by activity")
    _add_data_arguments(fig)
    _add_run_arguments(fig, "runs/figures")
    fig.set_defaults(run=_figures)

    cnt = commands.add_parser("counts", help="the protocol's counts, beside the published ones")
    _add_data_arguments(cnt)
    cnt.add_argument("--statistics", default=None, metavar="FILE",
                     help="also write the click statistics (density, Gini, clicks per user) "
                          "to this JSON file, as docs/<dataset>/statistics.json")
    cnt.set_defaults(run=_counts)
    return parser


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
