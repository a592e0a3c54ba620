"""Our conversion of a DICOM series (scan + header/pixel checks + geometry + dcm2niix + RAS/HU) against dcm2niix alone, in one run.

Usage: python bench/ingest.py [DICOM_FOLDER ...]
Default: the real series at $CT_MASK_CLS_REALDATA/totalseg_example/example_ct_dicom (if set) and a generated
120-slice 256x256 series. Each is converted 3 times by each side, alternating; medians are compared.
"""
import os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
from ct_mask_cls.core import PreprocessConfig
from ct_mask_cls.dicom import convert_tree, dcm2niix_bin
from ct_mask_cls.synth import make_phantom, write_ct_series

def bench(folder: Path, tmp: Path, reps=3):
    ours, bare = [], []
    for i in range(reps + 1):
        t0 = time.time(); subprocess.run([dcm2niix_bin(), '-z', 'y', '-b', 'n', '-f', f'b{i}', '-o', str(tmp), str(folder)], check=True, capture_output=True); b = time.time() - t0
        t0 = time.time(); df = convert_tree(folder, tmp/f'o{i}', PreprocessConfig(workers=1), progress=False); o = time.time() - t0
        assert (df.status == 'converted').sum() == 1, df
        if i: bare.append(b); ours.append(o)                       # the first round warms the file cache and is dropped
    mb, mo = statistics.median(bare), statistics.median(ours)
    print(f"{folder.name:<24} dcm2niix alone {mb:6.2f} s   ct-mask-cls convert {mo:6.2f} s   ratio {mo/mb:5.2f}x")

def main():
    with tempfile.TemporaryDirectory() as t:
        t = Path(t); folders = [Path(a) for a in sys.argv[1:]]
        if not folders:
            real = Path(os.environ.get('CT_MASK_CLS_REALDATA', '/nonexistent'))/'totalseg_example'/'example_ct_dicom'
            if real.is_dir(): folders.append(real)
            ph = make_phantom(np.random.default_rng(0), 1, True, size=256, z_mm=120*1.5)
            write_ct_series(ph['hu'], t/'generated_256x256', 'GEN', ph['pixel_spacing'], ph['slice_spacing']); folders.append(t/'generated_256x256')
        for f in folders: bench(f, t)

if __name__ == '__main__': main()
