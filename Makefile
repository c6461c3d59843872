# One entry point. `make reproduce` and `make test` each set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup reproduce test notebooks book clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## The main job: the paper's table on the embedded synthetic data (a few minutes on 2 cores).
reproduce: $(STAMP)
	$(PY) -m vaecf reproduce --dataset synthetic --out runs/synthetic --overwrite

## The whole test suite: unit tests, every notebook and assignment solution under nbval, in smoke size.
test: $(STAMP)
	VAECF_SMOKE=1 MPLBACKEND=Agg $(PY) -m pytest tests notebooks assignments/source --nbval-lax \
	  --nbval-cell-timeout=300 -p no:cacheprovider

## Re-execute the notebooks at full size for commit (NB=04 for one), their claims then checked
## by tests/test_notebook_outputs.py; progress bars off, so no half-drawn bar is saved.
NB ?= [0-9][0-9]
notebooks: $(STAMP)
	cd notebooks && for nb in $(NB)_*.ipynb; do \
	  echo "executing $$nb"; \
	  TQDM_DISABLE=1 OMP_NUM_THREADS=1 MPLBACKEND=module://matplotlib_inline.backend_inline \
	    ../$(PY) -m jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; \
	  ../$(PY) -m vaecf.notebook strip "$$nb"; \
	done

## The book: README, docs/ pages, notebooks (their committed outputs, never executed) and
## assignments as a static website in book/_build/html (settings in book/conf.py, chapters in
## book/_toc.yml).
BOOK_BUILD ?= book/_build
book: $(STAMP)
	$(PY) -m sphinx -b html -q -W --keep-going -c book -d $(BOOK_BUILD)/doctrees . $(BOOK_BUILD)/html
	@echo "the book: $(BOOK_BUILD)/html/index.html"

clean:
	rm -rf $(VENV) runs book/_build
