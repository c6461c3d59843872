"""``python -m vaecf.assignments``: generate student notebooks, check them, grade submissions.

    python -m vaecf.assignments generate            # masters -> assignments/student/
    python -m vaecf.assignments check               # fail if a student notebook is stale
    python -m vaecf.assignments grade 01 submissions/ --out scores.csv --feedback feedback/

Grading runs each submission in a bubblewrap sandbox and judges its answers outside it;
see assignments/README.md.
"""
from __future__ import annotations

import argparse
import sys

from . import tools


def _number(kind, minimum, what):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({what})") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text} is too small: {what}")
        return value
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m vaecf.assignments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=str(tools.SOURCE_DIR),
                        help="folder of master notebooks (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the student notebook of every master")
    gen.add_argument("--student", default=str(tools.STUDENT_DIR))
    chk = sub.add_parser("check", help="exit 1 if a committed student notebook is out of date")
    chk.add_argument("--student", default=str(tools.STUDENT_DIR))
    grd = sub.add_parser("grade", help="score a folder of submitted notebooks into a CSV")
    grd.add_argument("assignment", help="e.g. 01 or 01_ranking_metrics")
    grd.add_argument("submissions", help="folder with one .ipynb per student")
    grd.add_argument("--out", default="scores.csv",
                     help="CSV to write, row by row; students already in it are not regraded "
                          "(default: %(default)s)")
    grd.add_argument("--feedback", help="folder for one feedback .txt per student")
    grd.add_argument("--timeout", type=_number(float, 5, "give at least 5 seconds"),
                     default=300.0, help="seconds one submission may run in all; a cell or "
                     "a checked call still running after a quarter of it is stopped and the "
                     "rest goes on (default: %(default)g)")
    grd.add_argument("--memory", type=_number(int, 1024, "importing torch alone needs about "
                                                          "900 MiB of address space; give at "
                                                          "least 1024"),
                     default=4096, help="MiB of memory (address space) per submission "
                                        "(default: %(default)s)")
    grd.add_argument("--jobs", type=_number(int, 1, "give at least 1"), default=1,
                     help="submissions graded at once (default: %(default)s)")
    grd.add_argument("--allow-reference", action="store_true",
                     help="do not score 0 for answers that use the package's own "
                          "implementations (open-book exercises)")
    grd.add_argument("--no-sandbox", action="store_true",
                     help="grade without bubblewrap (where it cannot run): the time, memory "
                          "and folder limits stay, the isolation goes (the output lists what "
                          "is missing)")
    return parser


def _grade(args) -> int:
    from .grading import grade
    from .sandbox import Limits

    master = tools.find_master(args.assignment, args.source)

    def report(student, row):
        print(f"{student}: {row['total']:g}/{row['possible']:g}"
              + (f"  [{row['error']}]" if row["error"] else ""), flush=True)

    run = grade(master, args.submissions, args.out, args.feedback,
                Limits(args.timeout, args.memory), jobs=args.jobs, unsandboxed=args.no_sandbox,
                allow_reference=args.allow_reference, progress=report)
    if run.skipped:
        print(f"kept {len(run.skipped)} already graded in {args.out} (delete it to regrade)")
    print(f"wrote {args.out} ({len(run.sheet.rows)} students)")
    for missing in run.missing_protections:
        print(f"warning: graded WITHOUT a sandbox; missing {missing}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from .sandbox import SandboxUnavailable

    try:
        if args.command == "generate":
            for path in tools.generate(args.source, args.student):
                print(f"wrote {path}")
        elif args.command == "check":
            stale = tools.stale_students(args.source, args.student)
            if stale:
                print("Out of date (run `python -m vaecf.assignments generate`): "
                      + ", ".join(stale), file=sys.stderr)
                return 1
            print("Every student notebook matches its master.")
        else:
            return _grade(args)
    except (FileNotFoundError, ValueError, ImportError, SandboxUnavailable) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
