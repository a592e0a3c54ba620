"""The install of `make install`, with the pip a new venv brings against the pip the Makefile now installs first, in one run.

Two fresh venvs in a temporary folder, one after the other: each installs torch (from this machine's wheel cache) and then this
project with its dev extras, as the Makefile does (`--no-compile`; the Makefile's compileall is the same for both and not timed).
Prints each step's seconds and the ratio of the totals. Needs the network (PyPI), like `make install`.

Usage: python bench/install.py [--pip 26.3]
"""
import argparse, subprocess, tempfile, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
Q = ['-q', '--disable-pip-version-check']

def timed(cmd) -> float:
    t = time.time(); subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.time() - t

def install(where: Path, pip: str) -> tuple[str, dict]:
    "The pip version and the seconds of each step of the install into a new venv at `where`, with `pip` ('' = the venv's)."
    venv.create(where, with_pip=True)
    py = str(where/'bin'/'python')
    out = {'pip upgrade': timed([py, '-m', 'pip', 'install', *Q, f'pip=={pip}']) if pip else 0.0}
    out['torch'] = timed([py, '-m', 'pip', 'install', *Q, '--no-compile', 'torch==2.14.1', 'torchvision==0.29.1'])
    out['.[dev]'] = timed([py, '-m', 'pip', 'install', *Q, '--no-compile', '-e', '.[dev]'])
    return subprocess.run([py, '-m', 'pip', '--version'], capture_output=True, text=True).stdout.split()[1], out

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--pip', default='26.3'); a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        old, new = install(Path(t)/'old', ''), install(Path(t)/'new', a.pip)
    for name, (version, r) in (('as the venv comes', old), (f'pip {a.pip} first', new)):
        steps = ', '.join(f'{k} {v:.1f} s' for k, v in r.items())
        print(f"{name} (pip {version}): {steps}; total {sum(r.values()):.1f} s")
    print(f"ratio of the totals, pip {a.pip} first against as the venv comes: "
          f"{sum(new[1].values())/sum(old[1].values()):.2f}")

if __name__ == '__main__': main()
