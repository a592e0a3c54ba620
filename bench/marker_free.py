"""Does a trained model fall for the skin marker? Its test AUC on the test patients of a generated realistic cohort as they
were, and on the same patients without the marker.

The generator draws the marker from its own random stream, so a test patient regenerated without it is the same patient to
the bit everywhere else (anatomy, finding, noise, masks). The script copies the run (its models; not its cache), writes the
run's test patients again without the marker, and scores them with every trained mode through `evaluate_external`, so they
are preprocessed, segmented and masked exactly as the run's own. In the reversed-marker test split the marker goes with
label 0: a model that leans on it scores lower with the marker than without, and the difference is how far it fell for it.

Usage: python bench/marker_free.py RUN_DIR OUT_DIR
"""
import argparse, dataclasses, json, shutil, sys, time
from pathlib import Path
import pandas as pd, yaml

def marker_free(run: Path, out: Path, progress: bool = False) -> tuple[pd.DataFrame, str]:
    "Every trained mode's test AUC with and without the marker, and the paired ΔAUC (without − with) with its 95% CI."
    from ct_mask_cls.core import load_config, config_to_dict, RunLayout
    from ct_mask_cls.synth import RealisticParams, load_reference, _write_patient
    from ct_mask_cls.executor import pmap, n_cores
    from ct_mask_cls.apply import evaluate_external
    from ct_mask_cls.metrics import paired_delta_auc
    run, out = Path(run).resolve(), Path(out).resolve()
    cfg = load_config(run/'config.yaml')
    data = Path(cfg.data.labels_csv).parent
    coh = json.loads((data/'cohort.json').read_text())
    if coh.get('kind') != 'realistic': sys.exit(f"{data} holds no realistic cohort")
    p = RealisticParams(**{k: tuple(v) if isinstance(v, list) else v for k, v in coh['params'].items()})
    truth = pd.read_csv(data/'truth.csv', dtype={'patient_id': str})
    test = truth[truth.split == 'test']
    copy = out/'run'
    if not copy.exists(): shutil.copytree(run, copy, ignore=lambda d, names: ['cache'] if Path(d) == run else [])
    nm = out/'data'
    if not (nm/'labels.csv').exists():
        ref = load_reference()
        jobs = [(nm, ref, (coh['seed'], int(r.patient_id[-3:]) - 1), r.patient_id, int(r.label), True, False, p)
                for r in test.itertuples()]
        rows = pd.DataFrame(pmap(_write_patient, jobs, n_cores(), 'writing the test patients without the marker', progress,
                                 processes=True))
        rows[['patient_id', 'label', 'split']].to_csv(nm/'labels.csv', index=False)
    other = dataclasses.replace(cfg, data=dataclasses.replace(
        cfg.data, dicom_dir=str(nm/'dicom'), labels_csv=str(nm/'labels.csv'), mask_dir=str(nm/Path(cfg.data.mask_dir).name),
        lesion_dir='', confounder_dir=''))
    (out/'marker_free.yaml').write_text(yaml.safe_dump(config_to_dict(other)))
    res = evaluate_external(copy, out/'marker_free.yaml', out/'scored', progress=progress)
    lay, rows, res = RunLayout(copy), [], res.set_index('mode')
    wo = {m: pd.read_csv(out/'scored'/'predictions'/f'{m}.csv', dtype={'patient_id': str}) for m in res.index}
    for m in res.index:
        w = pd.read_csv(lay.model_dir(m)/'predictions.csv', dtype={'patient_id': str}).query("split == 'test'")
        d = w.merge(wo[m][['patient_id', 'prob']], on='patient_id', suffixes=('_with', '_without'))
        dd, lo, hi = paired_delta_auc(d.label, d.prob_without, d.prob_with, d.patient_id, cfg.train.n_bootstrap, cfg.train.seed)
        rows.append(dict(mode=m, auc_with=res.loc[m, 'internal_auc'], auc_without=res.loc[m, 'external_auc'], delta=dd,
                         delta_ci_low=lo, delta_ci_high=hi,
                         n=len(d)))
    # what masking adds once the marker is gone: each masked mode against none, both on the patients without it
    for r in rows:
        if r['mode'] == 'none' or 'none' not in wo: continue
        d = wo[r['mode']].merge(wo['none'][['patient_id', 'prob']], on='patient_id', suffixes=('', '_none'))
        r['vs_none'], r['vs_none_ci_low'], r['vs_none_ci_high'] = paired_delta_auc(
            d.label, d.prob, d.prob_none, d.patient_id, cfg.train.n_bootstrap, cfg.train.seed)
    head = (f"{run.name}: {len(test)} test patients, {int(test.marker.sum())} with the marker "
            f"({int(((test.marker == 1) & (test.label == 1)).sum())} of them label 1)")
    return pd.DataFrame(rows).set_index('mode'), head

def show(res: pd.DataFrame, head: str, indent: str = ''):
    "Print `marker_free`'s table."
    print(f"{indent}{head}\n{indent}{'mode':6s} {'AUC with marker':>16s} {'without':>8s}   ΔAUC without − with (95% CI)"
          f"   without the marker: ΔAUC vs none (95% CI)")
    for m, r in res.iterrows():
        vs = '' if pd.isna(r.get('vs_none', float('nan'))) else (
            f"   {r.vs_none:+.3f} ({r.vs_none_ci_low:+.3f} to {r.vs_none_ci_high:+.3f})")
        print(f"{indent}{m:6s} {r.auc_with:16.3f} {r.auc_without:8.3f}   {r.delta:+.3f} ({r.delta_ci_low:+.3f} to {r.delta_ci_high:+.3f})"
              + vs)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('run'); ap.add_argument('out')
    a = ap.parse_args()
    t0 = time.time()
    show(*marker_free(Path(a.run), Path(a.out), progress=True))
    print(f"{(time.time() - t0)/60:.1f} min")

if __name__ == '__main__': main()
