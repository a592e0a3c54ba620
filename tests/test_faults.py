"""Faults a hostile or unlucky user meets, each injected and its outcome asserted: stale results after a settings change, damaged
files, an interrupted config change, overlapping commands, a full disk, redirected logs, odd ids. Every fault ends in a clear error
naming what and where, or recovers with results identical to a clean run; none exits 0 with a changed result."""
import json, os, resource, shutil, signal, subprocess, sys
from pathlib import Path
import numpy as np, pandas as pd, pytest, yaml
from conftest import run_cli
from ct_mask_cls.core import RunLayout, load_config, read_table
from ct_mask_cls.synth import demo_config

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

@pytest.fixture(scope='module')
def base(tmp_path_factory, tiny_cohort):
    "A tiny cohort run to the end through the CLI (study modes zero and none), kept as it finished; each test gets it back in its own folder (`fresh_run`)."
    t = tmp_path_factory.mktemp('faults')
    tiny_cohort(t)
    d = demo_config(t/'data', t/'runs', 'f', tiny=True)
    d['xai'].update(sanity_cases=0)
    (t/'c.yaml').write_text(yaml.safe_dump(d))
    r = run_cli('run', t/'c.yaml')
    assert r.returncode == 0, r.stderr[-3000:]
    shutil.copytree(t/'runs'/'f', t/'pristine', symlinks=True)
    return t

def fresh_run(base):
    "The base run as it finished, put back in its own folder (the files record absolute paths: a copy elsewhere would not be the same run); its config path."
    run = base/'runs'/'f'
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(base/'pristine', run, symlinks=True)
    return base/'c.yaml'

def preds(run, mode='zero'):
    return read_table(RunLayout(run).model_dir(mode)/'predictions.csv').set_index('case_id').prob

def test_a_train_change_retrains_every_mode_and_force_redoes_all(base, tmp_path):
    """After `--set train.lr=...`, the study retrains every mode (not only the configured one); after an xai change every mode's maps
    are redone; `study --force` (the command that once changed nothing) redoes all of it. The first run's output goes to a log
    opened for appending, as under nohup, cron or SLURM: earlier lines stay, in order, with no NUL bytes."""
    cp = fresh_run(base)
    run = load_config(cp).run_dir
    before = {m: preds(run, m) for m in ('zero', 'none')}
    maps = {m: (run/'xai'/m/'xai.json').read_text() for m in ('zero', 'none')}
    log = tmp_path/'run.log'
    log.write_text('first line of the log\n')
    exe = Path(sys.executable).parent/'ct-mask-cls'
    with open(log, 'a') as f:
        r = subprocess.run([str(exe), 'run', str(cp), '--set', 'train.lr=0.02'], stdout=f, stderr=f, timeout=900)
    text = log.read_bytes()
    assert r.returncode == 0, text[-2000:]
    assert b'\x00' not in text and text.startswith(b'first line of the log\n')                # stage kernels append to the log, never truncate it
    assert text.index(b'[train]') < text.index(b'[xai]') < text.index(b'[study]') < text.index(b'[index]')
    for m in ('zero', 'none'):
        assert not np.allclose(preds(run, m).values, before[m].values), m                    # both modes retrained
        assert (run/'xai'/m/'xai.json').read_text() != maps[m], m                            # and re-explained (their models changed)
    after_lr = {m: preds(run, m) for m in ('zero', 'none')}
    stamp = {m: (run/'train'/m/'best_model.pt').stat().st_mtime_ns for m in ('zero', 'none')}
    xj = {m: json.loads((run/'xai'/m/'xai.json').read_text())['key'] for m in ('zero', 'none')}
    r = run_cli('run', cp, '--set', 'train.lr=0.02', '--set', 'xai.n_cases=3')
    assert r.returncode == 0, r.stderr[-2000:]
    for m in ('zero', 'none'):
        assert (run/'train'/m/'best_model.pt').stat().st_mtime_ns == stamp[m]                 # an xai change retrains nothing
        assert json.loads((run/'xai'/m/'xai.json').read_text())['key'] != xj[m]               # but redoes every mode's maps
        assert len(read_table(run/'xai'/m/'cases.csv').case_id.unique()) == 3
    xstamp = {m: (run/'xai'/m/'xai.json').stat().st_mtime_ns for m in ('zero', 'none')}
    r = run_cli('stage', 'study', cp, '--set', 'train.lr=0.02', '--set', 'xai.n_cases=3', '--force')
    assert r.returncode == 0, r.stderr[-2000:]
    for m in ('zero', 'none'):
        assert (run/'train'/m/'best_model.pt').stat().st_mtime_ns != stamp[m], m             # --force: every mode trained again
        assert (run/'xai'/m/'xai.json').stat().st_mtime_ns != xstamp[m], m                   # and explained again
        np.testing.assert_allclose(preds(run, m).values, after_lr[m].values, atol=1e-5)      # to the same result (seeded)

def test_damaged_files_redo_only_their_case(base, tmp_path):
    """A damaged cache entry, mask or native NIfTI: a plain `run` redoes only that case (the stages after the mask are reused: the
    redone files equal the clean ones), and the outputs match a clean run. The cache entry is checked when it is read: retraining
    redoes it, with a line on the terminal, to the same model."""
    cp = fresh_run(base)
    run = load_config(cp).run_dir
    lay = RunLayout(run)
    ref = preds(run)
    man = read_table(lay.manifest_csv)
    cid, other = man.case_id.iloc[0], man.case_id.iloc[1]
    other_ct = lay.ct(other).stat().st_mtime_ns
    entries = sorted((run/'cache').glob(f'{cid}-*.pt'))                                      # one per mode the study trained
    for e in entries: e.write_bytes(e.read_bytes()[:200])                                    # truncated cache entries
    seg = lay.seg(cid)
    seg.write_bytes(bytes(len(seg.read_bytes())))                                            # a mask overwritten with same-size garbage
    nat = Path(read_table(lay.cases_csv).set_index('case_id').native_path[cid])
    nat.write_bytes(nat.read_bytes()[:100])                                                  # a truncated native NIfTI
    r = run_cli('run', cp)
    assert r.returncode == 0, r.stderr[-3000:]
    assert str(nat) in r.stderr and str(seg) in r.stderr and 'damaged' in r.stderr          # said on the terminal, naming the files
    assert lay.ct(other).stat().st_mtime_ns == other_ct                                      # the other cases were not redone
    assert '[mask] reused' in r.stdout and '[train] reused' in r.stdout                     # nor anything made from them
    assert len(read_table(lay.manifest_csv)) == len(man)                                     # no case dropped out
    np.testing.assert_allclose(preds(run).loc[ref.index].values, ref.values, atol=1e-5)      # the same results as the clean run
    r = run_cli('stage', 'train', cp, '--force')
    assert r.returncode == 0, r.stderr[-3000:]
    named = [e for e in entries if f'cache entry {e} is damaged' in r.stderr]                # the configured mode's entry is read, found damaged, said
    assert len(named) == 1, r.stderr[-2000:]
    assert named[0].stat().st_size > 200                                                     # and redone
    np.testing.assert_allclose(preds(run).loc[ref.index].values, ref.values, atol=1e-5)

def test_predict_after_an_interrupted_config_change_uses_the_models_settings(base, tmp_path):
    "A run that changes mask.window is interrupted after the stage that uses it first (mask); predict still applies the trained model's own window."
    cp = fresh_run(base)
    run = load_config(cp).run_dir
    r = run_cli('stage', 'mask', cp, '--set', 'mask.window=[-300,300]')                     # the change starts, nothing after it finishes
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run/'config.pending.yaml').exists()
    assert load_config(run/'config.yaml').mask.window == 'auto'                              # config.yaml still describes what is in the run
    r = run_cli('predict', run, base/'data'/'dicom', tmp_path/'pred')
    assert r.returncode == 0, r.stderr[-2000:]
    got = read_table(tmp_path/'pred'/'predictions.csv').set_index('case_id').prob
    ref = preds(run)
    np.testing.assert_allclose(got.loc[ref.index].values, ref.values, atol=1e-5)

def test_predict_refuses_a_busy_run_and_an_output_inside_it(base, tmp_path):
    cp = fresh_run(base)
    run = load_config(cp).run_dir
    r = run_cli('predict', run, base/'data'/'dicom', run)
    assert r.returncode == 2 and 'inside the run folder' in r.stderr, r.stderr
    r = run_cli('predict', run, base/'data'/'dicom', run/'sub')
    assert r.returncode == 2 and 'inside the run folder' in r.stderr, r.stderr
    holder = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])          # a live process holds the run's lock
    try:
        (run/'.lock').write_text(json.dumps(dict(pid=holder.pid, host=os.uname().nodename, started='now')))
        for args in (('predict', run, base/'data'/'dicom', tmp_path/'p2'), ('export', run, tmp_path/'e'), ('report', run)):
            r = run_cli(*args)
            assert r.returncode == 2 and 'in use by process' in r.stderr, (args, r.stderr)
        assert not (tmp_path/'p2'/'predictions.csv').exists()
    finally:
        holder.kill()
        (run/'.lock').unlink(missing_ok=True)

def test_a_full_disk_names_stage_and_path_and_the_rerun_recovers(base, tmp_path):
    "Writes fail past a file-size limit (the disk-full stand-in that needs no root); the error names the stage and the file; lifted, a plain rerun finishes."
    cp = fresh_run(base)
    run = load_config(cp).run_dir
    ref = preds(run)
    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)                                       # writes past the limit fail with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    exe = Path(sys.executable).parent/'ct-mask-cls'
    r = subprocess.run([str(exe), 'run', str(cp), '--force'], capture_output=True, text=True, preexec_fn=limited, timeout=600)
    assert r.returncode != 0 and 'Traceback' not in r.stderr
    assert "stage '" in r.stderr and str(run) in r.stderr, r.stderr[-2000:]                 # which stage, which file
    for nb in run.glob('[!.]*.ipynb'): json.loads(nb.read_text())                            # no notebook left half-written where a reader looks (a cut-off one stays under .running.*)
    r = run_cli('run', cp)
    assert r.returncode == 0, r.stderr[-3000:]
    np.testing.assert_allclose(preds(run).loc[ref.index].values, ref.values, atol=1e-5)

def test_patient_called_NA_is_a_patient(tmp_path):
    "labels.csv read without NA parsing: the ids NA, null and None are ids like any other, from the labels file to the manifest."
    from ct_mask_cls.core import save_nifti
    from ct_mask_cls.synth import make_phantom
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
    rng = np.random.default_rng(1)
    (tmp_path/'ct').mkdir()
    ids = ['NA', 'null', 'None', 'P1', 'P2', 'P3', 'P4', 'P5']
    for i, pid in enumerate(ids):
        ph = make_phantom(rng, i % 2, False, size=32)
        save_nifti(np.flip(ph['hu'].transpose(2, 1, 0), (0, 1)).copy(), np.diag([ph['pixel_spacing']]*2 + [ph['slice_spacing'], 1.0]), tmp_path/'ct'/f'{pid}.nii.gz', dtype=np.int16)
    pd.DataFrame(dict(patient_id=ids, label=[i % 2 for i in range(8)])).to_csv(tmp_path/'labels.csv', index=False)
    d = demo_config(tmp_path, tmp_path/'runs', 'na', tiny=True)
    d['data'] = dict(nifti_dir=str(tmp_path/'ct'), labels_csv=str(tmp_path/'labels.csv'))
    d['split'] = dict(seed=0, val_frac=0.25, test_frac=0.25)
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(d))
    cfg = load_config(tmp_path/'c.yaml')
    for f in (stage_preprocess, stage_segment, stage_mask): f(cfg, progress=False)   # the stages' own functions, without a kernel each
    man = read_table(tmp_path/'runs'/'na'/'mask'/'manifest.csv')
    assert set(man.case_id) == set(ids) and (man.status == 'ok').all()
