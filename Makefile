# The README's commands. Each creates .venv on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIPQ   := -q --disable-pip-version-check

# what `make bench` runs, in order (the others in bench/ need a run folder or take long: see each file's docstring)
BENCHES := ingest segment_overhead train_throughput demo_timing page_size startup xai scale realistic_study stage_scaling \
           ddp blas_threads install

.PHONY: install demo test test-fast lab clean-venv bench readme check-reports

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@# the pip a new venv gets (23.2 with Python 3.11) took 95 s to install .[dev] here; 26.3 took 50 s (bench/install.py)
	$(PY) -m pip install $(PIPQ) "pip==26.3" 2>&1 | grep -v "is ignored" || true
	@echo ">> installing torch (from the local wheel cache) and ct_mask_cls into $(VENV)"
	$(PY) -m pip install $(PIPQ) --no-compile torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored" || true
	@# PYTHONWARNINGS: setuptools' notes on editable installs, which pip 26 prints even with -q
	PYTHONWARNINGS=ignore $(PY) -m pip install $(PIPQ) --no-compile -e ".[dev]" 2>&1 | grep -v "is ignored" || true
	@# pip byte-compiles file by file on one core; compileall does the same files on every core, so that no first import
	@# (the CLI's fail-fast paths included) pays for it. -qq: torch ships a file in Python 3.12 syntax, which no install compiles
	$(PY) -m compileall -qq -j 0 $$($(PY) -c "import sysconfig; print(sysconfig.get_path('purelib'))") || true
	$(PY) -c "import ct_mask_cls, torch, totalsegmentator, nbdev, papermill"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ct-mask-cls demo --kind realistic --cases 60

test: install
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- nbs ct_mask_cls)" ]; then \
	  echo "notebooks and ct_mask_cls/ are out of sync (run nbdev-clean && nbdev-export and commit):"; \
	  git status --porcelain -- nbs ct_mask_cls; exit 1; fi
	@out=$$($(BIN)/python -m pyflakes ct_mask_cls/*.py | grep -v -e "unable to detect undefined names" -e "defined from star imports" || true); \
	  if [ -n "$$out" ]; then echo "pyflakes (beyond the star-import notes nbdev's exports cause):"; echo "$$out"; exit 1; fi
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/pytest tests

test-fast: install  # the sync check, pyflakes and every test not marked slow (no pipeline runs, no training): a few minutes
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- nbs ct_mask_cls)" ]; then \
	  echo "notebooks and ct_mask_cls/ are out of sync (run nbdev-clean && nbdev-export and commit):"; \
	  git status --porcelain -- nbs ct_mask_cls; exit 1; fi
	$(BIN)/pytest tests -m "not slow"

LAB_ARGS ?=
lab: install  # opens the project root (notebooks in nbs/, runs in outputs/); extra flags: make lab LAB_ARGS=--allow-root
	$(BIN)/jupyter lab $(LAB_ARGS) .

bench: install
	set -e; for b in $(BENCHES); do echo ">> bench/$$b.py"; $(BIN)/python bench/$$b.py; done
	$(BIN)/python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" && $(BIN)/python bench/gpu_fit.py || echo "no GPU: bench/gpu_fit.py skipped"

RUN ?= outputs/demo-realistic
check-reports: install  # opens every report of RUN in headless Chromium (Debian package `chromium`): fails on console errors, broken images, any network request
	$(BIN)/ct-mask-cls check-reports $(RUN)

readme:  # README.md is the markdown of nbs/index.ipynb
	$(BIN)/python -c "import json; nb = json.load(open('nbs/index.ipynb')); open('README.md', 'w').write('\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown') + '\n')"

clean-venv:
	rm -rf $(VENV)
