"""Each notebook records its headline numbers (vaecf.notebook.record_metrics); these tests
read them back after the notebooks ran (pytest collects this file after the .ipynb files)
and check that what the notebook tells the reader is true."""
import json
from pathlib import Path

import pytest

METRICS = Path(__file__).resolve().parent / "metrics"


def metrics(notebook: str) -> dict:
    path = METRICS / f"{notebook}.json"
    if not path.exists():
        pytest.fail(f"{notebook}.ipynb recorded no metrics at {path}; run the notebooks first "
                    "(make test runs them before this file).")
    return json.loads(path.read_text())["metrics"]
