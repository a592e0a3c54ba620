"""How much one seed says about a finished run: one mode's test AUC over several training seeds, on a copy of a run folder
(a robustness grid's, for example), so the run itself is left as it was.

The copy keeps the stages before training (preprocessed CTs, masks, manifest, splits) and drops `train/`, `xai/` and
`study/`; then the mode is trained with each seed as `study.seeds` would (train.seed + k), with the run's own config. Which
package trains is what Python imports: put another version's `ct_mask_cls` first on PYTHONPATH to compare codes.

Usage: python bench/run_seeds.py RUN_DIR COPY_DIR [--mode none] [--seeds 0,1,2]
"""
import argparse, dataclasses, json, shutil, time
from pathlib import Path
import pandas as pd

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('run'); ap.add_argument('copy'); ap.add_argument('--mode', default='none'); ap.add_argument('--seeds', default='0,1,2')
    a = ap.parse_args()
    from sklearn.metrics import roc_auc_score
    import ct_mask_cls
    from ct_mask_cls.core import load_config, RunLayout
    from ct_mask_cls.train_stage import train_mode
    src, dst = Path(a.run).resolve(), Path(a.copy).resolve()
    print('package', Path(ct_mask_cls.__file__).parent, flush=True)
    if not dst.exists():
        shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if Path(d) == src and n in ('train', 'xai', 'study')])
    cfg = load_config(dst/'config.yaml')
    cfg = dataclasses.replace(cfg, out_dir=str(dst.parent), run_id=dst.name)
    lay, aucs = RunLayout(cfg.run_dir), []
    for k in [int(s) for s in a.seeds.split(',')]:
        t0 = time.time()
        train_mode(cfg, cfg.run_dir, a.mode, k, progress=False)
        p = pd.read_csv(lay.model_dir(a.mode, k)/'predictions.csv').query("split == 'test'")
        fit = json.loads((lay.model_dir(a.mode, k)/'fit.json').read_text())['summary']
        aucs.append(roc_auc_score(p.label, p.prob))
        print(f"{a.mode} seed {cfg.train.seed + k}: test AUC {aucs[-1]:.3f} (model of epoch {fit['best_epoch']}, "
              f"{fit['epochs_run']} run; {time.time() - t0:.0f} s)", flush=True)
    print(f"\n{a.mode} over {len(aucs)} seeds: mean {sum(aucs)/len(aucs):.3f}, range {min(aucs):.3f} to {max(aucs):.3f}")

if __name__ == '__main__': main()
