"""The install of `make install` three ways, in one run: pip as a new venv brings it, pip 26.3, and uv with pip's settings.

Three fresh venvs in a temporary folder, one after the other. Each installs torch (from this machine's wheel cache) and
this project with its dev extras:
- pip as the venv comes, and pip 26.3 (the Makefile's fallback): torch, then `.[dev]`, `--no-compile`, as the Makefile's
  fallback does;
- uv (the Makefile's way): `uv pip install` of both at once, through the Makefile's own `UV_AS_PIP` code, which gives uv
  pip's settings (`pip config list`). uv gets an empty cache of its own; pip keeps its cache, so pip is favoured.
The Makefile's compileall comes after, the same for all three, and is not timed.
Prints each step's seconds and the ratios of the totals. Needs the network (PyPI), like `make install`.

Usage: python bench/install.py [--pip 26.3] [--uv 0.13.9]
"""
import argparse, os, re, subprocess, tempfile, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
Q = ['-q', '--disable-pip-version-check']

def uv_as_pip() -> str:
    "The Python code of the Makefile's `UV_AS_PIP` (make's `$$` read as `$`)."
    m = re.search(r'^define UV_AS_PIP\n(.*?)^endef', (ROOT/'Makefile').read_text(), re.S | re.M)
    return m[1].replace('$$', '$')

def timed(cmd, env=None) -> float:
    t = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.time() - t

def install(where: Path, pip: str, uv: str = '') -> tuple[str, dict]:
    "(installer, seconds of each step) of the install into a new venv at `where`: `pip` ('' = the venv's), or `uv`."
    venv.create(where, with_pip=True)
    py = str(where/'bin'/'python')
    out = {'pip upgrade': timed([py, '-m', 'pip', 'install', *Q, f'pip=={pip}']) if pip else 0.0}
    if uv:
        out['uv'] = timed([py, '-m', 'pip', 'install', *Q, f'uv=={uv}'])
        env = dict(os.environ, UV_CACHE_DIR=str(where/'uv-cache'))
        out['torch and .[dev]'] = timed([py, '-c', uv_as_pip(), '-q', 'torch==2.14.1', 'torchvision==0.29.1',
                                         '-e', '.[dev]'], env)
        return f'uv {uv}', out
    out['torch'] = timed([py, '-m', 'pip', 'install', *Q, '--no-compile', 'torch==2.14.1', 'torchvision==0.29.1'])
    out['.[dev]'] = timed([py, '-m', 'pip', 'install', *Q, '--no-compile', '-e', '.[dev]'])
    return 'pip ' + subprocess.run([py, '-m', 'pip', '--version'], capture_output=True, text=True).stdout.split()[1], out

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--pip', default='26.3'); ap.add_argument('--uv', default='0.13.9')
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        runs = [install(Path(t)/'old', ''), install(Path(t)/'new', a.pip), install(Path(t)/'uv', a.pip, a.uv)]
    for name, r in runs:
        print(f"{name}: {', '.join(f'{k} {v:.1f} s' for k, v in r.items())}; total {sum(r.values()):.1f} s")
    tot = [sum(r.values()) for _, r in runs]
    print(f"ratio of the totals, {runs[1][0]} against {runs[0][0]}: {tot[1]/tot[0]:.2f}")
    print(f"ratio of the totals, {runs[2][0]} (the Makefile's way) against {runs[1][0]} (its fallback): {tot[2]/tot[1]:.2f}")

if __name__ == '__main__': main()
