"""Where the study stage's time goes besides training, on a finished run, all measured in this one run on this machine:
the study's statistics with every model and map reused (the study table, the claims and their bootstraps), the bootstrap of one
test AUC with scikit-learn called per resample against `metrics.auc_ci` (the same resamples), the radiomics of each region (not
cached), the baseline's fits, and each mode's Grad-CAM maps with their figures (written to a temporary folder).
The study stage writes its own tables again (same content); nothing else of the run changes.

Usage: python bench/study_profile.py RUN_DIR [--modes zero,none]
(RUN_DIR: a run whose study stage has finished, e.g. outputs/bench_realistic/study-segmenter after bench/realistic_study.py.)
"""
import argparse, dataclasses, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd

def timed(fn):
    t0 = time.time(); out = fn()
    return time.time() - t0, out

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('--modes', default='')
    a = ap.parse_args()
    from sklearn.metrics import roc_auc_score
    from ct_mask_cls.core import load_config, RunLayout, pmap
    from ct_mask_cls.mask_stage import read_manifest, spec_for
    from ct_mask_cls.segment_stage import files_by_id
    from ct_mask_cls.study_stage import stage_study, _radiomics_job, body_mask_file
    from ct_mask_cls.metrics import auc_ci, _boot_indices
    from ct_mask_cls.baseline import fit_baseline
    from ct_mask_cls import xai
    run = Path(a.run).resolve(); lay = RunLayout(run)
    cfg = load_config(lay.run_config())
    cfg = dataclasses.replace(cfg, out_dir=str(run.parent), run_id=run.name)   # the folder given, wherever its config says
    man, _ = read_manifest(run)
    ok = man[man.status == 'ok']
    modes = a.modes.split(',') if a.modes else list(pd.read_csv(lay.path('study', 'study.csv'))['mode'])
    rows = []
    t, _ = timed(lambda: stage_study(cfg, progress=False))
    rows.append(('study statistics, every model and map reused', t))
    p = pd.read_csv(lay.model_dir(modes[0])/'predictions.csv').query("split == 'test'")
    y, s, g, n = p.label.values, p.prob.values, p.patient_id.values, cfg.train.n_bootstrap
    t_sk, ref = timed(lambda: [roc_auc_score(y[i], s[i]) for i in _boot_indices(g, n, cfg.train.seed) if len(set(y[i])) == 2])
    t_new, got = timed(lambda: auc_ci(y, s, g, n, cfg.train.seed))
    assert np.allclose(got[1:], np.quantile(ref, [0.025, 0.975]), atol=1e-12)
    rows += [(f'test AUC bootstrap ({n} resamples), scikit-learn per resample', t_sk), (f'test AUC bootstrap ({n} resamples), auc_ci', t_new)]
    for region in ('roi', 'body'):
        jobs = [(r.case_id, r.ct_path, r.mask_path if region == 'roi' else str(body_mask_file(lay, r.case_id, r.ct_path))) for r in ok.itertuples()]
        t, feats = timed(lambda: pd.DataFrame(pmap(_radiomics_job, jobs, cfg.preprocess.workers, region, False, processes=True)).set_index('case_id'))
        rows.append((f'radiomics ({region}), {len(jobs)} cases', t))
        t, _ = timed(lambda: fit_baseline(feats, man, n, cfg.train.seed))
        rows.append((f'baseline fit and test metrics ({region})', t))
    les, conf = files_by_id(cfg, cfg.data.lesion_dir, cfg.data.truth_pattern), files_by_id(cfg, cfg.data.confounder_dir, cfg.data.truth_pattern)
    x = cfg.xai
    for mode in modes:
        with tempfile.TemporaryDirectory() as tmp:
            t, df = timed(lambda: xai.explain(cfg, man, spec_for(cfg, run, mode), lay.model_dir(mode), tmp, x.n_cases, lay.cache, False, x.methods,
                                              les, conf, x.sanity_cases, x.occlusion_mm, cfg.executor))
        rows.append((f'Grad-CAM maps, figures and sanity check ({mode}, {df.case_id.nunique()} cases)', t))
    w = max(len(r[0]) for r in rows)
    print(f"run {run}: {len(ok)} cases, modes {', '.join(modes)}")
    for what, t in rows: print(f"{what:<{w}}  {t:7.1f} s")
    print(f"bootstrap of one AUC, auc_ci against scikit-learn per resample: ratio {t_new/t_sk:.3f}")

if __name__ == '__main__': main()
