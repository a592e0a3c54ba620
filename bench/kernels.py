"""Two fixed costs that dominated small runs, before against after, measured in one run on this machine.

1. Stage kernels: a tiny run (8 patients, 32³, tiny settings) forced through every stage three ways: with a fresh kernel started
   for each stage when it begins (`run_stage` without warm kernels: the way every stage ran first); through `run_pipeline` with a
   kernel per stage started one stage ahead, importing torch and MONAI while the stage before runs (`runner.SHARED_KERNEL =
   False`: stops 29 to 46); and through `run_pipeline` on the run's one kernel, made new before each stage (`runner.fresh_stage`,
   the default). All three execute the same notebooks to the same outputs; the ratios are of the wall time of the whole run.
2. The calibration bootstrap: 300 patient-level resamples of the calibration fit on a 50-case and a 4-case test set, with
   scikit-learn's `LogisticRegression` per resample (as before) and with `metrics.logit_fits` (all resamples at once). The
   intervals are printed side by side.

Usage: python bench/kernels.py [--repeats 2]
"""
import argparse, tempfile, time, warnings
from pathlib import Path
import numpy as np

def sklearn_calibration(y, p, n=300, seed=0):
    "The previous implementation: one scikit-learn fit per resample."
    from sklearn.linear_model import LogisticRegression
    from ct_mask_cls.metrics import _boot_indices
    lp = np.log(np.clip(p, 1e-6, 1 - 1e-6)/(1 - np.clip(p, 1e-6, 1 - 1e-6)))
    def fit(yy, xx):
        if len(set(yy)) < 2 or np.std(xx) < 1e-9: return (np.nan, np.nan)
        m = LogisticRegression(C=np.inf, max_iter=1000).fit(xx[:, None], yy)
        return (m.intercept_[0], m.coef_[0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        bs = np.array([fit(y[i], lp[i]) for i in _boot_indices(np.arange(len(y)), n, seed)])
    bs = bs[np.isfinite(bs).all(1) & (np.abs(bs) < 50).all(1)]
    return np.quantile(bs, [0.025, 0.975], axis=0)[:, 1] if len(bs) >= 20 else np.array([np.nan, np.nan])

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--repeats', type=int, default=2); a = ap.parse_args()
    from ct_mask_cls.core import config_from_dict
    from ct_mask_cls import runner
    from ct_mask_cls.runner import run_pipeline, run_stage, STAGES
    from ct_mask_cls.synth import make_demo_cohort, demo_config
    from ct_mask_cls.metrics import calibration_ci
    print("1. stage kernels (tiny run, every stage forced)")
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        make_demo_cohort(d/'data', n=8, size=32, progress=False)
        cfg = config_from_dict(demo_config(d/'data', d/'runs', 'tiny', tiny=True))
        run_pipeline(cfg, echo=lambda m: None)                                          # caches and files exist for both
        times = {'cold': [], 'warm': [], 'shared': []}
        for _ in range(a.repeats):
            t = time.time()
            for s in STAGES: run_stage(s, cfg, force=True)
            times['cold'].append(time.time() - t)
            for way, shared in (('warm', False), ('shared', True)):
                runner.SHARED_KERNEL = shared
                t = time.time(); run_pipeline(cfg, force=True, echo=lambda m: None); times[way].append(time.time() - t)
        cold, warm, shared = (np.median(times[k]) for k in ('cold', 'warm', 'shared'))
        print(f"   a kernel started per stage: {cold:6.1f} s   a kernel per stage, one ahead: {warm:6.1f} s   "
              f"one kernel for the run: {shared:6.1f} s  (median of {a.repeats})")
        print(f"   ratios: one kernel / a kernel per stage one ahead {shared/warm:.2f}, one kernel / started per stage {shared/cold:.2f}")
    print("2. calibration bootstrap, 300 resamples")
    rng = np.random.default_rng(0)
    for n in (50, 4):
        y = np.r_[np.zeros(n//2), np.ones(n - n//2)].astype(int)
        p = 1/(1 + np.exp(-(rng.normal(size=n) + (y - 0.5))))
        t = time.time(); old = sklearn_calibration(y, p); t_old = time.time() - t
        t = time.time(); new = calibration_ci(y, p, n=300); t_new = time.time() - t
        print(f"   {n:2d} cases: scikit-learn per resample {t_old:6.2f} s, slope CI {old[0]:.2f} to {old[1]:.2f}"
              f"   all at once {t_new:6.3f} s, slope CI {new['cal_slope_ci_low']:.2f} to {new['cal_slope_ci_high']:.2f}   ratio {t_new/t_old:.4f}")

if __name__ == '__main__': main()
