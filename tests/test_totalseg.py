"""The real TotalSegmentator code path, offline: `totalsegmentator()` runs on stand-in nnU-Net weights (tests/standin_nnunet.py,
test scaffolding) built at test time, under a guard that makes every network connection fail and records it."""
import json, os, subprocess, sys
import nibabel as nib, numpy as np, pytest
from ct_mask_cls.core import SegmentConfig, save_nifti
from ct_mask_cls.segment import segment, total_classes
from ct_mask_cls.synth import make_phantom
from standin_nnunet import make_standin_weights, expected_labels
from conftest import run_cli

from conftest import GUARD

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

@pytest.fixture(scope='module')
def home(tmp_path_factory):
    "A TotalSegmentator home whose nnunet/results holds the stand-in Dataset297 (fast) and Dataset298 (roi_subset crop) models."
    h = tmp_path_factory.mktemp('totalseg_home')
    make_standin_weights(h/'nnunet'/'results')
    return h

@pytest.fixture
def guard(tmp_path):
    "Environment for a subprocess (and the workers nnU-Net spawns) in which network connections fail and are logged."
    d = tmp_path/'guard'; d.mkdir(); (d/'sitecustomize.py').write_text(GUARD)
    log = tmp_path/'net.log'
    env = dict(os.environ, NETGUARD_LOG=str(log), PYTHONPATH=os.pathsep.join([str(d)] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
    env.pop('TOTALSEG_WEIGHTS_PATH', None)
    return env, log

def test_guard_catches_a_connection(guard):
    env, log = guard
    for code in ("import socket; socket.socket().connect(('127.0.0.1', 9))", "import urllib.request; urllib.request.urlopen('http://example.org', timeout=1)"):
        r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
        assert r.returncode != 0
    txt = log.read_text()
    assert "connect ('127.0.0.1', 9)" in txt and "getaddrinfo 'example.org'" in txt    # the guard notices real attempts

def test_real_ct_on_the_real_code_path(realdata, home, tmp_path):
    ct = realdata/'totalseg_example'/'example_ct_sm.nii.gz'
    cfg = SegmentConfig(backend='totalsegmentator', fast=True, device='cpu', weights_dir=str(home), threads=1)
    info = segment(ct, tmp_path/'seg.nii.gz', cfg, roi_names=None)
    assert info['backend'] == 'totalsegmentator' and info['fast'] is True, info                  # no fallback
    src, out = nib.load(str(ct)), nib.load(str(tmp_path/'seg.nii.gz'))
    assert out.shape == src.shape and np.allclose(out.affine, src.affine, atol=1e-4)        # the input's grid
    seg = np.asarray(out.dataobj)
    assert set(np.unique(seg)) - {0} <= set(total_classes())                                # TotalSegmentator's label ids
    assert (seg == expected_labels(np.asarray(src.dataobj))).mean() > 0.95                  # the stand-in's HU rule, through nnU-Net's real pipeline
    rec = json.loads((tmp_path/'seg.json').read_text())
    assert rec['backend'] == 'totalsegmentator' and rec['version'] and rec['fast'] is True and rec['task'] == 'total'
    assert json.loads((home/'config.json').read_text())['send_usage_stats'] is False

def test_cli_roi_subset_opens_no_connection(realdata, home, guard, tmp_path):
    env, log = guard
    ct = realdata/'totalseg_example'/'example_ct_sm.nii.gz'
    r = run_cli('segment', ct, tmp_path/'liver.nii.gz', '--backend', 'totalsegmentator', '--roi', 'liver', '--device', 'cpu', '--weights-dir', home, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not log.exists() or log.read_text() == '', log.read_text()                      # no connection attempted, by any process
    out = nib.load(str(tmp_path/'liver.nii.gz')); seg = np.asarray(out.dataobj)
    assert out.shape == nib.load(str(ct)).shape
    assert set(np.unique(seg)) == {0, 5}                                                     # roi_subset: only the liver (id 5) is kept
    assert json.loads((tmp_path/'liver.json').read_text())['roi_subset'] == ['liver']

def test_demo_case(home, tmp_path):
    ph = make_phantom(np.random.default_rng(3), label=0, marker=False, size=48)
    ras = lambda a: np.flip(a.transpose(2, 1, 0), (0, 1))                                  # phantom (z, y, x) in LPS -> RAS (x, y, z)
    aff = np.diag([ph['pixel_spacing'], ph['pixel_spacing'], ph['slice_spacing'], 1.0])
    save_nifti(ras(ph['hu']), aff, tmp_path/'ct.nii.gz', dtype=np.int16)
    cfg = SegmentConfig(backend='totalsegmentator', weights_dir=str(home), device='cpu', threads=1)
    segment(tmp_path/'ct.nii.gz', tmp_path/'m.nii.gz', cfg, roi_names=['lungs'])
    seg = np.asarray(nib.load(str(tmp_path/'m.nii.gz')).dataobj); lungs = ras(ph['lungs'])
    assert seg.shape == lungs.shape
    rule = expected_labels(ras(ph['hu']))
    assert (seg == np.where(np.isin(rule, [10]), 10, 0)).mean() > 0.95      # roi lungs keeps lung labels only; the stand-in's HU rule holds
    found = seg == 10                                                        # the stand-in labels lung HU as lung_upper_lobe_left
    assert (found & lungs).sum() > 0.9*lungs.sum()                           # and the phantom's lungs are found

def test_missing_weights_fail_fast_and_offline(guard, tmp_path):
    env, log = guard
    ct = tmp_path/'ct.nii.gz'; save_nifti(np.zeros((8, 8, 8), np.int16), np.eye(4), ct)
    r = run_cli('segment', ct, tmp_path/'o.nii.gz', '--backend', 'totalsegmentator', '--weights-dir', tmp_path/'empty_home', env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'Dataset297_TotalSegmentator_total_3mm_1559subj' in r.stderr and 'totalseg_import_weights' in r.stderr
    assert not log.exists() or log.read_text() == ''
    assert not (tmp_path/'o.nii.gz').exists()

def test_allow_download_without_network_is_a_clear_error(guard, tmp_path):
    "With allow_download and no network, the failed download is one clear line naming the missing weights, not a traceback."
    env, log = guard
    ph = make_phantom(np.random.default_rng(3), label=0, marker=False, size=32)
    save_nifti(ph['hu'].transpose(2, 1, 0), np.diag([2., 2., 2., 1.]), tmp_path/'ct.nii.gz', dtype=np.int16)
    r = run_cli('segment', tmp_path/'ct.nii.gz', tmp_path/'m.nii.gz', '--backend', 'totalsegmentator', '--allow-download',
                '--weights-dir', tmp_path/'empty_home', '--roi', 'liver', env=env)
    assert r.returncode == 2 and 'could not download its weights' in r.stderr and 'Dataset297' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-2000:]
    assert 'getaddrinfo' in log.read_text()                        # it tried, the guard refused, and it said so
