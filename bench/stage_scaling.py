"""How each stage's time and peak memory grow with the cohort: the realistic generator (segmenter-like masks, `existing` backend, the
product's defaults) at several sizes, the whole pipeline through the CLI's own runner, one size after the other in one run.

Per stage and size it prints the wall seconds, the seconds per case, and the peak resident memory of this process plus every
process under it (the stage kernels, their workers), sampled every 0.2 s while the stage runs, with the memory per case above
the smallest size's peak. Then, per stage, the ratio of seconds per case at the largest size to the smallest: at most about 1
means the stage grows no faster than the cohort. Goal (issue 24): every stage at most linear from 50 to 400 patients.

Usage: python bench/stage_scaling.py [OUT_DIR] [--sizes 50,100,200,400]
"""
import argparse, threading, time
from pathlib import Path
import psutil

class PeakMemory:
    "The peak summed RSS (MB) of this process and its descendants, per label, sampled in a thread."
    def __init__(self, every:float=0.2):
        self.every, self.label, self.peak, self._stop = every, None, {}, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            rss = 0
            for p in [me] + me.children(recursive=True):
                try: rss += p.memory_info().rss
                except psutil.Error: pass
            if self.label: self.peak[self.label] = max(self.peak.get(self.label, 0), rss/2**20)
            self._stop.wait(self.every)
    def __enter__(self): self._t.start(); return self
    def __exit__(self, *a): self._stop.set(); self._t.join()

def one_size(out:Path, n:int, mem:PeakMemory) -> dict:
    "Generate a cohort of `n` patients and run every stage; stage -> (seconds, peak MB)."
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls.synth import make_realistic_cohort, demo_config, RealisticParams
    from ct_mask_cls.runner import run_pipeline
    data = out/'data'/f'n{n}'
    if not (data/'cohort.json').exists(): make_realistic_cohort(data, n=n, seed=0, test_frac=0.4, params=RealisticParams())
    cfg = config_from_dict(demo_config(data, out/'runs', f'n{n}', kind='realistic'))
    def echo(msg:str):
        if msg.startswith('[') and '…' in msg: mem.label = (n, msg[1:msg.index(']')])      # "[stage] …": the stage starts
    recs = run_pipeline(cfg, force=True, echo=echo)
    mem.label = None
    return {r['stage']: (r['seconds'], mem.peak.get((n, r['stage']), float('nan'))) for r in recs}

def table(res:dict, sizes:list):
    "Print stage by size, the seconds-per-case ratio of the largest size to the smallest, and the MB per added case."
    lo, hi = sizes[0], sizes[-1]
    print(f"\n{'stage':10s}" + ''.join(f"{'n=' + str(n):>22s}" for n in sizes) + f"{'s/case ratio ' + str(hi) + '/' + str(lo):>24s}{'MB per case':>14s}")
    for s in res[lo]:
        cells = ''.join(f"{res[n][s][0]:9.0f} s {res[n][s][1]:7.0f} MB " for n in sizes)
        ratio = (res[hi][s][0]/hi)/(res[lo][s][0]/lo) if res[lo][s][0] else float('nan')
        per_case = (res[hi][s][1] - res[lo][s][1])/(hi - lo) if hi > lo else float('nan')
        print(f"{s:10s}{cells}{ratio:24.2f}{per_case:14.2f}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out', nargs='?', default='outputs/bench_stage_scaling'); ap.add_argument('--sizes', default='50,100,200,400')
    a = ap.parse_args()
    out, sizes, t0 = Path(a.out).resolve(), [int(s) for s in a.sizes.split(',')], time.time()
    res = {}
    with PeakMemory() as mem:
        for n in sizes:
            res[n] = one_size(out, n, mem)
            print(f"n={n}: " + ', '.join(f"{s} {sec:.0f} s / {mb:.0f} MB" for s, (sec, mb) in res[n].items()), flush=True)
    table(res, sizes)
    print(f"\nwall time {(time.time() - t0)/60:.1f} min (sizes {a.sizes})")

if __name__ == '__main__':
    main()
