"""The notebooks are committed with the outputs of a full-size run, so GitHub and nbviewer
show the figures; these tests keep that policy (CI re-executes them small with nbval)."""
import nbformat
import pytest

from vaecf.notebook import NOTEBOOKS_DIR, claim_is_consistent, committed_claims

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))


def _is_widget_cell(cell) -> bool:
    return cell.source.startswith("# NBVAL_IGNORE_OUTPUT") and "slider(" in cell.source


def test_all_nine_notebooks_are_there():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(1, 10)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_in_order(path):
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and not _is_widget_cell(c)]
    counts = [c.execution_count for c in code]
    assert None not in counts, f"{path.name}: run it top to bottom and commit the outputs"
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], f"{path.name} has an error output"
    assert not [o for o in outputs if "image/svg+xml" in o.get("data", {})], "plot to PNG, not SVG"
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} shows no figure"
    assert "widgets" not in notebook.metadata, f"{path.name}: strip the saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell(path):
    notebook = nbformat.read(path, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert "SEED" in tagged[0].source and "smoke()" in tagged[0].source or "SMOKE" in tagged[0].source


WITH_CLAIMS = ("01", "02", "03", "04", "05", "06", "07", "08", "09")
"""The notebooks whose result sentences are all printed from recorded claims."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_claim_in_the_committed_full_size_outputs_holds(path):
    claims = committed_claims(path)
    if path.name[:2] in WITH_CLAIMS:
        assert claims, f"{path.name} states its results as recorded claims (vaecf.notebook.Claims)"
    for claim in claims:
        assert claim_is_consistent(claim), f"{path.name}: {claim['name']} disagrees with its evidence"
        assert claim["holds"], f"{path.name} tells the reader something its run does not show: " \
                               f"{claim['name']}: {claim['text']}"
