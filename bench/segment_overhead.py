"""Our segmentation wrapper against a bare `totalsegmentator()` call on the same case, with the same stand-in weights and options.

Usage: python bench/segment_overhead.py [CT.nii.gz] [REPEATS]
Default CT: $CT_MASK_CLS_REALDATA/totalseg_example/example_ct_sm.nii.gz, else a synthetic phantom.
The stand-in nnU-Net weights (tests/standin_nnunet.py, test scaffolding) are built in a temporary TotalSegmentator home,
so this measures the wrapper's own cost (weight checks, usage-stats switch, writing the mask and its JSON record).
Calls alternate between the two, and the medians are compared.
"""
import os, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tests'))
from standin_nnunet import make_standin_weights

def main():
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as t:
        t = Path(t); home = t/'home'; make_standin_weights(home/'nnunet'/'results')
        os.environ['TOTALSEG_HOME_DIR'] = str(home); os.environ.pop('TOTALSEG_WEIGHTS_PATH', None)
        from ct_mask_cls.core import SegmentConfig, save_nifti
        from ct_mask_cls.segment import segment, disable_usage_stats
        ct = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(os.environ.get('CT_MASK_CLS_REALDATA', '/nonexistent'))/'totalseg_example'/'example_ct_sm.nii.gz'
        if not ct.exists():
            from ct_mask_cls.synth import make_phantom
            ph = make_phantom(np.random.default_rng(0), 1, True, size=96); ct = t/'phantom.nii.gz'
            save_nifti(np.flip(ph['hu'].transpose(2, 1, 0), (0, 1)), np.diag([ph['pixel_spacing']]*2 + [ph['slice_spacing'], 1.0]), ct, dtype=np.int16)
        disable_usage_stats(str(home))                       # both sides run without usage statistics
        from totalsegmentator.python_api import totalsegmentator
        cfg = SegmentConfig(backend='totalsegmentator', fast=True, device='cpu', threads=1, weights_dir=str(home))
        bare, ours = [], []
        for i in range(reps + 1):                            # the first round warms caches and is dropped
            t0 = time.time(); totalsegmentator(str(ct), str(t/f'bare{i}.nii.gz'), ml=True, fast=True, device='cpu', nr_thr_resamp=1, nr_thr_saving=1, quiet=True)
            b = time.time() - t0
            t0 = time.time(); segment(ct, t/f'ours{i}.nii.gz', cfg, roi_names=None); o = time.time() - t0
            if i: bare.append(b); ours.append(o)
        mb, mo = statistics.median(bare), statistics.median(ours)
        print(f"case {ct.name}; {reps} alternating calls each (after one warm-up)")
        print(f"bare totalsegmentator(): median {mb:.2f} s  {[round(x, 2) for x in bare]}")
        print(f"ct_mask_cls segment():   median {mo:.2f} s  {[round(x, 2) for x in ours]}")
        print(f"overhead ratio ours/bare: {mo/mb:.3f}  ({(mo/mb - 1):+.1%})")

if __name__ == '__main__': main()
