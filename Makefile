# The README's commands. Each creates .venv on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIPQ   := -q --disable-pip-version-check

.PHONY: install demo test lab clean-venv bench

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo ">> installing torch (from the local wheel cache) and ct_mask_cls into $(VENV)"
	$(PY) -m pip install $(PIPQ) torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored" || true
	$(PY) -m pip install $(PIPQ) -e ".[dev]" 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import ct_mask_cls, torch, totalsegmentator, nbdev, papermill"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ct-mask-cls demo

test: install
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- nbs ct_mask_cls)" ]; then \
	  echo "notebooks and ct_mask_cls/ are out of sync (run nbdev-clean && nbdev-export and commit):"; \
	  git status --porcelain -- nbs ct_mask_cls; exit 1; fi
	$(BIN)/nbdev-test --n-workers 2
	$(BIN)/pytest tests

lab: install
	$(BIN)/jupyter lab nbs

bench: install
	$(BIN)/python bench/demo_timing.py

clean-venv:
	rm -rf $(VENV)
