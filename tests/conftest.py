import os, shutil, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def run_cli(*args, cwd=None, timeout=900, env=None):
    "Run the installed `ct-mask-cls` CLI; return the CompletedProcess."
    exe = Path(sys.executable).parent/'ct-mask-cls'
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)

@pytest.fixture(scope='session')
def tiny_cohort(tmp_path_factory):
    "`tiny_cohort(folder)` puts the one tiny generated cohort (8 patients, 32³ DICOM and labels.csv, built once per session) in `folder/data`; returns that path. A copy: a test may change it."
    from ct_mask_cls.synth import make_demo_cohort
    src = tmp_path_factory.mktemp('tiny_cohort')/'data'
    make_demo_cohort(src, n=8, size=32, progress=False)
    def copy(folder) -> Path:
        shutil.copytree(src, Path(folder)/'data')
        return Path(folder)/'data'
    return copy

def masked_cohort(folder, n:int, **train):
    "A tiny generated cohort (`n` patients, 32³) through preprocess, segment and mask, with `train` settings; its config path."
    import yaml
    from ct_mask_cls.core import load_config
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
    from ct_mask_cls.synth import make_demo_cohort, demo_config
    t = Path(folder)
    make_demo_cohort(t/'data', n=n, size=32, progress=False)
    d = demo_config(t/'data', t/'runs', 'r', tiny=True)
    d['train'].update(patience=20, input_size=[32, 32, 32], n_bootstrap=100, **train)
    (t/'c.yaml').write_text(yaml.safe_dump(d))
    cfg = load_config(t/'c.yaml')
    for f in (stage_preprocess, stage_segment, stage_mask): f(cfg, progress=False)
    return t/'c.yaml'

@pytest.fixture(scope='session')
def realdata():
    p = os.environ.get('CT_MASK_CLS_REALDATA', '')
    if not p or not Path(p).is_dir(): pytest.skip('CT_MASK_CLS_REALDATA not set (real CT test data absent)')
    return Path(p)

GUARD = '''
import os, socket
_log = os.environ.get("NETGUARD_LOG")
_loopback = os.environ.get("NETGUARD_ALLOW_LOOPBACK") == "1"
_LOCAL = ("127.0.0.1", "::1", "localhost")
if _log:
    _orig_connect, _orig_gai = socket.socket.connect, socket.getaddrinfo
    def _record(what):
        with open(_log, "a") as f: f.write(f"{os.getpid()} {what}\\n")
    def _connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not (_loopback and address[0] in _LOCAL):
            _record(f"connect {address!r}"); raise OSError(101, "network blocked by the test guard")
        return _orig_connect(self, address)
    def _connect_ex(self, address):
        try: _connect(self, address); return 0
        except OSError as e: return e.errno or 1
    def _getaddrinfo(host, *a, **k):
        if _loopback and (host in _LOCAL or host in (None, "", "0.0.0.0", "::")): return _orig_gai(host, *a, **k)   # loopback, or an address to listen on
        _record(f"getaddrinfo {host!r}"); raise socket.gaierror(-3, "name resolution blocked by the test guard")
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = _connect, _connect_ex, _getaddrinfo
'''

def guard_env(folder, allow_loopback=False):
    "(environment, log path) for subprocesses in which network connections fail and are logged (loopback allowed if asked)."
    d = Path(folder)/'guard'; d.mkdir(exist_ok=True); (d/'sitecustomize.py').write_text(GUARD)
    log = Path(folder)/'net.log'
    env = dict(os.environ, NETGUARD_LOG=str(log), PYTHONPATH=os.pathsep.join([str(d)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    if allow_loopback: env['NETGUARD_ALLOW_LOOPBACK'] = '1'
    env.pop('TOTALSEG_WEIGHTS_PATH', None)
    return env, log
