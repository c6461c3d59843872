"""How the book reads a notebook: as committed, with the outputs a static page cannot show
made readable. Nothing is executed and the notebook file is not changed.

- A saved notebook keeps only a reference to each ipywidgets view (the widget's state lives
  in the kernel), so a static page cannot draw it; its text fallback is a repr such as
  ``VBox(children=(SelectionSlider(...``. Progress bars (tqdm) are dropped; every other
  widget becomes a short note saying which controls the running notebook shows there.
- A claim (vaecf.notebook.Claims) is shown as the sentence it printed, set as prose.
- The test suite's markers (``# NBVAL_IGNORE_OUTPUT`` lines) are left out of the code shown.
- Python cells are highlighted as IPython (``!pip`` in the Colab cell) where the notebook
  names no highlighter.
"""
from __future__ import annotations

import html
import re

import nbformat

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
CLAIM_MIME = "application/vnd.vaecf.claim+json"
PROGRESS_BAR = re.compile(r"\d+%\|")  # tqdm's "name:  40%|████      | 2/5 [...]"
CONTROL = re.compile(r"(\w+)\([^()]*?description='([^']*)'")
TEST_MARKER = re.compile(r"^# NBVAL_\w+[ \t]*\n?", re.MULTILINE)
# what a reader calls the ipywidgets controls a note names
CONTROL_NAMES = {"Slider": "slider", "Checkbox": "tick box", "Dropdown": "menu",
                 "ToggleButtons": "buttons", "RadioButtons": "buttons", "Button": "button"}


def _text(data: dict) -> str:
    text = data.get("text/plain", "")
    return "".join(text) if isinstance(text, list) else text


def _control_name(kind: str) -> str:
    return next((name for suffix, name in CONTROL_NAMES.items() if kind.endswith(suffix)),
                "control")


def widget_note(text: str) -> str:
    """The HTML note that stands in for a widget whose text fallback is `text`."""
    controls = [f"a {_control_name(kind)} for {html.escape(label)}"
                for kind, label in CONTROL.findall(text)]
    what = ("an interactive widget (" + ", ".join(controls) + ")") if controls \
        else "an interactive widget"
    return ('<div class="admonition note widget-note"><p class="admonition-title">'
            'Interactive widget</p><p>In the running notebook, ' + what + ' appears here. '
            'Open the notebook in Jupyter, Colab or Voilà (launch button above) to use it; '
            'the figures on this page show its default setting.</p></div>')


def claim_html(claim: dict, fallback: str = "") -> str:
    """A claim's printed sentence (else `fallback`, its text output) as a paragraph, marked
    as holding or not."""
    holds = "holds" if claim.get("holds") else "fails"
    sentence = html.escape(claim.get("printed") or fallback)
    return f'<div class="claim claim-{holds}"><p>{sentence}</p></div>'



def _html_output(text: str) -> nbformat.NotebookNode:
    return nbformat.from_dict({"output_type": "display_data", "metadata": {},
                               "data": {"text/html": text}})


def for_book(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """`nb` with progress-bar widgets removed, every other widget output replaced by a note
    and every claim set as a paragraph."""
    language = nb.metadata.get("kernelspec", {}).get("language", "python")
    info = nbformat.from_dict(nb.metadata.get("language_info") or {"name": language})
    if info.get("name") == "python":
        info.setdefault("pygments_lexer", "ipython3")
    nb.metadata["language_info"] = info
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = TEST_MARKER.sub("", cell.source)
        outputs = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_MIME in data:
                text = _text(data)
                if PROGRESS_BAR.search(text):
                    continue
                output = _html_output(widget_note(text))
            elif CLAIM_MIME in data:
                output = _html_output(claim_html(data[CLAIM_MIME], _text(data)))
            outputs.append(output)
        if "outputs" in cell:
            cell.outputs = outputs
    return nb


def read_for_book(text: str) -> nbformat.NotebookNode:
    """myst-nb's reader for .ipynb files (conf.py, nb_custom_formats)."""
    return for_book(nbformat.reads(text, as_version=4))
