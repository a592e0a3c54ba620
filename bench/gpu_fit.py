"""Training on CPU against GPU (mixed precision) on the same synthetic cases, in one run: epoch time ratio and test AUC.

Usage: python bench/gpu_fit.py [N_CASES] [MODEL]   (defaults 24, small3d). Needs a CUDA GPU for the GPU half.
The cases are synthetic phantoms written as NIfTI with their true lung masks (no DICOM, no segmentation),
so this measures the training loop alone.
"""
import sys, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from ct_mask_cls.core import RunConfig, save_nifti
from ct_mask_cls.mask import make_splits
from ct_mask_cls.synth import make_phantom
from ct_mask_cls import train as trn

def cohort(root: Path, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0); rows = []
    for i in range(n):
        lab = i % 2; ph = make_phantom(rng, lab, marker=bool(lab), size=48)
        aff = np.diag([ph['pixel_spacing'], ph['pixel_spacing'], ph['slice_spacing'], 1.0])
        ct, lung = np.transpose(ph['hu'], (2, 1, 0)), np.transpose(ph['lungs'], (2, 1, 0))   # (z,y,x) -> (x,y,z)
        cp, mp = root/f'c{i}.nii.gz', root/f'm{i}.nii.gz'
        save_nifti(ct, aff, cp, dtype=np.int16); save_nifti(lung.astype(np.uint8), aff, mp)
        rows.append(dict(case_id=f'C{i:03d}', patient_id=f'C{i:03d}', label=lab, ct_path=str(cp), mask_path=str(mp), status='ok'))
    df = pd.DataFrame(rows); df['split'] = make_splits(df, 0, 0.25, 0.25).values
    return df

def main(n=int(sys.argv[1]) if len(sys.argv) > 1 else 24, model=sys.argv[2] if len(sys.argv) > 2 else 'small3d'):
    print(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}" + (f" ({torch.cuda.get_device_name()})" if torch.cuda.is_available() else ''))
    with tempfile.TemporaryDirectory() as t:
        t = Path(t); man = cohort(t, n); res = {}
        for dev in (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu']):
            for mode in ('zero', 'channel'):
                cfg = RunConfig(); tc = cfg.train
                tc.model, tc.device, tc.epochs, tc.patience, tc.input_size, tc.batch_size, tc.n_bootstrap, tc.resume = model, dev, 4, 100, [64, 64, 48], 4, 200, False
                out = t/f'{dev}_{mode}'
                t0 = time.time(); trn.fit(cfg, man, mode, out, t/'cache', progress=False); wall = time.time() - t0
                m = trn.evaluate_model(cfg, man, mode, out, t/'cache'); h = pd.read_csv(out/'history.csv')
                ck = torch.load(out/'checkpoint.pt', weights_only=False, map_location='cpu')
                res[(dev, mode)] = dict(epoch_s=h.seconds.iloc[1:].median(), wait=h.data_wait_frac.iloc[1:].median(), auc=m['auc'],
                                        loss_finite=bool(np.isfinite(h.train_loss).all()), amp_scale=(ck.get('scaler') or {}).get('scale'))
                print(dev, mode, {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res[(dev, mode)].items()}, f"wall {wall:.1f} s", flush=True)
        for mode in ('zero', 'channel'):
            if ('cuda', mode) in res: print(f"{model} {mode}: epoch time cpu/gpu = {res[('cpu', mode)]['epoch_s']/res[('cuda', mode)]['epoch_s']:.1f}x")

if __name__ == '__main__': main()
