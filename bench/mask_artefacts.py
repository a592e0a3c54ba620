"""What the segmenter-like masks do to the masked input, on a finished run of the realistic cohort (issue 21's remaining gap).

For every case with its predictions, on the CT grid: how much of the lesion the segmenter's mask and the repaired ROI hold, the
repaired ROI's Dice to the true organ, and the lesion-like volume inside the ROI that is not lesion (what `zero` shows the network,
after the rim cleaning: smoothed HU more than 30 below the organ's median, over 4 mm from any lesion), with the true labels of
those voxels. Cases are grouped by what the repair did: `grown` (a mask drawn too tight, grown back), `peeled` (a mask drawn too
loose, fat peeled off) or `other`; per group and label it prints the configured mode's mean probability, so a group that the
network scores high whatever the label shows up, and per split the AUC with each group's median probability subtracted: what
the offset between the groups costs. All measured in this one run; nothing is written.

Usage: python bench/mask_artefacts.py RUN_DIR
(RUN_DIR: a run of a cohort made by `make_realistic_cohort`, e.g. outputs/bench_realistic/study-segmenter after
bench/realistic_study.py; its data folder must hold `masks_truth/` beside `masks/`, and `lesions/`.)
"""
import argparse
from pathlib import Path
import numpy as np, pandas as pd, nibabel as nib
from scipy import ndimage as ndi
from nibabel.processing import resample_from_to
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

def on_grid(path, img):
    "A label map resampled onto `img`'s grid (nearest neighbour), as integers."
    return np.rint(resample_from_to(nib.load(str(path)), img, order=0).get_fdata()).astype(np.int32)

def residue(ct, roi, sp, mc, mode='zero', away_from=None) -> np.ndarray:
    "Lesion-like voxels in what `mode` shows of `roi`: 3³-median HU over 30 below the organ's median, over 4 mm from `away_from`."
    from ct_mask_cls import mask as msk
    from ct_mask_cls.data import clean_rim
    seen = clean_rim(ct, roi, sp, mc.rim_mm, blob_mm=mc.rim_blob_mm) if mode == 'zero' else ct
    med = float(np.median(ct[roi]))
    dark = roi & (ndi.median_filter(np.where(roi, seen, med), 3) < med - 30)
    return dark if away_from is None else dark & ~msk.dilate_mm(away_from, sp, 4.)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.io import spacing_of
    from ct_mask_cls import segment as seg
    run = Path(a.run).resolve(); lay = RunLayout(run)
    cfg = load_config(lay.run_config())
    ids = list(seg.resolve_roi(list(cfg.mask.roi)).values())
    names = seg.total_classes()
    truth_dir, les_dir = Path(cfg.data.mask_dir).parent/'masks_truth', Path(cfg.data.lesion_dir)
    man = pd.read_csv(lay.path('mask', 'manifest.csv')).query("status == 'ok'")
    mode = cfg.mask.mode
    p = pd.read_csv(lay.model_dir(mode)/'predictions.csv')[['case_id', 'prob']]
    man = man.merge(p, on='case_id')
    rows, where, depth, in_raw = [], pd.Series(dtype=float), [], []
    for r in tqdm(list(man.itertuples()), desc='cases'):
        img = nib.load(r.ct_path); ct = img.get_fdata().astype(np.float32); sp = spacing_of(img.affine)
        roi = np.asarray(nib.load(r.mask_path).dataobj) > 0
        raw = np.isin(np.asarray(nib.load(r.seg_path).dataobj), ids)
        tl = on_grid(truth_dir/f'{r.patient_id}.nii.gz', img); tru = np.isin(tl, ids)
        lf = les_dir/f'{r.patient_id}.nii.gz'
        les = on_grid(lf, img) > 0 if lf.exists() else np.zeros_like(roi)
        dark = residue(ct, roi, sp, cfg.mask, mode, away_from=les)
        where = where.add(pd.Series(tl[dark]).map(lambda i: 'unlabelled' if i == 0 else
                                                   ('organ' if i in ids else names.get(int(i), str(i)))).value_counts(),
                          fill_value=0)
        depth += list(ndi.distance_transform_edt(roi, sampling=sp)[dark]); in_raw += list(raw[dark])
        # repair_ml: what the repair added (holes, gaps, growth); peeled_ml: what it took off
        state = 'peeled' if r.peeled_ml > 20 else ('grown' if r.repair_ml > 50 else 'other')
        rows.append(dict(case_id=r.case_id, label=r.label, split=r.split, prob=r.prob, state=state,
                         raw_cov=(les & raw).sum()/les.sum() if les.any() else np.nan,
                         roi_cov=(les & roi).sum()/les.sum() if les.any() else np.nan,
                         dice=2*(roi & tru).sum()/(roi.sum() + tru.sum()),
                         dark_ml=dark.sum()*np.prod(sp)/1000))
    x = pd.DataFrame(rows)
    print(f"\n{run.name}: {len(x)} cases with predictions of `{mode}` ({', '.join(sorted(set(x.split)))})")
    print("\nlesion held (positive cases): by the segmenter's mask "
          f"{x.raw_cov.mean():.3f}, by the repaired ROI {x.roi_cov.mean():.3f}; cases under 0.9: {(x.roi_cov < 0.9).sum()}")
    g = x.groupby(['state', 'label']).agg(cases=('case_id', 'size'), mean_prob=('prob', 'mean'), dice=('dice', 'mean'),
                                          lesion_like_ml=('dark_ml', 'mean'), roi_cov=('roi_cov', 'mean'))
    print("\nby what the repair did (lesion_like_ml: lesion-like volume in the ROI that is not lesion):")
    print(g.round(3).to_string())
    print("\nAUC of the probabilities within each group:",
          ', '.join(f"{s} {roc_auc_score(d.label, d.prob):.2f} (n={len(d)})" for s, d in x.groupby('state')
                    if d.label.nunique() == 2))
    for split, d in x.groupby('split'):
        if d.label.nunique() < 2: continue
        adj = d.prob - d.groupby('state').prob.transform('median')     # label-free: the group's median off
        print(f"{split}: AUC {roc_auc_score(d.label, d.prob):.3f}; with each group's median probability subtracted "
              f"(what the offset between groups costs) {roc_auc_score(d.label, adj):.3f}")
    print("lesion-like volume against the label, all cases: AUC "
          f"{roc_auc_score(x.label, x.dark_ml):.2f}; against the network's probability in negatives: Spearman "
          f"{x[x.label == 0][['dark_ml', 'prob']].corr('spearman').iloc[0, 1]:.2f}")
    print("\nwhere the lesion-like voxels are, by the true label map (voxels):",
          ', '.join(f"{k} {int(v)}" for k, v in where.sort_values(ascending=False).head(6).items()))
    if depth:
        print(f"their depth in the ROI: median {np.median(depth):.1f} mm, {np.mean(np.array(depth) > cfg.mask.rim_mm):.0%} "
              f"deeper than the rim the cleaning reaches ({cfg.mask.rim_mm:g} mm); {np.mean(in_raw):.0%} were in the "
              "segmenter's own ROI (the rest the repair added)")

if __name__ == '__main__': main()
