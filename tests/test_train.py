"Training is reproducible: same config -> same metrics; a run killed mid-training and resumed ends where an uninterrupted run ends."
import json
import signal
import subprocess
import sys
import time
import numpy as np, pandas as pd, pytest, torch, yaml
from ct_mask_cls.core import load_config
from conftest import masked_cohort

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

FIT = """
import sys, json, pandas as pd
from ct_mask_cls.core import load_config
from ct_mask_cls import train as trn
from ct_mask_cls.mask_stage import read_manifest, spec_for

cfg = load_config(sys.argv[1]); man, _ = read_manifest(cfg.run_dir); spec = spec_for(cfg, cfg.run_dir, 'zero')
trn.fit(cfg, man, spec, sys.argv[3], sys.argv[4], progress=False)
print(json.dumps(trn.evaluate_model(cfg, man, spec, sys.argv[3], sys.argv[4])))
"""

@pytest.fixture(scope='module')
def masked(tmp_path_factory):
    "A tiny cohort through preprocess, segment and mask; returns (config path, manifest path)."
    t = tmp_path_factory.mktemp('train')
    cfg = load_config(masked_cohort(t, 8, epochs=6, batch_size=2))
    (t/'fit.py').write_text(FIT)
    return t, t/'c.yaml', cfg.run_dir/'mask'/'manifest.csv'

def _fit(t, cp, man, out, **kw):
    return subprocess.Popen([sys.executable, str(t/'fit.py'), str(cp), str(man), str(out), str(t/'cache')], stdout=subprocess.PIPE, text=True, **kw)

def test_same_config_same_metrics(masked):
    t, cp, man = masked
    outs = [json.loads(_fit(t, cp, man, t/f'det{i}').communicate(timeout=600)[0].strip().splitlines()[-1]) for i in range(2)]
    assert outs[0] == outs[1]
    p = [pd.read_csv(t/f'det{i}'/'predictions.csv') for i in range(2)]
    pd.testing.assert_frame_equal(p[0], p[1])
    h = [pd.read_csv(t/f'det{i}'/'history.csv') for i in range(2)]
    np.testing.assert_array_equal(h[0].train_loss.values, h[1].train_loss.values)
    assert len(h[0]) == 6

def test_killed_then_resumed_matches_uninterrupted(masked):
    t, cp, man = masked
    ref = _fit(t, cp, man, t/'ref').communicate(timeout=600)[0].strip().splitlines()[-1]
    out = t/'killed'; pr = _fit(t, cp, man, out)
    ck, t0 = out/'checkpoint.pt', time.time()
    while time.time() - t0 < 300:                       # kill as soon as epoch 2's checkpoint lands (epoch 3 is running)
        if ck.exists() and torch.load(ck, weights_only=True)['state']['epoch'] >= 2: break
        time.sleep(0.02)
    pr.send_signal(signal.SIGKILL); pr.wait()
    done = torch.load(ck, weights_only=True)['state']['epoch']
    assert 2 <= done < 6, done                          # really interrupted before the end
    assert not (out/'metrics.json').exists()
    res = _fit(t, cp, man, out).communicate(timeout=600)[0].strip().splitlines()[-1]   # train.resume defaults to true
    assert json.loads(res) == json.loads(ref)
    h, hr = pd.read_csv(out/'history.csv'), pd.read_csv(t/'ref'/'history.csv')
    np.testing.assert_array_equal(h.train_loss.values, hr.train_loss.values)
    np.testing.assert_array_equal(h.val_loss.values, hr.val_loss.values)

def test_resume_ignores_checkpoint_from_other_settings(masked, tmp_path):
    t, cp, man = masked
    d = yaml.safe_load(cp.read_text()); d['train']['lr'] = 0.01
    cp2 = tmp_path/'c2.yaml'; cp2.write_text(yaml.safe_dump(d))
    import shutil; shutil.copytree(t/'ref', tmp_path/'out')                     # a finished checkpoint made with lr 0.002
    r = _fit(t, cp2, man, tmp_path/'out').communicate(timeout=600)[0]
    h = pd.read_csv(tmp_path/'out'/'history.csv')
    assert len(h) == 6 and not np.array_equal(h.train_loss.values, pd.read_csv(t/'ref'/'history.csv').train_loss.values)

def test_kfold_study(masked):
    "k-fold: every usable patient is tested exactly once per mode; mean ± SD per mode."
    from ct_mask_cls.study_stage import kfold_study
    t, cp, man = masked
    cfg = load_config(cp); cfg.study.folds = 2; cfg.train.epochs = 2
    summary = kfold_study(cfg, cfg.run_dir, progress=False)
    per = pd.read_csv(cfg.run_dir/'study'/'kfold.csv')
    assert sorted(summary['mode']) == ['none', 'zero'] and (summary.folds == 2).all()
    assert set(summary.columns) >= {'auc_mean', 'auc_sd'}
    n_ok = (pd.read_csv(man).status == 'ok').sum()
    tested = []
    for k in range(2):
        p = pd.read_csv(cfg.run_dir/'study'/'kfold'/f'fold{k}'/'zero'/'predictions.csv')
        assert not set(p[p.split == 'test'].patient_id) & set(p[p.split == 'val'].patient_id)
        tested += list(p[p.split == 'test'].patient_id)
    assert sorted(tested) == sorted(pd.read_csv(man).query("status == 'ok'").patient_id)   # the test folds partition the patients
    assert len(tested) == n_ok and sorted(zip(per.fold, per['mode'])) == [(k, m) for k in range(2) for m in ('none', 'zero')]
    assert np.allclose(summary.set_index('mode').auc_mean, per.groupby('mode').auc.mean()[summary['mode']].values)
