"""``python -m vaecf.assignments``: generate student notebooks, check them, grade submissions.

    python -m vaecf.assignments generate            # masters -> assignments/student/
    python -m vaecf.assignments check               # fail if a student notebook is stale
    python -m vaecf.assignments grade 01 submissions/ --out scores.csv --feedback feedback/
"""
from __future__ import annotations

import argparse
import sys

from . import tools


def main(argv=None) -> int:
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
    grd.add_argument("--out", default="scores.csv", help="CSV to write (default: %(default)s)")
    grd.add_argument("--autograder", help="an otter autograder zip to use instead of "
                                          "building one from the master")
    grd.add_argument("--feedback", help="folder for one feedback .txt per student")
    args = parser.parse_args(argv)

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
            table = tools.grade(args.assignment, args.submissions, args.source,
                                args.autograder, args.feedback)
            path = tools.write_scores(table, args.out)
            print(table.to_string(index=False))
            print(f"wrote {path}")
    except (FileNotFoundError, ValueError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
