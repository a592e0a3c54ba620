"""Training under torchrun on this machine's CPUs: the configured mode trained with train.nproc 1 and 2 on a finished run's manifest.

Prints, measured in one run: the wall time of each and their ratio, and how far the metrics of N = 2 differ from N = 1 (test AUC with its
95% CI, best epoch, final losses). Both train the same cases with the same seed and global batch; they differ because batch norm sees
batch_size/N cases per process and each process draws its own augmentation.
Usage: python bench/ddp.py [RUN_DIR] [--mode zero] [--epochs N]   (RUN_DIR defaults to the realistic benchmark's run)
"""
import argparse, time
from pathlib import Path
import pandas as pd

if __name__ == '__main__':                        # torchrun's processes import ct_mask_cls, not this file; kept for symmetry with the other benches
    ap = argparse.ArgumentParser(); ap.add_argument('run', nargs='?', default='outputs/bench_realistic/study')
    ap.add_argument('--mode', default='zero'); ap.add_argument('--epochs', type=int, default=0); ap.add_argument('--out', default='outputs/bench_ddp')
    a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.mask_stage import read_manifest, spec_for
    from ct_mask_cls import train as trn
    lay = RunLayout(a.run)
    if not lay.manifest_csv.exists(): raise SystemExit(f"{a.run} has no mask/manifest.csv: run bench/realistic_study.py first, or name a finished run")
    man, _ = read_manifest(a.run)
    res = {}
    for n in (1, 2):
        cfg = load_config(lay.config_yaml); cfg.train.nproc = n; cfg.train.resume = False
        if a.epochs: cfg.train.epochs = a.epochs
        spec = spec_for(cfg, a.run, a.mode); out = Path(a.out)/f'{a.mode}_n{n}'
        for f in ('checkpoint.pt', 'best_model.pt'): (out/f).unlink(missing_ok=True)
        t = time.time(); s = trn.fit(cfg, man, spec, out, lay.cache, progress=False); dt = time.time() - t
        m = trn.evaluate_model(cfg, man, spec, out, lay.cache)
        res[n] = (dt, s, m, pd.read_csv(out/'history.csv'))
    print(f"{a.mode} on {a.run}: {int((man.split == 'train').sum())} training cases, {int((man.split == 'test').sum())} test, {cfg.train.epochs} epochs at most, batch {cfg.train.batch_size}")
    for n, (dt, s, m, h) in res.items():
        print(f"N={n}: {dt:.0f} s, {s['epochs_run']} epochs (best {s['best_epoch']}; {dt/s['epochs_run']:.2f} s per epoch), test AUC {m['auc']:.3f} ({m['auc_ci_low']:.3f}-{m['auc_ci_high']:.3f}), "
              f"final train loss {h.train_loss.iloc[-1]:.3f}, val loss {h.val_loss.iloc[-1]:.3f}")
    (t1, _, m1, _), (t2, _, m2, _) = res[1], res[2]
    e1, e2 = res[1][1]['epochs_run'], res[2][1]['epochs_run']
    print(f"N=2 / N=1: wall time {t2/t1:.2f}×, per epoch {(t2/e2)/(t1/e1):.2f}× (early stopping can end the runs at different epochs); test AUC difference {m2['auc'] - m1['auc']:+.3f}")
