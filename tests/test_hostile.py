"Hostile and broken input: no path escapes, no script in reports, no secret in outputs, safe checkpoints, one run per folder, early clear errors."
import subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml
from ct_mask_cls.synth import make_phantom, write_ct_series, demo_config
from conftest import run_cli

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

HOSTILE = ['../../../escaped/pwn', 'A/B', '/abs/olute', 'ü-é-ß', 'x'*300, '<img src=x onerror=alert(1)>']

def _cohort(root:Path, ids:list):
    "A tiny chest cohort whose PatientIDs are `ids` (labels alternate; the first four are the test split)."
    rng = np.random.default_rng(0); rows = []
    for i, pid in enumerate(ids):
        ph = make_phantom(np.random.default_rng([0, i]), label=i % 2, marker=bool(i % 2), size=32)
        write_ct_series(ph['hu'], root/'dicom'/f'p{i}'/'CT', pid, ph['pixel_spacing'], ph['slice_spacing'])
        rows.append(dict(patient_id=pid, label=i % 2, split='test' if i < 4 else 'train'))
    pd.DataFrame(rows).to_csv(root/'labels.csv', index=False)

def _config(root:Path, data:Path, run_id='r', **over) -> Path:
    d = demo_config(data, root/'runs', run_id, tiny=True); d['split'] = dict(test_column='split', val_frac=0.3)
    for k, v in over.items(): d.setdefault(k.split('.')[0], {})[k.split('.')[1]] = v
    (root/f'{run_id}.yaml').write_text(yaml.safe_dump(d)); return root/f'{run_id}.yaml'

@pytest.fixture(scope='module')
def hostile_run(tmp_path_factory):
    t = tmp_path_factory.mktemp('hostile'); data = t/'deep'/'data'
    _cohort(data, HOSTILE + ['N1', 'N2', 'N3', 'N4'])
    r = run_cli('run', _config(t, data), cwd=t)
    return t, r

def test_hostile_ids_stay_inside_and_are_kept(hostile_run):
    t, r = hostile_run
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    run = t/'runs'/'r'
    assert not any(p.name in ('escaped', 'pwn') for p in t.rglob('*') if run not in p.parents)      # nothing written outside the run folder
    for p in run.rglob('*'): assert p.resolve().is_relative_to(run.resolve()), p
    man = pd.read_csv(run/'mask'/'manifest.csv', dtype=str, keep_default_na=False)
    assert set(HOSTILE) <= set(man.patient_id) and (man.status == 'ok').sum() == 10                 # the original ids are kept in the tables
    assert len(set(man.ct_path)) == 10 and len(set(man.mask_path)) == 10                            # one file per case: nothing overwritten

def test_markup_in_ids_is_escaped_in_every_report(hostile_run):
    t, r = hostile_run
    for h in (t/'runs'/'r').glob('*.html'):
        text = h.read_text()
        assert '<img src=x onerror' not in text, h.name                                            # never live markup
    shown = {h.name for h in (t/'runs'/'r').glob('*.html') if '&lt;img src=x onerror=alert(1)&gt;' in h.read_text()}
    assert {'01_preprocess.html', '02_segment.html'} <= shown, shown                               # shown as text where the cases are listed

def test_salt_is_never_written(tmp_path):
    data = tmp_path/'data'; _cohort(data, [f'P{i}' for i in range(10)])
    salt = 'S3CRET-pseudonym-key-9731'
    r = run_cli('run', _config(tmp_path, data, 'ps', **{'preprocess.pseudonymise': True, 'preprocess.pseudonym_salt': salt}), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    run = tmp_path/'runs'/'ps'
    for p in run.rglob('*'):
        if p.is_file(): assert salt.encode() not in p.read_bytes(), p
    man = pd.read_csv(run/'mask'/'manifest.csv', dtype=str)
    assert (man.status == 'ok').all() and not set(man.patient_id) & {f'P{i}' for i in range(10)}
    ser = pd.read_csv(run/'preprocess'/'series.csv', dtype=str, keep_default_na=False)
    assert not ser.series_key.str.startswith('1.2.').any()                                          # no SeriesInstanceUID left
    r = run_cli('run', _config(tmp_path, data, 'nokey', **{'preprocess.pseudonymise': True}), cwd=tmp_path)
    assert r.returncode == 2 and 'secret key' in r.stderr and 'Traceback' not in r.stderr

EVIL = '''
import pickle, torch
class Evil:
    def __reduce__(self): return (__import__('os').system, ('touch {marker}',))
torch.save({{'key': 'x', 'state': Evil()}}, '{path}')
'''

def test_planted_checkpoint_never_runs(hostile_run, tmp_path):
    "A malicious checkpoint in the run folder: training ignores it (weights only) and the payload never runs."
    t, _ = hostile_run
    ck = t/'runs'/'r'/'train'/'zero'/'checkpoint.pt'; marker = tmp_path/'PWNED'
    subprocess.run([sys.executable, '-c', EVIL.format(marker=marker, path=ck)], check=True)
    r = run_cli('stage', 'train', t/'r.yaml', '--force', cwd=t)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not marker.exists()

def test_second_run_on_a_busy_folder_is_refused(hostile_run):
    t, _ = hostile_run
    p = subprocess.Popen([str(Path(sys.executable).parent/'ct-mask-cls'), 'run', str(t/'r.yaml'), '--force'], cwd=t, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = t/'runs'/'r'/'.lock'; t0 = time.time()
    while not lock.exists() and time.time() - t0 < 30: time.sleep(0.1)
    r = run_cli('run', t/'r.yaml', cwd=t)
    assert r.returncode == 2 and 'is in use by process' in r.stderr, r.stderr
    r = run_cli('run', t/'r.yaml', '--wait', cwd=t)                                                   # --wait: runs once the other finishes
    out, err = p.communicate(timeout=900)
    assert p.returncode == 0, err[-2000:]
    assert r.returncode == 0 and not lock.exists(), r.stderr[-2000:]

def test_force_redoes_cases_and_a_truncated_output_is_redone(hostile_run):
    t, _ = hostile_run
    run = t/'runs'/'r'; cts = sorted((run/'preprocess'/'ct').glob('*.nii.gz'))
    before = {p: p.stat().st_mtime_ns for p in cts}
    r = run_cli('stage', 'preprocess', t/'r.yaml', cwd=t); assert r.returncode == 0
    assert {p: p.stat().st_mtime_ns for p in cts} == before                                         # unchanged inputs: cases reused
    victim = cts[0]; victim.write_bytes(victim.read_bytes()[:100])                                   # a finished output truncated on disk
    r = run_cli('stage', 'preprocess', t/'r.yaml', cwd=t); assert r.returncode == 0
    import nibabel as nib; nib.load(str(victim)).get_fdata()                                         # redone, readable
    assert all(p.stat().st_mtime_ns == before[p] for p in cts[1:])                                   # and only that case
    r = run_cli('stage', 'preprocess', t/'r.yaml', '--force', cwd=t); assert r.returncode == 0
    assert all(p.stat().st_mtime_ns != before[p] for p in cts[1:])                                   # --force redoes every case

def test_output_files_follow_the_umask(hostile_run):
    t, _ = hostile_run
    modes = {oct(p.stat().st_mode & 0o777) for p in (t/'runs'/'r').rglob('*') if p.is_file() and p.name != '.lock'}
    assert modes == {oct(0o644)}, modes                                                               # the tests run under umask 022

def _bad(tmp_path, name, **over):
    d = yaml.safe_load((tmp_path/'base.yaml').read_text())
    for k, v in over.items():
        if '.' in k: d.setdefault(k.split('.')[0], {})[k.split('.')[1]] = v
        else: d[k] = v
    (tmp_path/f'{name}.yaml').write_text(yaml.safe_dump(d)); return tmp_path/f'{name}.yaml'

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    t = tmp_path_factory.mktemp('bad'); data = t/'data'; _cohort(data, [f'P{i}' for i in range(8)])
    (t/'base.yaml').write_text(_config(t, data, 'base').read_text()); return t

@pytest.mark.parametrize('over,needle', [
    ({'preprocess.spacing': [0, 0, 0]}, 'preprocess.spacing'), ({'preprocess.spacing': [-1, 2, 2]}, 'preprocess.spacing'),
    ({'mask.window': [400, -1000]}, 'mask.window'), ({'train.epochs': 0}, 'train.epochs'), ({'train.n_bootstrap': 50}, 'train.n_bootstrap'),
    ({'xai.n_cases': -2}, 'xai.n_cases'), ({'mask.roi': ['livr']}, "livr"), ({'train.pretrained': True}, 'pretrained'),
    ({'segment.backend': 'totalsegmentator', 'segment.weights_dir': '/nonexistent/home'}, 'Dataset297'), ({'run_id': '..'}, 'run_id'),
    ({'xai.methods': ['occlusion']}, None), ({'train.device': 'cuda'}, 'cuda'), ({'train.batch_size': 1}, 'train.batch_size')])
def test_early_errors(base, over, needle):
    name = 'b' + str(abs(hash(str(over))))
    if needle is None: needle = 'occlusion does not support model small3d in mask mode zero'      # refused before any computation
    r = run_cli('run', _bad(base, name, **over), cwd=base)
    if over.get('train.device') == 'cuda' and r.returncode == 0: pytest.skip('a GPU is present')
    assert r.returncode != 0 and needle in r.stderr and 'Traceback' not in r.stderr, (over, r.stderr[-1500:])
    assert not (base/'runs'/'base'/'01_preprocess.ipynb').exists() and not list((base/'runs').rglob('*.nii.gz')), over
