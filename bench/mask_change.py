"""A finished run rerun with other masks of the same patients (another segmenter, hospital masks, the truth): what is redone, what is kept.

It sets the run's `data.mask_dir` to MASK_DIR and reruns it through the CLI's own runner, in place (a run's files name their own
folder, so it works on the run itself, not a copy). It prints, measured in this one run: each stage's time and whether it was
reused; per model, whether it was trained again; the time of the rerun; and the training time of every model that was kept, as its
history recorded it when it was trained, which is what the rerun would have spent again had those models keyed on the masks
(`none` did until `data.roi_free`). The radiomics of the body, which come from the CT alone, are kept as well (not timed
here: they are part of the study stage). Then both studies' tables, before and after.

Usage: python bench/mask_change.py RUN_DIR MASK_DIR
  e.g. python bench/mask_change.py outputs/bench_realistic/study-segmenter outputs/bench_realistic/data/realistic-liver-n150-s0/masks_truth
"""
import argparse, time
from pathlib import Path
import pandas as pd

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('mask_dir')
    a = ap.parse_args()
    from ct_mask_cls.core import load_config, RunLayout, modes_in_play
    from ct_mask_cls.runner import run_pipeline
    lay = RunLayout(a.run)
    if not lay.config_yaml.exists() or not (lay.root/'study'/'study.csv').exists():
        raise SystemExit(f"{a.run} is not a finished run (config.yaml and study/study.csv): run bench/realistic_study.py first")
    if not Path(a.mask_dir).is_dir(): raise SystemExit(f"{a.mask_dir} is not a folder of masks")
    cfg = load_config(lay.config_yaml)
    modes = modes_in_play(cfg)
    model = lambda m: lay.model_dir(m)/'best_model.pt'
    stamp = {m: model(m).stat().st_mtime_ns for m in modes if model(m).exists()}
    trained_s = {m: float(pd.read_csv(lay.model_dir(m)/'history.csv').seconds.sum()) for m in stamp}
    before = pd.read_csv(lay.root/'study'/'study.csv').set_index('mode')
    old, cfg.data.mask_dir = cfg.data.mask_dir, str(Path(a.mask_dir).resolve())
    print(f"{a.run}: masks {old} -> {cfg.data.mask_dir}")
    t0 = time.time(); recs = run_pipeline(cfg, echo=lambda m: None); dt = time.time() - t0
    after = pd.read_csv(lay.root/'study'/'study.csv').set_index('mode')
    print("\nstages: " + ", ".join(f"{r['stage']} {r['seconds']:.0f} s{' (reused)' if r['reused'] else ''}" for r in recs))
    kept = [m for m in stamp if model(m).stat().st_mtime_ns == stamp[m]]
    for m in modes: print(f"  model {m:5s}: {'kept' if m in kept else 'trained again'} (trained in {trained_s.get(m, float('nan')):.0f} s when it was made)")
    saved = sum(trained_s[m] for m in kept)
    print(f"\nrerun: {dt:.0f} s; training kept: {saved:.0f} s ({', '.join(kept) or 'none'}); "
          f"the rerun takes {dt/(dt + saved):.2f}× the time it would take with those models trained again")
    cols = ['auc', 'auc_ci_low', 'auc_ci_high']
    print("\ntest AUC (95% CI), before -> after:")
    for m in after.index:
        b, c = (before.loc[m, cols].tolist() if m in before.index else [float('nan')]*3), after.loc[m, cols].tolist()
        print(f"  {m:5s} {b[0]:.3f} ({b[1]:.3f}-{b[2]:.3f}) -> {c[0]:.3f} ({c[1]:.3f}-{c[2]:.3f})")
