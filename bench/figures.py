"""The case figures of a mode's Grad-CAM maps drawn one after another against drawn in worker processes (`case_figures`,
`workers` = the run's preprocess.workers), on a finished run, all in this one run; the figures are checked to be the same.
The run's own figures are not touched (written to a temporary folder next to copies of the maps).

Usage: python bench/figures.py RUN_DIR [--mode zero] [--workers 2]
(RUN_DIR: a run whose xai stage has finished, e.g. outputs/bench_realistic/study-segmenter after bench/realistic_study.py.)
"""
import argparse, shutil, tempfile, time
from pathlib import Path
import pandas as pd

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('--mode', default='zero')
    ap.add_argument('--workers', type=int, default=0)
    a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.mask_stage import read_manifest, spec_for
    from ct_mask_cls.segment_stage import files_by_id
    from ct_mask_cls.data import records
    from ct_mask_cls.xai import case_figures, test_order
    run = Path(a.run).resolve(); lay = RunLayout(run); cfg = load_config(lay.run_config())
    man, _ = read_manifest(run)
    src = lay.path('xai', a.mode)
    df = pd.read_csv(src/'cases.csv')
    recs = test_order(records(man, 'test'), cfg.xai.n_cases)
    recs = [r for r in recs if r['case_id'] in set(df.case_id)]
    les = files_by_id(cfg, cfg.data.lesion_dir, cfg.data.truth_pattern)
    w, method = tuple(spec_for(cfg, run, a.mode).windows[0]), df.method.iloc[0]
    workers = a.workers or cfg.preprocess.workers
    times, pngs = {}, {}
    for k in (1, workers, 1, workers):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            for f in set(df.nifti): (out/f).parent.mkdir(parents=True, exist_ok=True); shutil.copy(src/f, out/f)
            t0 = time.perf_counter(); ov = case_figures(df, recs, out, a.mode, w, les, method, k)
            times.setdefault(k, []).append(time.perf_counter() - t0)
            pngs.setdefault(k, {c: (out/p).read_bytes() for c, p in ov.items()})
    same = pngs[1] == pngs[workers]
    print(f"run {run}, mode {a.mode}: {len(recs)} figures; one after another {min(times[1]):.1f} s, in {workers} processes "
          f"{min(times[workers]):.1f} s (best of 2 each) -> ratio {min(times[workers])/min(times[1]):.2f}; the same figures: {same}")

if __name__ == '__main__': main()
