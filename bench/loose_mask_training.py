"""Does training `zero` on loose masks teach it to ignore what a loose boundary lets in? On a finished run, each training
case's ROI is also made loose as a segmenter's boundary moved out leaves it after the repair: dilated by one voxel, then
peeled (`mask.peel_fat` with the run's `mask.repair_min_hu` and `mask.peel_mm`). Each epoch, every training case is
shown with its own ROI or the loose one, at random (half each). Validation and test keep their own ROIs. The model is
trained with the pipeline's own `train_model` (only the training dataset is swapped) and scored on test.

It prints, per seed, the test AUC with and without the loose variants, and the means; with --residue, also the
lesion-like volume (smoothed HU more than 30 below the organ's median, after the rim cleaning) in the training negatives'
ROIs, own and loose, by what the repair did (peeled more than 20 ml or not). Everything it writes goes to OUT_DIR; the run
is only read (its input cache gains the entries of its own ROIs, as any training would add).

Usage: python bench/loose_mask_training.py RUN_DIR OUT_DIR [--seeds 0,1,2] [--base] [--residue]
(RUN_DIR: e.g. outputs/bench_realistic/study-segmenter after bench/realistic_study.py; without --base, only the loose
variant is trained, and the run's own train/zero model stands for seed train.seed.)
"""
import argparse, time
from pathlib import Path
import numpy as np, pandas as pd

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('out')
    ap.add_argument('--seeds', default='0,1,2'); ap.add_argument('--base', action='store_true')
    ap.add_argument('--residue', action='store_true')
    a = ap.parse_args()
    import nibabel as nib, torch
    from mask_artefacts import residue   # bench/'s own measure of it (run from bench/ or with it on the path)
    from sklearn.metrics import roc_auc_score
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.io import spacing_of
    from ct_mask_cls.mask_stage import spec_for
    from ct_mask_cls import train as trn, data as dat, mask as msk
    run, out = Path(a.run).resolve(), Path(a.out).resolve()
    cfg, lay = load_config(RunLayout(run).run_config()), RunLayout(run)
    man = pd.read_csv(run/'mask'/'manifest.csv')
    spec = spec_for(cfg, run, 'zero')
    vdir = out/'loose_masks'; vdir.mkdir(parents=True, exist_ok=True)

    def loose(r) -> str:
        p = vdir/f'{r.case_id}.nii.gz'
        if not p.exists():
            img = nib.load(r.mask_path); roi = np.asarray(img.dataobj) > 0; sp = spacing_of(img.affine)
            ct = nib.load(r.ct_path).get_fdata().astype(np.float32)
            v, _ = msk.peel_fat(msk.dilate_mm(roi, sp, float(np.max(sp)) + 0.1), ct, sp, cfg.mask.repair_min_hu,
                                cfg.mask.peel_mm)
            nib.save(nib.Nifti1Image(v.astype(np.uint8), img.affine), str(p))
        return str(p)

    class Mix(torch.utils.data.Dataset):
        "Each item from `a` or `b` (the same case), at random."
        def __init__(self, a, b, seed): self.a, self.b, self.rng = a, b, np.random.default_rng(seed)
        def __len__(self): return len(self.a)
        def __getitem__(self, i): return (self.b if self.rng.random() < 0.5 else self.a)[i]
        def reseed(self, s): self.a.reseed(s); self.b.reseed(s); self.rng = np.random.default_rng(s)
        def collate(self, items): return self.a.collate(items)   # augmented per batch

    own_td = trn.training_data
    def with_loose(cfg, manifest, spec, cache_dir=None, seed=0):
        tr, va, ds_tr, ds_va = own_td(cfg, manifest, spec, cache_dir, seed)
        m2 = manifest.copy(); idx = m2.split == 'train'
        m2.loc[idx, 'mask_path'] = [loose(r) for r in m2[idx].itertuples()]
        ds_b = dat.make_dataset(dat.records(m2, 'train'), spec, out/'cache', augment=cfg.train.augment, seed=seed + 1)
        return tr, va, Mix(ds_tr, ds_b, seed), ds_va

    def test_auc(md) -> float:
        p = pd.read_csv(md/'predictions.csv') if (md/'predictions.csv').exists() else None
        if p is None:
            recs = dat.records(man, 'test'); model = trn.load_trained(cfg, spec, md)
            p = pd.DataFrame(dict(label=[r['label'] for r in recs],
                                  prob=trn.predict(model, dat.make_dataset(recs, spec, lay.cache)), split='test'))
            p.to_csv(md/'predictions.csv', index=False)
        p = p[p.split == 'test']
        return float(roc_auc_score(p.label, p.prob))

    res = {'own': {}, 'loose': {}}
    for s in [int(x) for x in a.seeds.split(',')]:
        for variant in (['own'] if a.base else []) + ['loose']:
            md, t0 = out/f'{variant}-seed{s}', time.time()
            if not (md/'best_model.pt').exists():
                trn.training_data = with_loose if variant == 'loose' else own_td
                trn.train_model(cfg, man, spec, md, lay.cache, progress=False, seed=s)
                trn.training_data = own_td
            res[variant][s] = test_auc(md)
            print(f"seed {s} {variant:5s}: test AUC {res[variant][s]:.3f} ({time.time() - t0:.0f} s)", flush=True)
        if not a.base and s == cfg.train.seed and (lay.model_dir('zero', 0)/'predictions.csv').exists():
            res['own'][s] = test_auc(lay.model_dir('zero', 0))
            print(f"seed {s} own  : test AUC {res['own'][s]:.3f} (the run's own model)")
    for k, v in res.items():
        if v: print(f"{k:5s}: mean test AUC {np.mean(list(v.values())):.3f} over seeds {sorted(v)}")
    if a.residue:
        rows = []
        for r in man[(man.split == 'train') & (man.status == 'ok') & (man.label == 0)].itertuples():
            img = nib.load(r.ct_path); ct = img.get_fdata().astype(np.float32); sp = spacing_of(img.affine)
            for name, p in (('own', r.mask_path), ('loose', loose(r))):
                dark = residue(ct, np.asarray(nib.load(p).dataobj) > 0, sp, cfg.mask)   # `zero`'s view
                rows.append(dict(peeled=r.peeled_ml > 20, roi=name, residue_ml=dark.sum()*np.prod(sp)/1000))
        print('\nlesion-like volume in training negatives (ml, mean):')
        print(pd.DataFrame(rows).groupby(['peeled', 'roi']).residue_ml.mean().round(2).to_string())

if __name__ == '__main__': main()
