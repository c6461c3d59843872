"""How the book reads a notebook (book/notebook_outputs.py): widgets become notes, progress
bars go, claims become prose, test markers are hidden; nothing else changes."""
import copy
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book"))
import notebook_outputs as book  # noqa: E402

SLIDER = ("VBox(children=(HBox(children=(SelectionSlider(continuous_update=False, "
          "description='β', index=3, layout=Layout…")
BAR = "β sweep:   0%|          | 0/6 [00:00<?, ?it/s]"


def _widget(text, kind="display_data"):
    output = {"output_type": kind, "metadata": {},
              "data": {book.WIDGET_MIME: {"model_id": "ab", "version_major": 2,
                                          "version_minor": 0}, "text/plain": text}}
    if kind == "execute_result":
        output["execution_count"] = 1
    return output


def _notebook(outputs, source="x = 1", metadata=None):
    nb = nbformat.v4.new_notebook(metadata=metadata or {})
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    nb.cells = [nbformat.v4.new_markdown_cell("# Title\n\n$a^2$"), cell]
    return nb


def test_a_slider_becomes_a_note_naming_its_control():
    nb = book.for_book(_notebook([_widget(SLIDER, "execute_result")]))
    (output,) = nb.cells[1].outputs
    assert output.output_type == "display_data" and list(output.data) == ["text/html"]
    note = output.data["text/html"]
    assert "widget-note" in note and "a slider for β" in note and "VBox" not in note
    nbformat.validate(nb)


def test_a_widget_without_a_labelled_control_still_gets_a_note():
    note = book.widget_note("Output()")
    assert "an interactive widget appears here" in note


def test_progress_bars_are_dropped_and_other_outputs_kept():
    stream = {"output_type": "stream", "name": "stdout", "text": "Trained 6 models\n"}
    image = {"output_type": "display_data", "metadata": {},
             "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}}
    nb = book.for_book(_notebook([_widget(BAR), stream, image]))
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream", "display_data"]
    assert nb.cells[1].outputs[1].data["image/png"] == "iVBORw0KGgo="


@pytest.mark.parametrize("holds", [True, False])
def test_a_claim_becomes_its_sentence_marked_as_holding_or_not(holds):
    claim = {"output_type": "display_data", "metadata": {},
             "data": {book.CLAIM_MIME: {"name": "n", "holds": holds, "evidence": {},
                                        "printed": "A beats B <by far> & more."},
                      "text/plain": "A beats B <by far> & more."}}
    (output,) = book.for_book(_notebook([claim])).cells[1].outputs
    html = output.data["text/html"]
    assert f"claim-{'holds' if holds else 'fails'}" in html
    assert "A beats B &lt;by far&gt; &amp; more." in html


def test_test_markers_are_hidden_and_nothing_else_changes():
    source = "# NBVAL_IGNORE_OUTPUT\nbeta_slider(sweep)  # NBVAL_ stays inside a line\n"
    nb = _notebook([], source=source)
    before = copy.deepcopy(nb)
    book.for_book(nb)
    assert nb.cells[1].source == "beta_slider(sweep)  # NBVAL_ stays inside a line\n"
    assert nb.cells[0] == before.cells[0]


def test_the_lexer_defaults_to_ipython_but_a_notebook_keeps_its_own():
    assert book.for_book(_notebook([])).metadata.language_info.pygments_lexer == "ipython3"
    own = _notebook([], metadata={"language_info": {"name": "python",
                                                    "pygments_lexer": "python3"}})
    assert book.for_book(own).metadata.language_info.pygments_lexer == "python3"


def test_the_committed_demo_notebook_reads_without_a_widget_repr():
    path = Path(__file__).resolve().parents[1] / "notebooks" / "demo_beta_slider.ipynb"
    nb = book.read_for_book(path.read_text())
    texts = [str(o.get("data", {})) for c in nb.cells for o in c.get("outputs", [])]
    assert not any("VBox(children" in t or book.WIDGET_MIME in t for t in texts)
    assert sum("widget-note" in t for t in texts) == 2
