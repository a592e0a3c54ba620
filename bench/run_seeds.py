"""How much one seed says about a finished run: one mode's test AUC over several training seeds, on a copy of a run folder
(a robustness grid's, for example), so the run itself is left as it was.

The copy keeps the stages before training (preprocessed CTs, masks, manifest, splits) and drops `train/`, `xai/` and
`study/`; then the mode is trained with each seed as `study.seeds` would (train.seed + k), with the run's own config. Which
package trains is what Python imports: put another version's `ct_mask_cls` first on PYTHONPATH to compare codes.

Usage: python bench/run_seeds.py RUN_DIR COPY_DIR [--mode none] [--seeds 0,1,2]
"""
import argparse, dataclasses, shutil
from pathlib import Path
from _seeds import seed_aucs

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('run'); ap.add_argument('copy'); ap.add_argument('--mode', default='none'); ap.add_argument('--seeds', default='0,1,2')
    a = ap.parse_args()
    import ct_mask_cls
    from ct_mask_cls.core import load_config
    src, dst = Path(a.run).resolve(), Path(a.copy).resolve()
    print('package', Path(ct_mask_cls.__file__).parent, flush=True)
    if not dst.exists():
        shutil.copytree(src, dst, ignore=lambda d, names: [n for n in names if Path(d) == src and n in ('train', 'xai', 'study')])
    cfg = load_config(dst/'config.yaml')
    cfg = dataclasses.replace(cfg, out_dir=str(dst.parent), run_id=dst.name)
    aucs = seed_aucs(cfg, a.mode, [int(s) for s in a.seeds.split(',')])
    print(f"\n{a.mode} over {len(aucs)} seeds: mean {sum(aucs)/len(aucs):.3f}, range {min(aucs):.3f} to {max(aucs):.3f}")

if __name__ == '__main__': main()
