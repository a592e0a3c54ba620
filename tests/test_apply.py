"Using a trained model: predict, evaluate (external validation), export, and masks in hospital formats (RTSTRUCT, DICOM-SEG, binary)."
import json, os, shutil, subprocess, sys
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pytest, yaml
from conftest import run_cli
from ct_mask_cls.core import RunLayout, load_config
from ct_mask_cls.kit import tiny_setup

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    "A tiny trained run (preprocess … train, in-process) and its cohort."
    root = tmp_path_factory.mktemp('apply')
    cp, run = tiny_setup('xai', root)
    from ct_mask_cls.runner import write_run_config
    write_run_config(load_config(cp))                              # what `ct-mask-cls run` leaves in every run folder
    return root, Path(cp), Path(run)

def test_predict_reproduces_the_runs_predictions(tiny, tmp_path):
    root, cp, run = tiny
    r = run_cli('predict', run, root/'data'/'dicom', tmp_path/'pred')
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    got = pd.read_csv(tmp_path/'pred'/'predictions.csv', dtype={'case_id': str, 'patient_id': str}).set_index('patient_id')
    ref = pd.read_csv(run/'train'/'zero'/'predictions.csv', dtype={'case_id': str, 'patient_id': str}).set_index('patient_id')
    assert set(ref.index) <= set(got.index)
    np.testing.assert_allclose(got.loc[ref.index, 'prob'].values, ref.prob.values, atol=1e-5)       # val and test cases: same probabilities
    assert (got.loc[ref.index, 'decision'].astype(int).values == ref.pred.values).all()             # same decisions at the run's threshold
    pid = ref.index[0]
    cam, ct = nib.load(got.loc[pid, 'cam_nifti']), nib.load(str(RunLayout(run).ct(ref.loc[pid, 'case_id'])))
    assert cam.shape == ct.shape and np.allclose(cam.affine, ct.affine)                             # the CAM lies on the CT grid
    html = (tmp_path/'pred'/'report.html').read_text()
    assert '<table' in html and '<script' not in html

def test_predict_lists_cases_without_roi(tiny, tmp_path):
    "A case whose ROI is absent is listed with its reason, never scored."
    root, cp, run = tiny
    src = tmp_path/'in'; src.mkdir()
    cts = sorted((run/'preprocess'/'ct').glob('*.nii.gz'))
    shutil.copy(cts[0], src/'P_OK.nii.gz')
    img = nib.load(str(cts[0])); air = np.full(img.shape, -1000, np.int16)                          # no lungs anywhere
    nib.save(nib.Nifti1Image(air, img.affine), str(src/'P_AIR.nii.gz'))
    r = run_cli('predict', run, src, tmp_path/'pred')
    assert r.returncode == 0, r.stderr[-2000:]
    df = pd.read_csv(tmp_path/'pred'/'predictions.csv').set_index('patient_id')
    assert np.isfinite(df.loc['P_OK', 'prob']) and np.isnan(df.loc['P_AIR', 'prob'])
    assert 'ROI' in df.loc['P_AIR', 'reason'] and 'not scored P_AIR' in r.stdout

def test_predict_bad_inputs(tiny, tmp_path):
    root, cp, run = tiny
    r = run_cli('predict', tmp_path, root/'data'/'dicom', tmp_path/'o')                            # not a run folder
    assert r.returncode == 2 and 'not a run folder' in r.stderr and 'Traceback' not in r.stderr
    r = run_cli('predict', run, root/'data'/'dicom', tmp_path/'o', '--mode', 'crop')                # no model for that mode
    assert r.returncode == 2 and "no trained model for mode 'crop'" in r.stderr and 'trained modes: zero' in r.stderr
    empty = tmp_path/'empty'; empty.mkdir(); (empty/'notes.txt').write_text('no CT here')
    r = run_cli('predict', run, empty, tmp_path/'o2')                                                # no CT series
    assert r.returncode == 2 and 'no usable CT' in r.stderr and 'Traceback' not in r.stderr

def test_evaluate_internal_and_external(tiny, tmp_path):
    root, cp, run = tiny
    cfg = yaml.safe_load(cp.read_text())
    man = pd.read_csv(run/'mask'/'manifest.csv', dtype={'patient_id': str})
    test_ids = set(man[man.split == 'test'].patient_id)
    lab = pd.read_csv(cfg['data']['labels_csv'], dtype={'patient_id': str})
    lab[lab.patient_id.isin(test_ids)].drop(columns=['split']).to_csv(tmp_path/'test_labels.csv', index=False)
    own = dict(cfg, run_id='own_test', data=dict(cfg['data'], labels_csv=str(tmp_path/'test_labels.csv')))
    (tmp_path/'own.yaml').write_text(yaml.safe_dump(own))
    r = run_cli('evaluate', run, tmp_path/'own.yaml')
    assert r.returncode == 0, r.stderr[-2000:]
    ext = pd.read_csv(run/'external'/'own_test'/'external.csv').set_index('mode')
    m = json.loads((run/'train'/'zero'/'metrics.json').read_text())
    assert ext.loc['zero', 'external_n'] == m['n_test']
    assert abs(ext.loc['zero', 'external_auc'] - m['auc']) < 1e-9 and abs(ext.loc['zero', 'drop']) < 1e-9   # its own test set: the internal AUC again
    # a different cohort (other seed): AUC and the drop are reported
    from ct_mask_cls.synth import make_demo_cohort
    make_demo_cohort(tmp_path/'other', n=8, size=32, seed=7, progress=False)
    other = dict(cfg, run_id='other', data=dict(dicom_dir=str(tmp_path/'other'/'dicom'), labels_csv=str(tmp_path/'other'/'labels.csv')))
    (tmp_path/'other.yaml').write_text(yaml.safe_dump(other))
    r = run_cli('evaluate', run, tmp_path/'other.yaml')
    assert r.returncode == 0, r.stderr[-2000:]
    ext = pd.read_csv(run/'external'/'other'/'external.csv').set_index('mode')
    assert ext.loc['zero', 'external_n'] == 8 and np.isclose(ext.loc['zero', 'drop'], ext.loc['zero', 'internal_auc'] - ext.loc['zero', 'external_auc'])
    assert 'drop' in r.stdout

@pytest.mark.parametrize('section,key,value', [('mask', 'roi', ['liver']), ('preprocess', 'spacing', [3.0, 3.0, 3.0])])
def test_evaluate_refuses_other_settings(tiny, tmp_path, section, key, value):
    root, cp, run = tiny
    cfg = yaml.safe_load(cp.read_text()); cfg.setdefault(section, {})[key] = value; cfg['run_id'] = 'x'
    (tmp_path/'x.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('evaluate', run, tmp_path/'x.yaml')
    assert r.returncode == 2 and f"setting '{section}.{key}'" in r.stderr and 'Traceback' not in r.stderr

def test_export_torchscript_without_the_package(tiny, tmp_path):
    root, cp, run = tiny
    r = run_cli('export', run, tmp_path/'exp')
    assert r.returncode == 0, r.stderr[-2000:]
    settings = json.loads((tmp_path/'exp'/'preprocessing.json').read_text())
    assert settings['roi_totalsegmentator_ids'] and settings['input_size'] and 0 < settings['threshold'] < 1
    import onnx
    onnx.checker.check_model(onnx.load(str(tmp_path/'exp'/'model.onnx')))                       # the ONNX model exported cleanly
    assert settings['onnx'] == 'model.onnx'
    card = (tmp_path/'exp'/'MODEL_CARD.md').read_text()
    assert 'AUC' in card and 'Intended use' in card and 'Limitations' in card and 'torch' in card
    # a real input of a test case, built by the package, saved as a plain tensor file
    from ct_mask_cls.data import input_spec, make_dataset, records
    from ct_mask_cls.train import load_trained
    import torch
    cfg = load_config(cp); man = pd.read_csv(run/'mask'/'manifest.csv', dtype={'case_id': str, 'patient_id': str}, keep_default_na=False)
    spec = input_spec(cfg, 'zero', json.loads((run/'mask'/'manifest.json').read_text()))
    x = torch.stack([d['image'] for d in make_dataset(records(man, 'test'), spec)])
    with torch.no_grad(): eager = load_trained(cfg, spec, run/'train'/'zero')(x).numpy()
    torch.save(x, tmp_path/'x.pt')
    code = ("import sys, torch; m = torch.jit.load(sys.argv[1]); y = m(torch.load(sys.argv[2])).detach().numpy(); "
            "assert not any(k.startswith('ct_mask_cls') for k in sys.modules); import numpy; numpy.save(sys.argv[3], y)")
    p = subprocess.run([sys.executable, '-c', code, str(tmp_path/'exp'/'model.ts'), str(tmp_path/'x.pt'), str(tmp_path/'y.npy')],
                       cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=''))
    assert p.returncode == 0, p.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path/'y.npy'), eager, atol=1e-5)
