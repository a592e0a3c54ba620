"""The test suite on one process against two (pytest-xdist, `--dist loadfile`, as `make test` runs it), in this one run.

By default the fast tests (`-m "not slow"`, what `make test-fast` runs, about 1.5 minutes both ways); `--full` the whole
suite (about an hour both ways on 2 cores). Each setting runs `--repeats` times, alternating, and each run must pass.
Prints the wall times and the ratio two processes / one (best of each). The first run of a session can be slower
(caches warming), which is why the settings alternate and the best is compared.
Usage: python bench/test_suite.py [--full] [--repeats 2] [--workers 2]
"""
import argparse, os, re, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def run(workers:int, full:bool) -> tuple[float, str]:
    "(seconds, pytest's summary line) of one run of the suite on `workers` processes (1: no xdist)."
    cmd = [sys.executable, '-m', 'pytest', 'tests', '-q', '-p', 'no:cacheprovider', '--durations=0', '--durations-min=1e9']
    if not full: cmd += ['-m', 'not slow']
    if workers > 1: cmd += ['-n', str(workers), '--dist', 'loadfile']
    t = time.time(); r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, MPLBACKEND='Agg'))
    dt = time.time() - t
    summary = [l for l in r.stdout.splitlines() if re.search(r'\d+ passed.* in [\d.]+s', l)]
    if r.returncode != 0: sys.exit(f"pytest on {workers} process(es) failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    return dt, summary[-1].strip('= ') if summary else ''

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--full', action='store_true')
    ap.add_argument('--repeats', type=int, default=2); ap.add_argument('--workers', type=int, default=2)
    a = ap.parse_args()
    print(f"{'whole suite' if a.full else 'fast tests (not slow)'}, {os.cpu_count()} CPUs, {a.repeats} runs each, alternating")
    t = {1: [], a.workers: []}
    for _ in range(a.repeats):
        for w in (1, a.workers):
            dt, s = run(w, a.full); t[w].append(dt)
            print(f"  {w} process{'es' if w > 1 else ''}: {dt:6.1f} s  ({s})", flush=True)
    one, many = min(t[1]), min(t[a.workers])
    print(f"best of each: 1 process {one:.1f} s, {a.workers} processes {many:.1f} s -> ratio {many/one:.2f}")

if __name__ == '__main__': main()
