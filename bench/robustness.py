"""The study with the product's defaults on every kind of finding, with true masks and with masks as a segmenter makes them.

For each kind of finding (hypodense, hyperdense, diffuse, enlargement) one realistic cohort is generated (N patients, 40% in test,
seed 0; lesions anywhere in the organ; the reversing skin marker), and the whole pipeline runs twice through the CLI's own runner:
once on the true masks (`masks_truth/`) and once on the segmenter-like ones (`masks/`). Both run in the kind's one run folder, the
second over the first, as a user would rerun a study with other masks: the product's reuse rule keeps what the masks do not change
(the preprocessed CTs, and `none`, which reads the CT alone), so `none`'s row is the same model in both. The printed tables are the
record; the folder's pages show the last masks run. Per kind and masks it prints the best
masked mode's test AUC with its 95% CI, `none`, the ΔAUC CI of the compared mode against `none`, the radiomics baseline, and the
ratio of the best masked AUC with segmenter-like masks to the one with true masks. After each kind's last masks run it scores
the test patients again without the skin marker (`marker_free.py`): how far each mode leans on the marker. Then the acceptance
checks of the issue, one added check (none's ΔAUC without − with the marker), the wall time, and, measured but not a check, the
compared mode's ΔAUC against none on the patients without the marker: what masking adds once the confounder is gone.

Usage: python bench/robustness.py [OUT_DIR] [--cases 100] [--kinds hypodense,hyperdense,diffuse,enlargement] [--masks truth,segmenter] [--no-marker-free]
"""
import argparse, json, time
from pathlib import Path
import pandas as pd
from marker_free import marker_free, show

def study(out: Path, kind: str, n: int, masks: str) -> dict:
    "Generate (once) and run one cohort; the study table and the compared mode."
    from ct_mask_cls.core import config_from_dict, RunLayout
    from ct_mask_cls.synth import make_realistic_cohort, demo_config, RealisticParams
    from ct_mask_cls.runner import run_pipeline
    data = out/'data'/f'{kind}-n{n}'
    if not (data/'cohort.json').exists(): make_realistic_cohort(data, n=n, seed=0, test_frac=0.4, params=RealisticParams(finding=kind))
    cfg = config_from_dict(demo_config(data, out/'runs', kind, kind='realistic', masks=masks))   # one folder per kind (above)
    t0 = time.time()
    run_pipeline(cfg, echo=lambda m: None)
    lay = RunLayout(cfg.run_dir)
    st = pd.read_csv(lay.path('study', 'study.csv')).set_index('mode')
    cmp = json.loads(lay.path('study', 'compare.json').read_text())
    return dict(st=st, compared=cmp['mode'], notes=cmp.get('notes', []), seconds=time.time() - t0, run_dir=cfg.run_dir)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out', nargs='?', default='outputs/bench_robustness'); ap.add_argument('--cases', type=int, default=100)
    ap.add_argument('--kinds', default='hypodense,hyperdense,diffuse,enlargement'); ap.add_argument('--masks', default='truth,segmenter')
    ap.add_argument('--no-marker-free', action='store_true', help="skip marker_free.py's test without the marker")
    a = ap.parse_args()
    t_start, out = time.time(), Path(a.out).resolve()
    res = {}
    for kind in a.kinds.split(','):
        for masks in a.masks.split(','):
            res[kind, masks] = r = study(out, kind, a.cases, masks)
            st = r['st']
            masked = st.drop(index='none', errors='ignore')
            best = masked.auc.idxmax()
            print(f"{kind:11s} {masks:9s} best masked {best:7s} {st.loc[best, 'auc']:.3f} ({st.loc[best, 'auc_ci_low']:.3f}-{st.loc[best, 'auc_ci_high']:.3f})"
                  f"  none {st.loc['none', 'auc']:.3f}  compared {r['compared']}: ΔAUC {st.loc[r['compared'], 'delta_auc']:+.3f}"
                  f" ({st.loc[r['compared'], 'delta_ci_low']:+.3f} to {st.loc[r['compared'], 'delta_ci_high']:+.3f})"
                  f"  baseline {st.loc[best].get('baseline_auc', float('nan')):.3f}  {r['seconds']/60:.1f} min", flush=True)
            for note in r['notes']: print(f"{'':22s}{note}")
            if masks == a.masks.split(',')[-1] and not a.no_marker_free:      # the kind's run as it stands: its last masks
                r['mf'], head = marker_free(r['run_dir'], out/'marker_free'/kind)
                show(r['mf'], 'without the marker: ' + head, ' '*22)
    print("\nbest masked AUC, segmenter-like / true masks:")
    checks = []
    for kind in a.kinds.split(','):
        if (kind, 'truth') in res and (kind, 'segmenter') in res:
            s, t = res[kind, 'segmenter']['st'], res[kind, 'truth']['st']
            ratio = s.drop(index='none').auc.max()/t.drop(index='none').auc.max()
            print(f"  {kind:11s} {ratio:.2f}")
        if (kind, 'segmenter') in res:
            r = res[kind, 'segmenter']; st = r['st']
            best = st.drop(index='none').auc.idxmax(); b = st.loc[best]; c = st.loc[r['compared']]
            if kind == 'hypodense':
                checks += [(f"{kind}: best masked AUC ≥ 0.85", b.auc >= 0.85, f"{b.auc:.3f}"), (f"{kind}: its CI lower bound > 0.7", b.auc_ci_low > 0.7, f"{b.auc_ci_low:.3f}")]
                if (kind, 'truth') in res: checks.append((f"{kind}: ≥ 0.9 × the truth-mask study", ratio >= 0.9, f"{ratio:.2f}"))
            else:
                target = min(0.80, b.get('baseline_auc', 1.0) - 0.03)
                checks.append((f"{kind}: best masked AUC ≥ 0.80 (or the baseline − 0.03)", b.auc >= target, f"{b.auc:.3f} vs {target:.3f}"))
            checks += [(f"{kind}: none falls for the confounder (AUC < 0.5)", st.loc['none', 'auc'] < 0.5, f"{st.loc['none', 'auc']:.3f}"),
                       (f"{kind}: ΔAUC CI ({r['compared']} − none) above 0", c.delta_ci_low > 0, f"{c.delta_ci_low:+.3f}")]
            if 'mf' in r:   # added at stop 56 beside the check above, not instead of it: does none lean on the marker?
                m = r['mf'].loc['none']
                checks.append((f"{kind}: (added) none scores higher on its test patients without the marker (ΔAUC CI above 0)",
                               m.delta_ci_low > 0, f"{m.delta:+.3f} ({m.delta_ci_low:+.3f} to {m.delta_ci_high:+.3f})"))
    total = time.time() - t_start
    checks.append(("whole grid ≤ 60 min (this invocation; a folder with finished stages reuses them and is faster)", total <= 3600, f"{total/60:.1f} min"))
    print("\nacceptance:")
    for name, ok, val in checks: print(f"  [{'pass' if ok else 'FAIL'}] {name}: {val}")
    free = [(k, res[k, 'segmenter']) for k in a.kinds.split(',') if 'mf' in res.get((k, 'segmenter'), {})]
    if free:   # measured, not one of the checks: does the compared mode's advantage survive the marker's removal?
        print("\nwithout the marker (segmenter masks): the compared mode against none, both on the test patients regenerated without it")
        for kind, r in free:
            m = r['mf'].loc[r['compared']]
            print(f"  {kind:11s} {r['compared']:5s} {m.auc_without:.3f} vs none {r['mf'].loc['none', 'auc_without']:.3f}: "
                  f"ΔAUC {m.vs_none:+.3f} ({m.vs_none_ci_low:+.3f} to {m.vs_none_ci_high:+.3f})")

if __name__ == '__main__': main()
