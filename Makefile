# The README's commands. Each creates .venv on first use.
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIPQ   := -q --disable-pip-version-check
# pytest runs the test files on this many processes (pytest-xdist; --dist loadfile: a file stays on one process, so its
# module fixtures are built once). On 2 cores the suite took 21.5 min against 36.3 min on one process (stop 53).
TEST_WORKERS ?= 2
PYTEST_PAR   = $(if $(filter 1,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)   # 1: no xdist, the plain single process

# what `make bench` runs, in order (the others in bench/ need a run folder or take long: see each file's docstring)
BENCHES := ingest segment_overhead train_throughput demo_timing page_size startup xai scale realistic_study stage_scaling \
           ddp blas_threads install test_suite

.PHONY: install demo test test-fast lab clean-venv bench readme check-reports

# pip's settings (index, extra indexes, find-links, constraints, certificate, proxy, timeout), from `pip config list`,
# given to uv as its environment; then `uv pip install` with the arguments. Exits non-zero on a setting it cannot
# carry over (pip installs then).
define UV_AS_PIP
import ast, os, re, subprocess, sys
out = subprocess.run([sys.executable, '-m', 'pip', 'config', 'list'], capture_output=True, text=True, check=True).stdout
seen = {}
for line in out.splitlines():  # section.key='value'; :env: (PIP_*) over install over global, as pip ranks them
    m = re.match(r"(:env:|[^.]+)\.([\w-]+)=(.*)$$", line)
    if m: seen.setdefault(m[2], {})[m[1]] = ast.literal_eval(m[3])
conf = {k: v.get(':env:', v.get('install', v.get('global'))) for k, v in seen.items()}
conf = {k: v for k, v in conf.items() if v is not None}
words, commas = str.split, lambda v: [','.join(v.split())]
flag = lambda v: ['1'] if v.lower() in ('1', 'true', 'yes', 'on') else []
uv = {'index-url': ('UV_DEFAULT_INDEX', words), 'extra-index-url': ('UV_EXTRA_INDEX_URL', words),
      'find-links': ('UV_FIND_LINKS', commas), 'constraint': ('UV_CONSTRAINT', words),
      'trusted-host': ('UV_INSECURE_HOST', words), 'cert': ('SSL_CERT_FILE', words),
      'client-cert': ('SSL_CLIENT_CERT', words), 'proxy': ('HTTPS_PROXY', words),
      'timeout': ('UV_HTTP_TIMEOUT', words), 'default-timeout': ('UV_HTTP_TIMEOUT', words),
      'no-index': ('UV_NO_INDEX', flag), 'no-cache-dir': ('UV_NO_CACHE', flag)}
harmless = {'disable-pip-version-check', 'no-warn-script-location', 'root-user-action', 'progress-bar', 'quiet',
            'verbose', 'no-input', 'break-system-packages', 'no-color', 'config-file'}  # config-file: pip read it
left = sorted(set(conf) - set(uv) - harmless)
if left: sys.exit(f"pip settings uv is not given: {', '.join(left)}; pip installs instead")
env = dict(os.environ, UV_INDEX_STRATEGY='unsafe-best-match')  # pip's rule: the best version over every index
for k, v in conf.items():
    if k in uv and uv[k][1](v): env[uv[k][0]] = ' '.join(uv[k][1](v))
if 'HTTPS_PROXY' in env: env.setdefault('HTTP_PROXY', env['HTTPS_PROXY'])
uvx = os.environ.get('CT_MASK_CLS_UV') or os.path.join(os.path.dirname(sys.executable), 'uv')  # the venv's uv
sys.exit(subprocess.run([uvx, 'pip', 'install', '--python', sys.executable, *sys.argv[1:]], env=env).returncode)
endef
export UV_AS_PIP

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@# uv installs torch and .[dev] in about a third of pip's time, with pip's settings (bench/install.py); pip installs
	@# when uv cannot be had or fails. pip 26.3 first: the pip a new venv gets (23.2 with Python 3.11) is twice as slow.
	$(PY) -m pip install $(PIPQ) "pip==26.3" 2>&1 | grep -v "is ignored" || true
	$(PY) -m pip install $(PIPQ) "uv==0.13.9" 2>&1 | grep -v "is ignored" || true
	@echo ">> installing torch (from the local wheel cache) and ct_mask_cls into $(VENV)"
	$(PY) -c "$$UV_AS_PIP" -q torch==2.14.1 torchvision==0.29.1 -e ".[dev]" || { \
	  echo ">> uv did not install; pip does"; \
	  $(PY) -m pip install $(PIPQ) --no-compile torch==2.14.1 torchvision==0.29.1 2>&1 | grep -v "is ignored"; \
	  PYTHONWARNINGS=ignore $(PY) -m pip install $(PIPQ) --no-compile -e ".[dev]" 2>&1 | grep -v "is ignored"; true; }
	@# pip byte-compiles file by file on one core; compileall does the same files on every core, so that no first import
	@# (the CLI's fail-fast paths included) pays for it. -qq: torch ships a file in Python 3.12 syntax, which no install compiles.
	@# -x: the packages' own test suites (4,142 of 19,784 files; nothing here imports them) are left out: 36 s instead of 41
	$(PY) -m compileall -qq -j 0 -x '/tests/' $$($(PY) -c "import sysconfig; print(sysconfig.get_path('purelib'))") || true
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
	$(BIN)/pytest tests $(PYTEST_PAR)

test-fast: install  # the sync check and every test not marked slow (no pipeline runs, no training): a few minutes; pyflakes and nbdev-test run in `make test` only
	$(BIN)/nbdev-clean
	$(BIN)/nbdev-export
	@if [ -n "$$(git status --porcelain -- nbs ct_mask_cls)" ]; then \
	  echo "notebooks and ct_mask_cls/ are out of sync (run nbdev-clean && nbdev-export and commit):"; \
	  git status --porcelain -- nbs ct_mask_cls; exit 1; fi
	$(BIN)/pytest tests -m "not slow" $(PYTEST_PAR)

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
