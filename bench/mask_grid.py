"""The grid behind the mask defaults: each kind of finding, with segmenter-like (or true) masks, under each mask setting.

For every kind of finding a realistic cohort is generated once (N patients, 40% in test, seed 0) and taken through preprocess and
segment once; each variant (a set of `mask.*` and `train.*` settings) then gets its own mask stage and trains one model of its mode,
and the test AUC with its 95% CI is printed per kind and variant, with the mean over kinds. Everything runs in this process through
the library's stage functions (no notebooks), so that the grid fits in an evening on 2 cores.

Usage: python bench/mask_grid.py OUT [--cases 100] [--kinds hypodense,hyperdense,diffuse,enlargement] [--masks segmenter|truth]
                                 [--variants NAME,...] [--epochs 30]
"""
import argparse, json, shutil, time
from pathlib import Path
import pandas as pd

VARIANTS = {   # name -> (mode, mask settings, train settings); everything else is the product's defaults
    'zero': ('zero', {}, {}),
    'zero seed1': ('zero', {}, dict(seed=1)),
    'zero long': ('zero', {}, dict(epochs=60, patience=20)),
    'zero lr3e-3': ('zero', {}, dict(lr=3e-3)),
    'zero long lr3e-3': ('zero', {}, dict(epochs=60, patience=20, lr=3e-3)),
    'zero before-peel': ('zero', dict(peel_mm=0.0, rim_blob_mm=7.5), {}),          # the defaults before a loose boundary was peeled
    'zero before-peel seed1': ('zero', dict(peel_mm=0.0, rim_blob_mm=7.5), dict(seed=1)),
    'zero rim-blob7.5': ('zero', dict(rim_blob_mm=7.5), {}),
    'zero rim-blob7.5 seed1': ('zero', dict(rim_blob_mm=7.5), dict(seed=1)),
    'zero no-peel': ('zero', dict(peel_mm=0.0), {}),
    'zero no-peel seed1': ('zero', dict(peel_mm=0.0), dict(seed=1)),
    'zero no-repair': ('zero', dict(repair=False), {}),
    'zero no-rim': ('zero', dict(rim_mm=0.0), {}),
    'zero erode6 no-rim': ('zero', dict(rim_mm=0.0, roi_margin_mm=-6.0), {}),
    'zero no-grow': ('zero', dict(grow_mm=0.0), {}),
    'zero max-pool': ('zero', {}, dict(pool_top=0.0)),
    'zero top0.3%': ('zero', {}, dict(pool_top=0.003)),
    'zero floor-fill': ('zero', dict(fill=None), {}),
    'zero old-defaults': ('zero', dict(repair=False, roi_margin_mm=-6.0, rim_mm=0.0), {}),
    'pool': ('pool', {}, {}),
    'pool erode6': ('pool', dict(roi_margin_mm=-6.0), {}),
    'pool seed1': ('pool', {}, dict(seed=1)),
    'pool no-peel': ('pool', dict(peel_mm=0.0), {}),                                # does the peel move pool (its input is the box, its pooling the ROI)?
    'channel': ('channel', {}, {}),
    'crop': ('crop', {}, {}),
    'none': ('none', {}, {}),
}

def cohort(out: Path, kind: str, n: int, masks: str):
    "A generated cohort of `kind` and a run folder through preprocess and segment; (config dict, run folder)."
    from ct_mask_cls.synth import make_realistic_cohort, demo_config, RealisticParams
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment
    data = out/'data'/f'{kind}-n{n}'
    if not (data/'cohort.json').exists(): make_realistic_cohort(data, n=n, seed=0, test_frac=0.4, params=RealisticParams(finding=kind))
    base = demo_config(data, out/'runs', f'{kind}-{masks}-base', kind='realistic', masks=masks)
    base['xai'] = dict(n_cases=0, sanity_cases=0)
    cfg = config_from_dict(base)
    if not (cfg.run_dir/'segment'/'segments.csv').exists():
        stage_preprocess(cfg, progress=False)
        stage_segment(cfg, progress=False)
    return base, cfg.run_dir

def run_variant(base: dict, base_run: Path, name: str, epochs: int) -> dict:
    "Mask stage and one model for variant `name` in its own run folder (preprocess and segment copied from the base run)."
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls.pipeline import stage_mask
    from ct_mask_cls.train_stage import train_mode
    mode, mask, train = VARIANTS[name]
    d = json.loads(json.dumps(base))
    d['run_id'] = base['run_id'].replace('-base', '-' + ''.join(c if c.isalnum() else '_' for c in name))
    d['mask'] = dict(d.get('mask', {}), mode=mode, **mask)
    d['train'] = dict(dict(epochs=epochs), **train)
    cfg = config_from_dict(d)
    for s in ('preprocess', 'segment'):
        if not (cfg.run_dir/s).exists(): shutil.copytree(base_run/s, cfg.run_dir/s, symlinks=True)
    t0 = time.time()
    stage_mask(cfg, progress=False)
    m = train_mode(cfg, cfg.run_dir, mode, 0, progress=False)
    return dict(variant=name, mode=mode, auc=m['auc'], ci_low=m['auc_ci_low'], ci_high=m['auc_ci_high'], seconds=round(time.time() - t0))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out'); ap.add_argument('--cases', type=int, default=100); ap.add_argument('--masks', default='segmenter')
    ap.add_argument('--kinds', default='hypodense,hyperdense,diffuse,enlargement'); ap.add_argument('--variants', default=','.join(VARIANTS))
    ap.add_argument('--epochs', type=int, default=30)
    a = ap.parse_args()
    out = Path(a.out).resolve()
    res_csv = out/f'grid-{a.masks}.csv'
    done = pd.read_csv(res_csv) if res_csv.exists() else pd.DataFrame(columns=['kind', 'variant'])
    for kind in a.kinds.split(','):
        base, base_run = cohort(out, kind, a.cases, a.masks)
        for name in a.variants.split(','):
            if ((done.kind == kind) & (done.variant == name)).any(): continue
            r = dict(kind=kind, masks=a.masks, **run_variant(base, base_run, name, a.epochs))
            print(f"{kind:12s} {name:28s} AUC {r['auc']:.3f} ({r['ci_low']:.3f}-{r['ci_high']:.3f})  {r['seconds']} s", flush=True)
            done = pd.concat([done, pd.DataFrame([r])], ignore_index=True)
            done.to_csv(res_csv, index=False)
    t = done.pivot_table(index='variant', columns='kind', values='auc')
    t['mean'] = t.mean(axis=1)
    print(f"\ntest AUC by variant and kind of finding ({a.masks} masks, {a.cases} patients, 40% in test):")
    print(t.sort_values('mean', ascending=False).round(3).to_string())

if __name__ == '__main__': main()
