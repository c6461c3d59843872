"""Sphinx settings of the book: the README, the pages under docs/, the notebooks with their
committed outputs (never executed here) and the student assignments, as a static website
(`make book`).

The source folder is the repository root, so the relative links of the README, the docs pages
and the notebooks work unchanged; only the files named in `include_patterns` are read, in the
order of _toc.yml. Everything the pages load (MathJax included) is copied into the site, so it
works offline and from any sub-path (GitHub Pages, a course server).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vaecf.notebook import REPO_URL  # noqa: E402  (the one place a fork changes)

project = "vaecf: variational autoencoders for collaborative filtering"
author = "the vaecf authors"
html_title = "vaecf — VAEs for collaborative filtering"

# githubpages: writes .nojekyll, so GitHub Pages serves the _static/ and _images/ folders
extensions = ["myst_nb", "sphinx_external_toc", "sphinx-mathjax-offline",
              "sphinx.ext.githubpages"]
external_toc_path = "book/_toc.yml"
include_patterns = ["README.md", "docs/*.md", "notebooks/README.md", "notebooks/*.ipynb",
                    "assignments/README.md", "assignments/student/*.ipynb"]
exclude_patterns = ["book/_build"]

# The notebooks are read as committed: their outputs come from `make notebooks`.
nb_execution_mode = "off"
# Widget outputs (sliders, progress bars) have no state a static page could show: each becomes
# a note (progress bars are dropped) and each claim a paragraph when the notebook is read
# (notebook_outputs.py; the .ipynb files are not changed).
nb_custom_formats = {".ipynb": ["notebook_outputs.read_for_book", {}]}
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "show_toc_level": 2,
    "navbar_persistent": [],  # search lives in the sidebar; no second search bar on top
}
html_static_path = ["_static"]  # relative to this folder
html_css_files = ["book.css"]
