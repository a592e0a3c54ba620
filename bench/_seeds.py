"""One mode trained with several seeds on a run whose stages before training are done: the loop `seed_spread.py` and
`run_seeds.py` share. Each seed is what `study.seeds` trains (train.seed + k); the kept model is 07_train's."""
import json, time
import pandas as pd

def seed_aucs(cfg, mode: str, seeds, tag: str = '', t0: float | None = None) -> list:
    "Train `mode` once per seed in `seeds` in `cfg`'s run folder; print and return each model's test AUC."
    from sklearn.metrics import roc_auc_score
    from ct_mask_cls.core import RunLayout
    from ct_mask_cls.train_stage import train_mode
    lay, aucs = RunLayout(cfg.run_dir), []
    for k in seeds:
        t1 = time.time()
        train_mode(cfg, cfg.run_dir, mode, k, progress=False)
        p = pd.read_csv(lay.model_dir(mode, k)/'predictions.csv').query("split == 'test'")
        fit = json.loads((lay.model_dir(mode, k)/'fit.json').read_text())['summary']
        aucs.append(roc_auc_score(p.label, p.prob))
        print(f"{tag}{mode} seed {cfg.train.seed + k}: test AUC {aucs[-1]:.3f} (model of epoch {fit['best_epoch']}, "
              f"{fit['epochs_run']} run; {time.time() - t1:.0f} s"
              + (f", {time.time() - t0:.0f} s so far)" if t0 else ")"), flush=True)
    return aucs
