"""Report page sizes at 40 and 200 patients (the chest demo cohort, every stage, short training), to show that pages grow sublinearly.

Prints each stage page's size at both cohort sizes, the ratio, and the goal (each page under 1.5 MB at 40 patients).
Usage: python bench/page_size.py [OUT_DIR] [--sizes 40 200]
"""
import argparse, time
from pathlib import Path
t0 = time.time()
ap = argparse.ArgumentParser(); ap.add_argument('out', nargs='?', default='outputs/bench_pages'); ap.add_argument('--sizes', type=int, nargs='+', default=[40, 200])
a = ap.parse_args()
from ct_mask_cls.core import config_from_dict, RunLayout
from ct_mask_cls.synth import make_demo_cohort, demo_config
from ct_mask_cls.runner import run_pipeline, STAGES

out, sizes = Path(a.out).resolve(), {}
for n in a.sizes:
    data = out/'data'/f'chest-n{n}'
    if not (data/'labels.csv').exists(): make_demo_cohort(data, n=n, seed=0, progress=False)
    d = demo_config(data, out, f'n{n}', kind='chest')
    d.update(train=dict(epochs=3, patience=3), study=dict(modes=['zero', 'none'], baseline=False), xai=dict(n_cases=-1, methods=['gradcam']))
    cfg = config_from_dict(d)
    run_pipeline(cfg, echo=lambda *_: None)
    lay = RunLayout(cfg.run_dir)
    sizes[n] = {s: lay.stage_files(s)[1].stat().st_size for s in STAGES}
lo, hi = a.sizes[0], a.sizes[-1]
print(f"\n{'page':14s} " + ' '.join(f'{n:>9d} pts' for n in a.sizes) + f"   ratio {hi}/{lo} (patients ×{hi/lo:.0f})")
for s in STAGES:
    print(f"{s:14s} " + ' '.join(f"{sizes[n][s]/1e6:9.2f} MB" for n in a.sizes) + f"   {sizes[hi][s]/sizes[lo][s]:.2f}×")
worst = max(sizes[lo].values())/1e6
print(f"\ngoal: every page under 1.5 MB at {lo} patients: {'pass' if worst < 1.5 else 'FAIL'} (largest {worst:.2f} MB); total time {(time.time()-t0)/60:.1f} min")
