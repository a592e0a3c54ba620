"""Where a study's training time goes, against what the hardware allows: per mode, one epoch of the product's `fit` against a bare
PyTorch loop of the same model on preloaded tensors of the same shape (same batches, same steps), and the pieces of an epoch
(data with augmentation, forward/backward, validation). All measured in this one run, on this machine. An epoch of `fit` also runs
the validation pass, so the second ratio compares it with the bare loop plus a bare validation forward of the same size.

Usage: python bench/train_profile.py RUN_DIR [--modes zero,none] [--epochs 3]
(RUN_DIR: a run whose mask stage has finished, e.g. outputs/demo-realistic after `make demo`.)
"""
import argparse, tempfile, time
from pathlib import Path
import pandas as pd, torch

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('--modes', default='zero,none'); ap.add_argument('--epochs', type=int, default=3)
    a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.mask_stage import read_manifest, spec_for
    from ct_mask_cls.data import make_dataset, records
    from ct_mask_cls import train as trn
    run = Path(a.run).resolve(); lay = RunLayout(run)
    cfg = load_config(lay.run_config())
    man, _ = read_manifest(run)
    tr, va = records(man, 'train'), records(man, 'val')
    print(f"run {run}: {len(tr)} training and {len(va)} validation cases, model {cfg.train.model}, batch {cfg.train.batch_size}, {torch.get_num_threads()} threads")
    for mode in a.modes.split(','):
        spec = spec_for(cfg, run, mode)
        ds = make_dataset(tr, spec, lay.cache, augment=cfg.train.augment, seed=0)
        for i in range(len(ds)): ds[i]                                          # the cache filled and held in memory
        bs = cfg.train.batch_size                                               # augmented per batch, as the loader does
        t0 = time.time()
        batches = [ds.collate([ds[i] for i in range(k, min(k + bs, len(ds)))]) for k in range(0, len(ds), bs)]
        t_data = time.time() - t0
        with tempfile.TemporaryDirectory() as tmp:
            c = load_config(lay.run_config())
            c.train.epochs, c.train.patience = a.epochs, 100
            trn.fit(c, man, spec, tmp, lay.cache, progress=False, force=True)
            hist = pd.read_csv(Path(tmp)/'history.csv')
        epoch = float(hist.seconds.iloc[1:].median())
        x = torch.cat([b['image'] for b in batches]); y = torch.cat([b['label'] for b in batches])
        model = trn.model_for(cfg, spec)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        steps = len(x)//bs
        bare, val = [], []
        for ep in range(a.epochs):                                             # as many passes as fit's epochs; the median of 2..N
            model.train()
            t0 = time.time()
            for k in range(steps):
                xb, yb = x[k*bs:(k + 1)*bs], y[k*bs:(k + 1)*bs]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
                opt.zero_grad(); loss.backward(); opt.step()
            bare.append(time.time() - t0)
            model.eval(); t0 = time.time()
            with torch.no_grad():
                for k in range(0, len(va), bs): model(x[:min(bs, len(va) - k)])
            val.append(time.time() - t0)
        t_bare, t_val = float(pd.Series(bare[1:]).median()), float(pd.Series(val[1:]).median())
        print(f"{mode:6s} input {tuple(x.shape[1:])}: fit epoch {epoch:.2f} s (median of epochs 2-{a.epochs}); bare loop {t_bare:.2f} s for the same {steps} steps"
              f" -> ratio {epoch/t_bare:.2f}; with the bare validation forward too (an epoch's same work) {t_bare + t_val:.2f} s -> ratio {epoch/(t_bare + t_val):.2f};"
              f" pieces: data with augmentation {t_data:.2f} s, validation forward {t_val:.2f} s; data wait {hist.data_wait_frac.iloc[1:].median():.0%}")

if __name__ == '__main__': main()
