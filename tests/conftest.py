import os, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def run_cli(*args, cwd=None, timeout=900, env=None):
    "Run the installed `ct-mask-cls` CLI; return the CompletedProcess."
    exe = Path(sys.executable).parent/'ct-mask-cls'
    return subprocess.run([str(exe), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)

@pytest.fixture(scope='session')
def realdata():
    p = os.environ.get('CT_MASK_CLS_REALDATA', '')
    if not p or not Path(p).is_dir(): pytest.skip('CT_MASK_CLS_REALDATA not set (real CT test data absent)')
    return Path(p)
