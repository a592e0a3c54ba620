"""Scale-out ratios, measured in one run on this machine:

1. cases per minute for preprocess + segment (TotalSegmentator's real code on stand-in weights) with a 2-worker Dask cluster against a 1-worker one;
2. TotalSegmentator per case on the small real CT (data/reference/example_ct_sm.nii.gz): a fresh `totalsegmentator()` per case against the
   predictor kept loaded in the process (segment.reuse_model), and whether both give the same voxels.

Goals (the scale-out issue): 2 workers ≥ 1.7× one worker; reuse ≥ 3× faster per case. Usage: python bench/scale.py [--cases 24] [--kind realistic|chest]
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tests'))
from standin_nnunet import make_standin_weights                 # test scaffolding: small nnU-Net weights of TotalSegmentator's layout
import numpy as np

CALLS = r'''
import sys, time, json, numpy as np, nibabel as nib
from ct_mask_cls.core import SegmentConfig
from ct_mask_cls.segment import segment
home, ct, out, reuse, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1', int(sys.argv[5])
cfg = SegmentConfig(backend='totalsegmentator', weights_dir=home, device='cpu', threads=1, reuse_model=reuse)
times = []
for i in range(n):
    t = time.time(); segment(ct, f'{out}_{i}.nii.gz', cfg, ['liver']); times.append(time.time() - t)
print(json.dumps(times))
'''

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--cases', type=int, default=24); ap.add_argument('--calls', type=int, default=3)
    ap.add_argument('--kind', default='realistic', choices=['realistic', 'chest'], help="cohort: realistic (the real CT's anatomy) or chest (small synthetic phantoms)")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        d = Path(d); home = d/'home'; make_standin_weights(home/'nnunet'/'results')
        ct = ROOT/'ct_mask_cls'/'reference'/'example_ct_sm.nii.gz'
        if not ct.exists(): ct = ROOT/'data'/'reference'/'example_ct_sm.nii.gz'
        res = {}
        for reuse in (0, 1):
            r = subprocess.run([sys.executable, '-c', CALLS, str(home), str(ct), str(d/f'm{reuse}'), str(reuse), str(a.calls)], capture_output=True, text=True)
            if r.returncode: sys.exit(r.stderr[-3000:])
            res[reuse] = json.loads(r.stdout.strip().splitlines()[-1])
        import nibabel as nib
        same = all((np.asarray(nib.load(str(d/f'm0_{i}.nii.gz')).dataobj) == np.asarray(nib.load(str(d/f'm1_{i}.nii.gz')).dataobj)).all() for i in range(a.calls))
        fresh, reused = float(np.mean(res[0])), float(np.mean(res[1][1:]))

        from ct_mask_cls.core import config_from_dict, close_dask_clients
        from ct_mask_cls.synth import make_demo_cohort, make_realistic_cohort, demo_config
        from ct_mask_cls.pipeline import stage_preprocess, stage_segment
        if a.kind == 'realistic': make_realistic_cohort(d/'data', n=a.cases, seed=0, progress=False)
        else: make_demo_cohort(d/'data', n=a.cases, seed=0, progress=False)
        rate = {}
        import logging
        from distributed import LocalCluster
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host='127.0.0.1', dashboard_address=None, silence_logs=logging.ERROR) as cl:
                times = []
                for run in ('cold', 'warm'):              # cold: the workers import torch and MONAI and load the model on their first cases; warm: a second cohort run on the same workers
                    cfg = demo_config(d/'data', d/'runs', f'w{n}{run}', kind=a.kind)
                    cfg['segment'] = dict(backend='totalsegmentator', weights_dir=str(home), device='cpu', threads=1)
                    cfg['executor'] = dict(kind='dask', address=cl.scheduler_address)     # one cluster for both stages, as `ct-mask-cls run` does
                    c = config_from_dict(cfg)
                    t = time.time(); stage_preprocess(c, progress=False); tp = time.time() - t
                    t = time.time(); stage_segment(c, progress=False); ts = time.time() - t
                    times.append((tp, ts))
                close_dask_clients()                  # before the cluster goes
            rate[n] = times

    print(f"TotalSegmentator on the small real CT ({a.calls} cases each, stand-in weights): fresh call {fresh:.1f} s per case, "
          f"predictor kept {reused:.1f} s per case after the first ({res[1][0]:.1f} s): reuse {fresh/reused:.1f}× faster (goal ≥ 3×); same voxels: {same}")
    cpm = lambda tp, ts=0.: a.cases/(tp + ts)*60
    for n in (1, 2):
        for (tp, ts), run in zip(rate[n], ('cold', 'warm')):
            print(f"{n} Dask worker{'s' if n > 1 else ' '} ({run}): preprocess {tp:.1f} s ({cpm(tp):.1f} cases/min), segment {ts:.1f} s; preprocess + segment {cpm(tp, ts):.1f} cases/min")
    for i, run in enumerate(('cold (worker start-up included)', 'warm (steady state)')):
        (p1, s1), (p2, s2) = rate[1][i], rate[2][i]
        print(f"2 workers / 1 worker, {run}: preprocess {p1/p2:.2f}× (goal ≥ 1.7×), preprocess + segment {(p1 + s1)/(p2 + s2):.2f}×")

if __name__ == '__main__':                         # Dask's local cluster starts worker processes that import this file
    main()
