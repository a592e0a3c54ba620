"""numpy's BLAS threads inside `pmap`'s workers: one each (`executor.BLAS_THREADS_PER_WORKER = 1`, the default) against the
library's own count (one per core in every worker), in one run on this machine.

On the realistic cohort (segmenter-like masks, the defaults) it times what runs in `pmap`'s pools: writing the cohort (a process
per core), and the per-case stages preprocess, segment (`existing` masks) and mask (a thread per `preprocess.workers`), each
forced, in this process; then the study's radiomics of the ROI and of the body (a process per worker). Each setting runs twice,
alternating, and the shorter of its two times is kept. The outputs of both settings are compared: the same files, byte for byte
(tables once the folder of each setting's run is named alike; the records' times aside).

Usage: python bench/blas_threads.py [OUT_DIR] [--cases 60]
"""
import argparse, filecmp, shutil, time
from pathlib import Path

def run_all(out:Path, n:int) -> dict:
    "Seconds of each step, with the executor's BLAS setting as it is now."
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls.synth import make_realistic_cohort, demo_config
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
    from ct_mask_cls.study_stage import baseline_features
    shutil.rmtree(out, ignore_errors=True)
    t = {}
    t0 = time.time(); make_realistic_cohort(out/'data', n=n, seed=0, progress=False); t['cohort'] = time.time() - t0
    cfg = config_from_dict(demo_config(out/'data', out/'runs', 'run', kind='realistic'))
    for name, fn in (('preprocess', stage_preprocess), ('segment', stage_segment), ('mask', stage_mask)):
        t0 = time.time(); fn(cfg, progress=False, force=True); t[name] = time.time() - t0
    for region in ('roi', 'body'):
        for f in (cfg.run_dir/'study').glob(f'baseline_{region}*'): f.unlink()
        t0 = time.time(); baseline_features(cfg, cfg.run_dir, region, progress=False); t[f'radiomics ({region})'] = time.time() - t0
    return t

def same_files(a:Path, b:Path, sub:str) -> bool:
    "Every file under a/sub equal to its twin under b/sub: bytes, and tables once each run's folder is named alike."
    fa = sorted(p.relative_to(a) for p in (a/sub).rglob('*') if p.is_file() and p.suffix != '.json')   # records: times
    fb = sorted(p.relative_to(b) for p in (b/sub).rglob('*') if p.is_file() and p.suffix != '.json')
    same = lambda p: ((a/p).read_text().replace(str(a), str(b)) == (b/p).read_text() if p.suffix == '.csv'
                      else filecmp.cmp(a/p, b/p, shallow=False))
    return fa == fb and all(same(p) for p in fa)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out', nargs='?', default='outputs/bench_blas_threads'); ap.add_argument('--cases', type=int, default=60)
    a = ap.parse_args()
    from ct_mask_cls import executor
    out, best = Path(a.out).resolve(), {}
    for rep in range(2):
        for cap in (None, 1):
            executor.BLAS_THREADS_PER_WORKER = cap
            t = run_all(out/str(cap), a.cases)
            best[cap] = {k: min(v, best.get(cap, {}).get(k, v)) for k, v in t.items()}
    same = all(same_files(out/'None', out/'1', s) for s in ('data', 'runs/run/preprocess', 'runs/run/segment',
                                                               'runs/run/mask', 'runs/run/study'))
    print(f"{a.cases} patients; seconds (the shorter of two runs), BLAS threads per worker as the library sets them against 1:")
    for k in best[None]:
        print(f"  {k:18s} {best[None][k]:7.1f} s {best[1][k]:7.1f} s   ratio {best[1][k]/best[None][k]:.2f}")
    tot = {c: sum(best[c].values()) for c in best}
    print(f"  {'all':18s} {tot[None]:7.1f} s {tot[1]:7.1f} s   ratio {tot[1]/tot[None]:.2f}")
    print(f"the same outputs (cohort, preprocessed CT, masks, masked views, radiomics; tables up to the run's folder): {same}")

if __name__ == '__main__': main()
