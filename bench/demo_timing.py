"Wall time of each stage of the demo pipeline (fresh run, --force), measured in one run."
import sys, time, yaml
from pathlib import Path
from ct_mask_cls.core import load_config
from ct_mask_cls.synth import make_demo_cohort, demo_config
from ct_mask_cls.runner import run_pipeline

def main(n=int(sys.argv[1]) if len(sys.argv) > 1 else 40, out=Path('outputs/bench')):
    t0 = time.time(); make_demo_cohort(out/'data', n=n, progress=False); gen = time.time() - t0
    cp = out/'bench.yaml'; cp.write_text(yaml.safe_dump(demo_config(out/'data', out, 'bench')))
    recs = run_pipeline(load_config(cp), force=True, echo=lambda *a: None)
    total = gen + sum(r['seconds'] for r in recs)
    print(f"{'stage':<12}{'seconds':>9}{'share':>8}")
    print(f"{'cohort':<12}{gen:>9.1f}{gen/total:>8.1%}")
    for r in recs: print(f"{r['stage']:<12}{r['seconds']:>9.1f}{r['seconds']/total:>8.1%}")
    print(f"{'total':<12}{total:>9.1f}")

if __name__ == '__main__': main()
