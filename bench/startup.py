"""Start-up costs of the CLI: `ct-mask-cls run --help`, `ct-mask-cls run BAD.yaml` until its error, the time until the first stage's
kernel runs its first cell, and the kernel overhead of one stage (the index stage of a finished tiny run, forced).

Goals: the CLI imports no torch, MONAI or grad-cam before a stage runs; an error in the config is reported in under 3 s.
Usage: python bench/startup.py
"""
import json
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
import yaml

exe = str(Path(sys.executable).parent/'ct-mask-cls')
def timed(*args, **kw):
    t = time.time(); r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, **kw); return time.time() - t, r

t_help, _ = timed('run', '--help')
with tempfile.TemporaryDirectory() as d:
    d = Path(d); (d/'bad.yaml').write_text("train:\n  epochz: 3\n")
    t_bad, r_bad = timed('run', d/'bad.yaml')
    heavy = subprocess.run([sys.executable, '-c', "import sys; import ct_mask_cls.cli, ct_mask_cls.runner; print(sorted(m for m in ('torch', 'monai', 'pytorch_grad_cam', 'matplotlib', 'sklearn') if m in sys.modules))"],
                           capture_output=True, text=True).stdout.strip()
    from ct_mask_cls.synth import make_demo_cohort, demo_config
    make_demo_cohort(d/'data', n=8, size=32, progress=False)
    (d/'c.yaml').write_text(yaml.safe_dump(demo_config(d/'data', d/'runs', 'tiny', tiny=True)))
    t0 = time.time(); subprocess.run([exe, 'stage', 'preprocess', str(d/'c.yaml')], capture_output=True, text=True)
    nb = json.loads((d/'runs'/'tiny'/'01_preprocess.ipynb').read_text())
    first = next(c for c in nb['cells'] if c['cell_type'] == 'code')['metadata']['papermill']['start_time']
    t_first = datetime.fromisoformat(first.replace('Z', '+00:00')).timestamp() - t0
    subprocess.run([exe, 'run', str(d/'c.yaml')], capture_output=True, text=True)
    t_index, _ = timed('stage', 'index', d/'c.yaml', '--force')
    from ct_mask_cls.core import RunLayout
    nb = json.loads(RunLayout(d/'runs'/'tiny').stage_files('index')[0].read_text())
    cells = sum((datetime.fromisoformat(c['metadata']['papermill']['end_time'].replace('Z', '+00:00')) - datetime.fromisoformat(c['metadata']['papermill']['start_time'].replace('Z', '+00:00'))).total_seconds()
                for c in nb['cells'] if c['cell_type'] == 'code' and c['metadata'].get('papermill', {}).get('end_time'))
print(f"ct-mask-cls run --help:            {t_help:5.2f} s")
print(f"ct-mask-cls run BAD.yaml -> error:  {t_bad:5.2f} s  (goal < 3 s: {'pass' if t_bad < 3 else 'FAIL'}; exit {r_bad.returncode}: {r_bad.stderr.strip()[:90]})")
print(f"heavy packages imported by the CLI and runner before a stage: {heavy}  (goal: no torch, monai, pytorch_grad_cam)")
print(f"first stage's first cell starts:   {t_first:5.2f} s after the command")
print(f"index stage, forced:               {t_index:5.2f} s, of which its cells {cells:.2f} s: overhead {t_index - cells:.2f} s per stage "
      f"(kernel start, imports, HTML); ratio overhead/total {(t_index - cells)/t_index:.2f}")
