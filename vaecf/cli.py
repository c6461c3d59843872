"""Command line: ``python -m vaecf reproduce --dataset synthetic`` and friends.

``reproduce`` writes each autoencoder's checkpoint to ``OUT/checkpoints`` after every
epoch: if a long run (ML-20M) is interrupted, the same command resumes where it stopped.
Before any training the output folder (``--out``) is made, test-written and locked, the
device is checked and the data is loaded and split; every output is written through a
temporary file and a rename, and ``--overwrite`` moves earlier outputs aside, never
deleting them. Errors are one line that says what to do, in this command line's flags.

``torchrun --nproc_per_node=N -m vaecf reproduce ...`` trains the autoencoders
data-parallel on N processes (:mod:`vaecf.distributed`); rank 0 writes the outputs.
"""
from __future__ import annotations

import argparse
import errno
import sys
import warnings
from pathlib import Path

__all__ = ["main", "format_table"]

COLUMNS = ("recall@20", "recall@50", "ndcg@100")


def format_table(results: dict) -> str:
    """The results as a text table; the paper's ML-20M numbers beside ours when present,
    each autoencoder's epochs, and a warning for every model that was still improving."""
    from .experiments.comparison import unconverged_models

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
        f"{results.get('data_label', results['dataset'])}: {counts['train_users']} train / {counts['valid_users']} validation / "
        f"{counts['test_users']} test users, {counts['items']} items; test users' mean, "
        f"seed {results['seed']}, " + (f"{epochs} epochs" if isinstance(epochs, int) else
                                       "each autoencoder trained to a validation plateau")
        + (f", {results['likelihood']} likelihood." if "likelihood" in results else "."))
    if "k_capped" in results:
        lines.append(f"Note: {results['k_capped']['note']}.")
    if results.get("data", {}).get("status") == "modified":
        lines.append("Note: modified data: the ratings file is not the published release "
                     "(results.json records its hashes).")
    for name, search in results.get("tuning", {}).items():
        chosen = ", ".join(f"{key} = {value:g}" for key, value in search["chosen"].items())
        lines.append(f"Tuned {name}: {chosen} (search {search['search_seconds']:.0f} s).")
    for name in unconverged_models(results):
        lines.append(f"WARNING: {name} was still improving at the end of its budget; its score "
                     "understates it (pass a larger --epochs, or leave --epochs out to train to a "
                     "plateau).")
    return "\n".join(lines)


REPRODUCE_OUTPUTS = ("results.json", "training_curves.png", "test_ndcg.png", "checkpoints")
FIGURE_NAMES = ("annealing_curve", "beta_sweep", "likelihoods", "ndcg_by_activity")


def _prepare(args, cluster=None):
    """The device, data and split the arguments name, checked before any training. Under
    torchrun each process takes its own GPU (``cuda:LOCAL_RANK``) when there are GPUs."""
    from .experiments.reproduce import prepare_data

    device = args.device
    if cluster is not None and device in (None, "cuda"):
        device = str(cluster.device())
    return prepare_data(args.dataset, data_dir=args.data_dir, path=args.path, seed=args.seed,
                        size=args.size, n_heldout=args.heldout, device=device,
                        click_threshold=args.click_threshold, mirror=args.mirror)


def _say_moved(aside):
    if aside is not None:
        print(f"Moved the earlier outputs to {aside}/.", file=sys.stderr)


def _reproduce(args) -> int:
    from . import distributed

    cluster = distributed.from_environment()
    if cluster is None:
        return _reproduce_here(args)
    distributed.start(cluster)
    try:
        return _reproduce_here(args, cluster)
    finally:
        distributed.stop()


def _reproduce_here(args, cluster=None) -> int:
    """``reproduce`` on this process: alone, or as one of the processes torchrun started,
    of which rank 0 owns --out (lock, earlier outputs moved aside, results written)."""
    from .outputs import RunFolder, save_figure, write_json
    from .plots.results import plot_results, plot_training_curves
    from .experiments.reproduce import run_models

    from .experiments.reproduce import choose_models

    choose_models(args.models)  # a bad name fails before the output folder is touched

    def run(data, checkpoints):
        return run_models(data, epochs=args.epochs, beta_cap=args.beta_cap,
                          likelihood=args.likelihood, checkpoint_dir=checkpoints,
                          progress=not args.quiet, precision=args.precision,
                          models=args.models, tune=args.tune, cluster=cluster)

    if cluster is not None and not cluster.is_main:
        data = _prepare(args, cluster)
        cluster.barrier()  # rank 0 has locked --out and moved earlier outputs aside
        run(data, Path(args.out) / "checkpoints")
        return 0
    with RunFolder(args.out, "results.json", REPRODUCE_OUTPUTS, args.overwrite) as folder:
        data = _prepare(args, cluster)
        _say_moved(folder.move_aside())
        if cluster is not None:
            cluster.barrier()
        results, histories = run(data, folder.path / "checkpoints")
        written = [write_json(folder.path / "results.json", results)]
        if histories:  # no autoencoder among --models: no training curves to draw
            written.append(save_figure(plot_training_curves(histories),
                                       folder.path / "training_curves.png"))
        written.append(save_figure(plot_results(results), folder.path / "test_ndcg.png"))
    print(format_table(results))
    print(f"\nWrote {', '.join(map(str, written))}.")
    return 0


def _counts(args) -> int:
    from .reference import PAPER_TABLE1, PUBLISHED_COUNTS

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
    paper = PAPER_TABLE1.get(args.dataset)
    if paper:
        mismatches += _table1_mismatches(paper, split)
    if published or paper:
        print("All published counts agree." if mismatches == 0 else
              f"{mismatches} count(s) differ from the published ones.")
    if args.statistics:
        _write_statistics(args, split)
    return 1 if mismatches else 0


def _table1_mismatches(paper: dict, split) -> int:
    """Print our counts beside the paper's Table 1 (clicks in millions, to one decimal);
    the number that differ."""
    ours = {"users": split.protocol["users_after_filtering"], "items": split.n_items,
            "clicks_millions": round(split.protocol["clicks_after_filtering"] / 1e6, 1),
            "heldout": split.protocol["n_heldout"]}
    labels = {"users": "users", "items": "items", "clicks_millions": "clicks (millions)",
              "heldout": "held-out users (each)"}
    print("  paper's Table 1, after preprocessing:")
    mismatches = 0
    for key, label in labels.items():
        agrees = ours[key] == paper[key]
        mismatches += not agrees
        shown = (lambda v: f"{v:>12,.1f}") if key == "clicks_millions" else (lambda v: f"{v:>12,}")
        print(f"    {label:<30}{shown(ours[key])}   paper {shown(paper[key])}  "
              f"{'ok' if agrees else 'DIFFERENT'}")
    return mismatches


def _write_statistics(args, split) -> None:
    from .data.statistics import click_statistics
    from .outputs import write_json
    from .plots.clicks import statistics_table

    stats = click_statistics(split)
    print("\n" + statistics_table({args.dataset: stats}))
    payload = {"dataset": args.dataset, "seed": args.seed, "statistics": stats.as_dict()}
    if args.dataset == "synthetic":
        payload["synthetic_size"] = args.size
    write_json(args.statistics, payload)
    print(f"Wrote {args.statistics}.")


def _bench(args) -> int:
    from .experiments.bench import format_bench_table, run_benchmark

    if args.no_other and args.other_python:
        raise ValueError("--no-other skips the comparison that --other-python names: give one "
                         "of the two.")
    records = run_benchmark(scale=args.scale, sizes=tuple(args.sizes), threads=args.threads,
                            repeats=args.repeats, seed=args.seed, other_python=args.other_python,
                            other=not args.no_other, epoch_batches=args.epoch_batches)
    print(format_bench_table(records))
    if args.out:
        from .outputs import write_json

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(args.out, records)
        print(f"\nWrote {args.out}.")
    return 0


def _figures(args) -> int:
    from . import __version__
    from .figures import dataset_figures
    from .outputs import RunFolder, save_figure, write_json
    from .train import PAPER_RUN_EPOCHS

    outputs = ("figures.json",) + tuple(f"{name}.png" for name in FIGURE_NAMES)
    with RunFolder(args.out, "figures.json", outputs, args.overwrite) as folder:
        data = _prepare(args)
        _say_moved(folder.move_aside())
        numbers, figures = dataset_figures(data.split, args.epochs, seed=args.seed,
                                           device=data.device, progress=not args.quiet)
        epochs = args.epochs if args.epochs is not None else \
            f"annealing run {PAPER_RUN_EPOCHS}, the others to a validation plateau"
        numbers.update(dataset=args.dataset, epochs=epochs, seed=args.seed,
                       counts=data.split.counts(), vaecf_version=__version__)
        if args.dataset == "synthetic":
            numbers["synthetic_size"] = args.size
        write_json(folder.path / "figures.json", numbers)
        for name, figure in figures.items():
            save_figure(figure, folder.path / f"{name}.png", dpi=90)
    print(f"Wrote {', '.join(f'{n}.png' for n in figures)} and figures.json to {folder.path}.")
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


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -float("inf") < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number such as 3.5, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to 4294967295 such as 98765, got {text!r}")
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


def _mirror(text: str) -> str:
    from .data.sources import user_mirror

    try:
        return user_mirror(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an https:// (or http://) URL of the folder that holds the archives, "
            f"such as https://example.org/movielens, got {text!r}") from None


def _add_data_arguments(parser):
    from .data import DATASETS, SYNTHETIC_SIZES

    parser.add_argument("--dataset", default="synthetic", choices=DATASETS)
    parser.add_argument("--data-dir", default=None,
                        help="where MovieLens files are looked for / downloaded, and Netflix or "
                             "MSD files looked for (there or in its netflix/ or msd/ folder)")
    parser.add_argument("--mirror", type=_mirror, default=None, metavar="URL",
                        help="a folder URL of your own holding the MovieLens archive "
                             "(e.g. URL/ml-1m.zip), tried before GroupLens and the built-in "
                             "mirrors and checked against the same SHA-256 (default: "
                             "$VAECF_MOVIELENS_MIRROR)")
    parser.add_argument("--path", default=None,
                        help="a MovieLens ratings file (or folder) you already have, the Netflix "
                             "Prize files' folder, MSD's train_triplets.txt, or your own click "
                             "log with --dataset custom")
    parser.add_argument("--click-threshold", type=_finite, default=None,
                        help="--dataset custom: ratings strictly above it are clicks (the file "
                             "needs a rating column; default: every line is a click)")
    parser.add_argument("--size", default="small", choices=list(SYNTHETIC_SIZES),
                        help="synthetic data size (synthetic only)")
    parser.add_argument("--seed", type=_seed, default=98765)
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
    from .data.datasets import protocol_options

    table, _ = load_dataset(args.dataset, data_dir=args.data_dir, path=args.path, size=args.size,
                            seed=args.seed, click_threshold=args.click_threshold,
                            mirror=args.mirror)
    heldout = args.heldout if args.heldout is not None else default_heldout(args.dataset)
    return table, paper_split(table, n_heldout=heldout, seed=args.seed,
                              **protocol_options(args.dataset))


def build_parser() -> argparse.ArgumentParser:
    from .experiments.bench import BENCH_SIZES, KNOWN_SIZES

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
    rep.add_argument("--models", default=None,
                     help="comma-separated models to run, among Popularity, WMF, EASE, AE, "
                          "Mult-DAE, Mult-VAE, RecVAE, Oracle (default: all but RecVAE)")
    rep.add_argument("--tune", action="store_true",
                     help="choose each model's settings on the validation users: EASE, WMF and "
                          "Mult-DAE over small grids (vaecf.experiments.tuning.GRIDS), Mult-VAE's β cap by "
                          "the paper's annealing procedure; results.json records the grid, the "
                          "choice and the search time")
    rep.set_defaults(run=_reproduce)

    bench = commands.add_parser("bench", help="time a Mult-VAE epoch against its bound and Cornac")
    bench.add_argument("--scale", type=float, default=1.0,
                       help="shrink users and items of the ML-20M/ML-1M sizes (0 < scale ≤ 1)")
    bench.add_argument("--out", default=None, help="a JSON file for every figure and ratio")
    bench.add_argument("--repeats", type=int, default=3, help="runs of each timing; the median is kept")
    bench.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--sizes", nargs="+", default=list(BENCH_SIZES), choices=KNOWN_SIZES,
                       help="the synthetic sizes to measure (default: ml-20m ml-1m; msd is the "
                            "Million Song Dataset's shape, 571,355 users × 41,140 items)")
    bench.add_argument("--epoch-batches", type=int, default=None, metavar="N",
                       help="time only N batches of each epoch and scale to the epoch (memory "
                            "is measured all the same); for the large sizes on a small CPU")
    bench.add_argument("--other-python", default=None,
                       help="a Python with cornac installed (default: $VAECF_BENCH_PYTHON, this one "
                            "if it has cornac, else an environment made once in $VAECF_BENCH_ENV or "
                            "~/.cache/vaecf/cornac-env)")
    bench.add_argument("--no-other", action="store_true",
                       help="skip the comparison with Cornac (no environment is made)")
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


def _os_error_message(error: OSError, args) -> str:
    """One line for an operating-system error: what happened, to which file, what to do."""
    where = error.filename or ""
    out = getattr(args, "out", None)
    is_output = bool(out) and bool(where) and Path(where).resolve().is_relative_to(
        Path(out).resolve())
    if error.errno == errno.ENOSPC:
        return (f"no space left on the disk holding {where or out}: free some space or choose "
                "another --out, then rerun the same command (checkpoints already written are kept).")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and (is_output or not where):
        return (f"cannot write {where or out} ({error.strerror}): choose another --out, or make "
                "that folder writable.")
    if error.errno in (errno.EACCES, errno.EPERM):
        return (f"cannot read {where} ({error.strerror}): check the ratings file (--path) or "
                "the data folder (--data-dir).")
    if error.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR) and is_output:
        return (f"--out {out} cannot be used as a folder ({error.strerror}: {where}): choose "
                "another --out.")
    return f"{error.strerror or error}: {where}" if where else str(error)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    import matplotlib

    matplotlib.use("Agg")
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except KeyboardInterrupt:
            print("\ninterrupted; rerun the same command to resume", file=sys.stderr)
            return 130
        except OSError as error:
            message = str(error) if error.errno is None else _os_error_message(error, args)
            print(f"error: {message}", file=sys.stderr)
            return 2
        except (ValueError, RuntimeError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
