"""How much one seed says: the test AUC of one mask mode over several training seeds, on the realistic cohort with
segmenter-like masks and with the true masks (same patients, same splits), and the ratio of the two means (issue 21's
"at least 0.9 × the same study with truth masks", measured over seeds rather than on one).

Each seed is what `study.seeds` trains (train.seed + k); the stages before training run as in the pipeline, without the
reports. 150 patients and 3 seeds take about 18 minutes on 2 CPU cores.

Usage: python bench/seed_spread.py [OUT_DIR] [--cases N] [--seeds K] [--mode zero]
"""
import argparse, time
from pathlib import Path
from _seeds import seed_aucs

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('out', nargs='?', default='outputs/bench_seed_spread')
    ap.add_argument('--cases', type=int, default=150); ap.add_argument('--seeds', type=int, default=3)
    ap.add_argument('--mode', default='zero'); ap.add_argument('--cohort-seed', type=int, default=0)
    a = ap.parse_args()
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls.synth import make_realistic_cohort, demo_config, RealisticParams
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
    out = Path(a.out).resolve(); data = out/'data'/f'realistic-liver-n{a.cases}-s{a.cohort_seed}'
    t0 = time.time()
    if not (data/'cohort.json').exists(): make_realistic_cohort(data, n=a.cases, seed=a.cohort_seed, params=RealisticParams())
    res = {}
    for masks in ('segmenter', 'truth'):
        cfg = config_from_dict(demo_config(data, out, f'seeds-{masks}', kind='realistic', masks=masks))
        for f in (stage_preprocess, stage_segment, stage_mask): f(cfg, progress=False)
        res[masks] = seed_aucs(cfg, a.mode, range(a.seeds), f'{masks:9s} ', t0)
    m = {k: sum(v)/len(v) for k, v in res.items()}
    print(f"\n{a.mode}, {a.cases} patients, {a.seeds} seeds: mean test AUC segmenter-like {m['segmenter']:.3f} "
          f"(min {min(res['segmenter']):.3f}), true masks {m['truth']:.3f} (min {min(res['truth']):.3f}); "
          f"ratio {m['segmenter']/m['truth']:.3f} (goal ≥ 0.9); {(time.time() - t0)/60:.1f} min")

if __name__ == '__main__': main()
