"The reuse rule end to end: a stage or case is reused only when its settings and its inputs are unchanged."
import shutil
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pydicom, pytest, yaml
from conftest import run_cli
from ct_mask_cls.core import RunLayout
from ct_mask_cls.synth import make_realistic_cohort, demo_config

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

def _status(stdout):
    "{stage: 'reused' | 'done'} from the CLI's output."
    out = {}
    for line in stdout.splitlines():
        if line.startswith('[') and '] ' in line and (' reused ' in line or ' done ' in line):
            out[line[1:line.index(']')]] = 'reused' if ' reused ' in line else 'done'
    return out

@pytest.fixture(scope='module')
def chest(tmp_path_factory, tiny_cohort):
    t = tmp_path_factory.mktemp('reuse')
    tiny_cohort(t)
    (t/'c.yaml').write_text(yaml.safe_dump(demo_config(t/'data', t/'runs', 'tiny', tiny=True)))
    r = run_cli('run', t/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    return t

def test_a_changed_label_reruns_mask_to_index(chest):
    t = chest; run = RunLayout(t/'runs'/'tiny')
    lab = pd.read_csv(t/'data'/'labels.csv', dtype={'patient_id': str})
    pid = lab[lab.split == 'test'].patient_id.iloc[0] if 'split' in lab else lab.patient_id.iloc[0]
    lab.loc[lab.patient_id == pid, 'label'] = 1 - lab.loc[lab.patient_id == pid, 'label']
    lab.to_csv(t/'data'/'labels.csv', index=False)
    r = run_cli('run', t/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    st = _status(r.stdout)
    assert st['preprocess'] == st['segment'] == 'reused' and all(st[s] == 'done' for s in ('mask', 'train', 'xai', 'study', 'index')), st
    man = pd.read_csv(run.manifest_csv, dtype={'patient_id': str}).set_index('patient_id')
    assert man.loc[pid, 'label'] == lab.set_index('patient_id').loc[pid, 'label']                     # the new result shows the new label
    pred = pd.read_csv(run.model_dir('zero')/'predictions.csv', dtype={'patient_id': str}).set_index('patient_id')
    assert pid in pred.index                                                                           # a test patient: it is scored
    assert pred.loc[pid, 'label'] == man.loc[pid, 'label']

def test_a_new_series_reruns_preprocess_for_that_case_only(chest):
    t = chest; run = RunLayout(t/'runs'/'tiny')
    before = {p.name: p.stat().st_mtime_ns for p in (run.root/'preprocess'/'ct').glob('*.nii.gz')}
    src = sorted(p for p in (t/'data'/'dicom').iterdir() if p.is_dir())[0]
    new = t/'data'/'dicom'/'NEWPATIENT'; shutil.copytree(src, new)
    for f in new.rglob('*'):
        if f.is_file():
            d = pydicom.dcmread(str(f)); d.PatientID = 'NEW01'; d.SeriesInstanceUID = d.SeriesInstanceUID + '.9'; d.save_as(str(f))
    r = run_cli('stage', 'preprocess', t/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in (run.root/'preprocess'/'ct').glob('*.nii.gz')}
    assert set(after) - set(before) == {'NEW01.nii.gz'}
    assert all(after[k] == v for k, v in before.items())                                                  # the others: reused

def test_a_replaced_mask_reruns_segment_for_that_case(tmp_path):
    make_realistic_cohort(tmp_path/'data', n=8, seed=5, progress=False)
    cfg = demo_config(tmp_path/'data', tmp_path/'runs', 'r', tiny=True, kind='realistic')
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    for s in ('preprocess', 'segment'):
        r = run_cli('stage', s, tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    run = RunLayout(tmp_path/'runs'/'r')
    segs = sorted((run.root/'segment'/'masks').glob('*.nii.gz'))
    before = {p.name: p.stat().st_mtime_ns for p in segs}
    victim = sorted((tmp_path/'data'/'masks').glob('*.nii.gz'))[0]
    img = nib.load(str(victim)); a = np.asarray(img.dataobj).copy(); a[a == 5] = 0                         # a corrected mask: no liver
    nib.save(nib.Nifti1Image(a, img.affine), str(victim))
    r = run_cli('stage', 'segment', tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    after = {p.name: p.stat().st_mtime_ns for p in segs}
    changed = [k for k in before if after[k] != before[k]]
    assert changed == [victim.name], changed
    assert not (np.asarray(nib.load(str(run.root/'segment'/'masks'/victim.name)).dataobj) == 5).any()

def test_other_masks_retrain_the_masked_model_and_keep_none(tmp_path):
    "The same patients with other masks (the truth instead of the segmenter's): `zero` is trained and scored again on them; `none`, which reads the CT alone, is kept with its scores."
    make_realistic_cohort(tmp_path/'data', n=8, seed=5, progress=False)
    cfg = demo_config(tmp_path/'data', tmp_path/'runs', 'r', tiny=True, kind='realistic')
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('run', tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    run = RunLayout(tmp_path/'runs'/'r')
    files = lambda m: {n: (run.model_dir(m)/n).stat().st_mtime_ns for n in ('best_model.pt', 'fit.json', 'predictions.csv')}
    before, rois = {m: files(m) for m in ('zero', 'none')}, {p.name: p.read_bytes() for p in (run.root/'mask'/'roi').glob('*.nii.gz')}
    cfg['data']['mask_dir'] = str(tmp_path/'data'/'masks_truth')
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('run', tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    assert _status(r.stdout)['preprocess'] == 'reused'
    assert sum(p.read_bytes() != rois[p.name] for p in (run.root/'mask'/'roi').glob('*.nii.gz')) >= 6   # the ROIs did change
    after = {m: files(m) for m in ('zero', 'none')}
    assert all(after['zero'][n] != before['zero'][n] for n in before['zero']), (before, after)        # trained and scored again
    assert after['none']['best_model.pt'] == before['none']['best_model.pt'] and after['none']['fit.json'] == before['none']['fit.json']
    assert after['none']['predictions.csv'] == before['none']['predictions.csv']                       # and its scores: the model does not read the masks
    st = pd.read_csv(run.root/'study'/'study.csv').set_index('mode')
    assert set(st.index) == {'zero', 'none'} and st.auc.notna().all()

def test_an_update_of_the_code_redoes_what_that_code_makes(tmp_path, tiny_cohort):
    "Stages run by an updated copy of the package, as after `pip install -U`: a model is trained again only when the training code changed, the maps only when Grad-CAM's did; comments and docstrings change nothing."
    import ct_mask_cls, json, os
    tiny_cohort(tmp_path)
    cfg = demo_config(tmp_path/'data', tmp_path/'runs', 'tiny', tiny=True)
    cfg['study']['modes'] = ['zero']                                        # the one mode the test watches
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    def stage(name, pkg=None):
        env = dict(os.environ, PYTHONPATH=str(pkg)) if pkg else None
        r = run_cli('stage', name, tmp_path/'c.yaml', env=env); assert r.returncode == 0, r.stderr[-3000:]
    for s in ('preprocess', 'segment', 'mask', 'train', 'xai'): stage(s)
    run = RunLayout(tmp_path/'runs'/'tiny')
    model, maps = run.model_dir('zero')/'best_model.pt', run.xai_dir('zero')/'xai.json'
    state = lambda: (json.loads((run.model_dir('zero')/'fit.json').read_text())['key'], model.stat().st_mtime_ns,
                     json.loads(maps.read_text())['key'], maps.stat().st_mtime_ns)
    def updated(name, edits):
        "A copy of the package with `edits` {module: (old, new)} applied; the folder to put on PYTHONPATH."
        pkg = tmp_path/name/'ct_mask_cls'
        shutil.copytree(Path(ct_mask_cls.__file__).parent, pkg, ignore=shutil.ignore_patterns('__pycache__'))
        for mod, (old, new) in edits.items():
            src = (pkg/mod).read_text(); assert src.count(old) == 1, (mod, old)
            (pkg/mod).write_text(src.replace(old, new))
        return pkg.parent
    s0 = state()
    words = updated('words', {'train.py': ('"Early stopping:', '"Early stopping (reworded):'),
                              'xai.py': ('def gradcam_volume(', '# a new comment\ndef gradcam_volume(')})
    stage('train', words); stage('xai', words)
    assert state() == s0                                                    # documentation only: all kept
    maps_code = updated('xai', {'xai.py': ('def gradcam_volume(', '_UPDATED = True\ndef gradcam_volume(')})
    stage('train', maps_code); stage('xai', maps_code)
    s1 = state()
    assert s1[:2] == s0[:2] and s1[2] != s0[2] and s1[3] != s0[3]           # the model kept, the maps made again
    train_code = updated('train', {'train.py': ('def improved(', '_UPDATED = True\ndef improved(')})
    stage('train', train_code)
    s2 = state()
    assert s2[0] != s1[0] and s2[1] != s1[1]                                # the model trained again
    # an upgraded torch (what importlib.metadata reports, as after `pip install -U torch`): its kernels make the inputs,
    # the model and the maps, so the inputs are made again, the model trained again and the maps redone
    upgraded = tmp_path/'upgraded'/'torch-99.0.0.dist-info'
    upgraded.mkdir(parents=True)
    (upgraded/'METADATA').write_text('Metadata-Version: 2.1\nName: torch\nVersion: 99.0.0\n')
    cache = lambda: sorted(p.name for p in run.cache.glob('*.pt'))
    stage('train'); stage('xai')                                            # the installed package again
    s3, c3 = state(), cache()
    stage('train'); stage('xai')
    assert state() == s3                                                    # (which, unchanged, is reused)
    stage('train', upgraded.parent); stage('xai', upgraded.parent)          # the same package, torch upgraded
    s4 = state()
    assert s4[0] != s3[0] and s4[1] != s3[1] and s4[2] != s3[2] and s4[3] != s3[3]
    assert set(cache()) - set(c3)                                           # new cache entries
