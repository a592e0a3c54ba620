"""A training step of the product against what the hardware allows, per mode, all in this one run on this machine.

Each epoch, alternating:
- the product's training pass: `train_epoch` over the product's loader (`_loader`: shuffled batches made in its thread, the
  CT augmentation per batch in its `collate`), with the model, optimiser and loss of `training_objects`. This is the part of
  an epoch that `fit` times in history.csv's `seconds` (the validation pass comes after it and is not in `seconds`);
- the bare loop: a fresh model of the same kind trained on preloaded tensors, the same number of batches of the same sizes
  (the loader's last short batch included), same optimiser and loss;
- the product's training pass with augmentation off (the loader alone), to show what the augmentation costs.
The validation pass (`val_pass`) is timed too, for reference. Ratios are medians over epochs 2..N.

Usage: python bench/train_profile.py RUN_DIR [--modes zero,pool,none] [--epochs 6]
(RUN_DIR: a run whose mask stage has finished, e.g. outputs/demo-realistic after `make demo`.)
"""
import argparse, time
from pathlib import Path
import numpy as np, torch

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('--modes', default='zero,pool,none')
    ap.add_argument('--epochs', type=int, default=6)
    a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.mask_stage import read_manifest, spec_for
    from ct_mask_cls.data import make_dataset, records
    from ct_mask_cls import train as trn
    run = Path(a.run).resolve(); lay = RunLayout(run)
    cfg = load_config(lay.run_config())
    man, _ = read_manifest(run)
    tr, va = records(man, 'train'), records(man, 'val')
    ytr, yva = np.array([r['label'] for r in tr]), np.array([r['label'] for r in va])
    bs = cfg.train.batch_size
    print(f"run {run}: {len(tr)} training and {len(va)} validation cases, model {cfg.train.model}, batch {bs}, "
          f"{torch.get_num_threads()} threads, torch CPU kernels {torch.backends.cpu.get_cpu_capability()}")
    for mode in a.modes.split(','):
        spec = spec_for(cfg, run, mode)
        ds = make_dataset(tr, spec, lay.cache, augment=cfg.train.augment, seed=0)
        ds_off = make_dataset(tr, spec, lay.cache, augment='off', seed=0)
        ds_va = make_dataset(va, spec, lay.cache)
        for d in (ds, ds_va):
            for i in range(len(d)): d[i]                                       # the cache filled and held in memory
        batches = [(b['image'], b['label']) for b in trn._loader(ds, cfg, 0)]  # the loader's batches, sizes and all
        torch.manual_seed(0)
        model, net, opt, _, loss_fn, scaler = trn.training_objects(cfg, spec, ytr, 'cpu')
        torch.manual_seed(0)
        bmodel, _, bopt, _, bloss, _ = trn.training_objects(cfg, spec, ytr, 'cpu')
        t = {'product': [], 'bare': [], 'no augmentation': [], 'validation': []}
        for ep in range(a.epochs):
            ds.reseed(ep)
            t0 = time.perf_counter(); trn.train_epoch(net, trn._loader(ds, cfg, ep), opt, scaler, loss_fn, 'cpu')
            t['product'].append(time.perf_counter() - t0)
            bmodel.train(); t0 = time.perf_counter()
            for x, y in batches:
                loss = bloss(bmodel(x).float(), y)
                bopt.zero_grad(); loss.backward(); bopt.step()
            t['bare'].append(time.perf_counter() - t0)
            t0 = time.perf_counter(); trn.train_epoch(net, trn._loader(ds_off, cfg, ep), opt, scaler, loss_fn, 'cpu')
            t['no augmentation'].append(time.perf_counter() - t0)
            t0 = time.perf_counter(); trn.val_pass(model, ds_va, yva, bs, 'cpu')
            t['validation'].append(time.perf_counter() - t0)
        m = {k: float(np.median(v[1:])) for k, v in t.items()}
        r = np.array(t['product'][1:])/np.array(t['bare'][1:])
        print(f"{mode:6s} input {tuple(batches[0][0].shape[1:])}, {len(batches)} batches: training pass {m['product']:.2f} s, "
              f"bare loop {m['bare']:.2f} s -> step ratio {m['product']/m['bare']:.2f} (per epoch {r.min():.2f}-{r.max():.2f}); "
              f"without augmentation {m['no augmentation']:.2f} s -> {m['no augmentation']/m['bare']:.2f}; "
              f"validation pass {m['validation']:.2f} s")

if __name__ == '__main__': main()
