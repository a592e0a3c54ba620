"""Training data pipeline: epoch time with the on-disk cache against without it, and the share of step time spent waiting for data.

Usage: python bench/train_throughput.py [RUN_DIR]   (default: outputs/demo, made by `make demo`;
if it does not exist a 16-patient synthetic cohort is prepared in outputs/bench_train first).
Everything is measured in this one run, on this machine; the ratios are what to compare.
"""
import sys
import tempfile
import time
from pathlib import Path
import pandas as pd, yaml
from ct_mask_cls.core import load_config
from ct_mask_cls.data import make_dataset, records
from ct_mask_cls import train as trn

def prepare(run: Path):
    "A run folder with a manifest: the given one, or a fresh small synthetic one."
    if (run/'mask'/'manifest.csv').exists(): return load_config(run/'config.yaml'), run
    from ct_mask_cls.synth import make_demo_cohort, demo_config
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
    root = Path('outputs/bench_train').resolve(); make_demo_cohort(root/'data', n=16, progress=False)
    cp = root/'c.yaml'; cp.write_text(yaml.safe_dump(demo_config(root/'data', root, 'run')))
    cfg = load_config(cp)
    for f in (stage_preprocess, stage_segment, stage_mask): f(cfg, progress=False)
    (cfg.run_dir/'config.yaml').write_text(cp.read_text())
    return cfg, cfg.run_dir

def load_epoch(ds, bs=8) -> float:
    "Seconds to make an epoch's batches of `bs` (training data is augmented per batch, as the loader does)."
    t = time.time()
    for k in range(0, len(ds), bs): ds.collate([ds[i] for i in range(k, min(k + bs, len(ds)))])
    return time.time() - t

def main():
    cfg, run = prepare(Path(sys.argv[1] if len(sys.argv) > 1 else 'outputs/demo'))
    man = pd.read_csv(run/'mask'/'manifest.csv', dtype={'case_id': str, 'patient_id': str})
    from ct_mask_cls.mask_stage import spec_for
    tr = records(man, 'train'); spec = spec_for(cfg, run, cfg.mask.mode)
    print(f"run {run}: {len(tr)} training cases, input {spec.size}, model {cfg.train.model}, mode {cfg.mask.mode}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("\n1) one epoch of training data, no model")
        for aug in (False, True):
            uncached = make_dataset(tr, spec, None, augment='ct' if aug else None)
            cached = make_dataset(tr, spec, tmp/'cache', augment='ct' if aug else None)
            t_fill = load_epoch(cached)                               # the first pass writes the cache
            t_u = min(load_epoch(uncached) for _ in range(2)); t_c = min(load_epoch(cached) for _ in range(3))
            what = "load + mask + window + resize, then augment (augmentation runs after the cache)" if aug else "load + mask + window + resize (the cached part)"
            print(f"   {what}:\n     uncached {t_u:6.2f} s   cached {t_c:6.2f} s   (cache-filling pass {t_fill:.2f} s)   ratio {t_u/t_c:.1f}x")
        cfg.train.epochs, cfg.train.patience, cfg.train.resume = 4, 100, False
        res = {}
        for name, cache in (('uncached', None), ('cached', tmp/'cache2')):
            trn.fit(cfg, man, spec, tmp/name, cache, progress=False)
            h = pd.read_csv(tmp/name/'history.csv').iloc[1:]          # epoch 1 fills the cache; steady state after
            res[name] = (h.seconds.median(), h.data_wait_frac.median())
        print(f"\n2) training epochs ({cfg.train.epochs}, median of epochs 2-{cfg.train.epochs}; workers={cfg.train.workers})")
        for k, (s, w) in res.items(): print(f"   {k:<9} {s:6.2f} s/epoch   waiting for data {w:6.1%} of epoch time")
        print(f"   epoch time ratio uncached/cached: {res['uncached'][0]/res['cached'][0]:.2f}x")

if __name__ == '__main__': main()
