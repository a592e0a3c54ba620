"Per-case stages on Dask: a real scheduler and two workers started here on loopback, the stand-in TotalSegmentator, a worker killed mid-case."
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pytest, yaml
from conftest import run_cli, guard_env
from ct_mask_cls.core import ExecutorConfig, case_map, RunLayout
from ct_mask_cls.synth import demo_config
from standin_nnunet import make_standin_weights

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

BIN = Path(sys.executable).parent

def start_cluster(folder, env, n=2, memory='0', resources=()):
    "A `dask scheduler` and `n` `dask worker` processes on 127.0.0.1 (worker i offering `resources[i]`, e.g. 'GPU=1'); returns (address, processes)."
    f = Path(folder)/'scheduler.json'; f.unlink(missing_ok=True)
    env = dict(env, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES='0',          # a case that kills its worker is not retried on the next one
               DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION='1.0',           # a worker holds only the cases it is running, so no other case shares its death
               PYTHONPATH=os.pathsep.join([env.get('PYTHONPATH', ''), str(Path(__file__).parent)]))   # workers can import this module's test task
    log = open(Path(folder)/'dask.log', 'a')
    procs = [subprocess.Popen([str(BIN/'dask'), 'scheduler', '--host', '127.0.0.1', '--port', '0', '--no-dashboard', '--scheduler-file', str(f)], env=env, stdout=log, stderr=log)]
    for _ in range(50):
        if f.exists() and f.stat().st_size: break
        time.sleep(0.2)
    addr = json.loads(f.read_text())['address']
    for i in range(n):
        procs.append(subprocess.Popen([str(BIN/'dask'), 'worker', addr, '--nthreads', '1', '--nworkers', '1', '--no-dashboard', '--host', '127.0.0.1',
                                       '--memory-limit', memory, '--name', f'w{i}'] + (['--resources', resources[i]] if i < len(resources) and resources[i] else []),
                                      env=env, stdout=log, stderr=log))
    from distributed import Client
    with Client(addr, timeout='20s') as c: c.wait_for_workers(n, timeout=60)
    return addr, procs

def stop(procs):
    for p in procs[::-1]: p.terminate()
    for p in procs:
        try: p.wait(timeout=15)
        except subprocess.TimeoutExpired: p.kill(); p.wait(timeout=15)

@pytest.fixture
def cohort(tmp_path, tiny_cohort):
    tiny_cohort(tmp_path)
    return tmp_path

def test_dask_workers_run_the_per_case_stages_offline(cohort, tmp_path):
    "preprocess, segment (the real TotalSegmentator code on stand-in weights) and mask, one Dask task per case; no connection beyond loopback."
    home = tmp_path/'totalseg'; make_standin_weights(home/'nnunet'/'results')
    env, log = guard_env(tmp_path, allow_loopback=True)
    addr, procs = start_cluster(tmp_path, env, resources=['', 'GPU=1'])        # w1 stands for the GPU worker (a Dask resource is a label)
    try:
        cfg = demo_config(cohort/'data', tmp_path/'runs', 'dask', tiny=True)
        cfg['segment'] = dict(backend='totalsegmentator', weights_dir=str(home), device='cpu', threads=1)
        cfg['executor'] = dict(kind='dask', address=addr, gpus_per_task=1)
        (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
        for s in ('preprocess', 'segment', 'mask'):
            r = run_cli('stage', s, tmp_path/'c.yaml', env=env); assert r.returncode == 0, (s, r.stdout[-1500:], r.stderr[-3000:])
        cfg['executor']['gpus_per_task'] = 2                                   # no worker offers two GPUs: refused before any stage
        (tmp_path/'c2.yaml').write_text(yaml.safe_dump(cfg))
        r = run_cli('run', tmp_path/'c2.yaml', env=env)
        assert r.returncode == 2 and 'executor.gpus_per_task' in r.stderr and addr in r.stderr, r.stderr[-2000:]
    finally: stop(procs)
    run = RunLayout(tmp_path/'runs'/'dask')
    seg = pd.read_csv(run.segments_csv)
    assert (seg.status == 'ok').all() and (seg.backend == 'totalsegmentator').all() and len(seg) == 8
    ran_on = {json.loads(run.seg_record(c).read_text())['worker'] for c in seg.case_id.astype(str)}
    assert ran_on == {'w1'}, ran_on                                            # every segment task went to the worker with the GPU resource
    man = pd.read_csv(run.manifest_csv)
    assert (man.status == 'ok').sum() == 8
    assert not log.exists() or log.read_text() == '', log.read_text()[:2000]                    # nothing beyond loopback

def _kill_on(item):
    if item == 3: os.kill(os.getpid(), signal.SIGKILL)
    return item*10

def test_a_case_that_kills_its_worker_is_reported_and_the_others_finish(tmp_path):
    env, _ = guard_env(tmp_path, allow_loopback=True)
    addr, procs = start_cluster(tmp_path, env)
    try:
        out = case_map(_kill_on, range(6), 1, 'kill test', False, ExecutorConfig(kind='dask', address=addr), lambda i, why: f'failed: {why}')
    finally: stop(procs)
    assert out[:3] == [0, 10, 20] and out[4:] == [40, 50]
    assert out[3].startswith('failed: its worker process died')

def test_preprocess_oom_case_on_dask_and_rerun_redoes_only_it(cohort, tmp_path):
    "A case too big for its worker's memory kills the worker (the nanny's memory limit): it is listed with the reason, the others finish; a rerun redoes only it."
    src = tmp_path/'nifti'; src.mkdir()
    r = run_cli('convert', cohort/'data'/'dicom', tmp_path/'conv'); assert r.returncode == 0, r.stderr
    for p in sorted((tmp_path/'conv').rglob('*.nii.gz'))[:4]: shutil.copy(p, src/p.name)
    big = np.full((512, 512, 1200), -1000, np.int16); big[200:300, 200:300, 300:400] = 40        # 2.5 GB once read as float64
    nib.save(nib.Nifti1Image(big, np.diag([0.7, 0.7, 1.0, 1.0])), str(src/'HUGE.nii.gz')); del big
    env, _ = guard_env(tmp_path, allow_loopback=True)
    addr, procs = start_cluster(tmp_path, env, memory='2GB')                   # a normal case needs about 1 GB
    try:
        cfg = dict(run_id='oom', out_dir=str(tmp_path/'runs'), data=dict(nifti_dir=str(src), labels_csv=str(cohort/'data'/'labels.csv')),
                   preprocess=dict(spacing=[6.0]*3), executor=dict(kind='dask', address=addr))
        (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
        from ct_mask_cls.core import load_config
        from ct_mask_cls.pipeline import stage_preprocess
        c = load_config(tmp_path/'c.yaml')
        cases = stage_preprocess(c, progress=False)['cases'].set_index('case_id')
        assert cases.loc['HUGE', 'status'] == 'failed' and 'worker process died' in cases.loc['HUGE', 'reason']
        assert (cases.drop(index='HUGE').status == 'ok').all()
        run = RunLayout(c.run_dir)
        before = {p.name: p.stat().st_mtime_ns for p in (run.root/'preprocess'/'ct').glob('*.nii.gz')}
        cases = stage_preprocess(c, progress=False)['cases'].set_index('case_id')
        assert cases.loc['HUGE', 'status'] == 'failed'                                            # tried again (still too big) ...
        assert {p.name: p.stat().st_mtime_ns for p in (run.root/'preprocess'/'ct').glob('*.nii.gz')} == before   # ... the others reused
    finally: stop(procs)

def test_unreachable_scheduler_fails_fast(cohort, tmp_path):
    cfg = demo_config(cohort/'data', tmp_path/'runs', 'x', tiny=True); cfg['executor'] = dict(kind='dask', address='tcp://127.0.0.1:9')
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('run', tmp_path/'c.yaml')
    assert r.returncode == 2 and 'tcp://127.0.0.1:9' in r.stderr and 'ConnectionRefusedError' in r.stderr, r.stderr
    assert not list((tmp_path/'runs').rglob('*.nii.gz')), 'a stage ran before the check'      # refused before any work

REUSE = r'''
import sys, numpy as np, nibabel as nib
from ct_mask_cls.core import SegmentConfig
from ct_mask_cls.segment import segment
home, ct, out, reuse = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == '1'
cfg = SegmentConfig(backend='totalsegmentator', weights_dir=home, device='cpu', threads=1, reuse_model=reuse)
for i in range(2): segment(ct, f'{out}_{i}.nii.gz', cfg, ['liver'] if i else None)
'''

def test_kept_predictor_gives_the_same_masks_as_fresh_calls(tmp_path):
    "The predictor kept loaded (segment.reuse_model) gives TotalSegmentator's fresh-call masks voxel for voxel, with and without a roi_subset."
    import ct_mask_cls
    ct = Path(ct_mask_cls.__file__).parent/'reference'/'example_ct_sm.nii.gz'                    # the small real CT shipped with the package
    home = tmp_path/'home'; make_standin_weights(home/'nnunet'/'results')
    for reuse in ('0', '1'):
        r = subprocess.run([sys.executable, '-c', REUSE, str(home), str(ct), str(tmp_path/f'm{reuse}'), reuse], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
    for i in range(2):
        a, b = (np.asarray(nib.load(str(tmp_path/f'm{x}_{i}.nii.gz')).dataobj) for x in '01')
        assert a.any() and (a == b).all()

def test_gradcam_on_dask_workers_matches_in_process(tmp_path):
    "The xai stage with one task per case on a local Dask cluster gives the maps and metrics of the in-process run."
    import dataclasses
    from ct_mask_cls.core import load_config, close_dask_clients
    from ct_mask_cls.pipeline import stage_xai
    from ct_mask_cls.kit import tiny_setup
    cp, run = tiny_setup('xai', tmp_path)
    cfg = load_config(cp)
    ref = stage_xai(cfg, progress=False).sort_values(['case_id', 'method']).reset_index(drop=True)
    maps = {r.nifti: nib.load(str(RunLayout(run).xai_dir('zero')/r.nifti)).get_fdata() for r in ref.itertuples()}
    cfg = dataclasses.replace(cfg, executor=ExecutorConfig(kind='dask', n_workers=2))
    got = stage_xai(cfg, progress=False, force=True).sort_values(['case_id', 'method']).reset_index(drop=True)
    close_dask_clients()
    num = [c for c in ref.columns if ref[c].dtype.kind == 'f']
    pd.testing.assert_frame_equal(got.drop(columns=num), ref.drop(columns=num))
    np.testing.assert_allclose(got[num].values, ref[num].values, rtol=1e-4, atol=1e-6)
    for r in got.itertuples():
        m = nib.load(str(RunLayout(run).xai_dir('zero')/r.nifti)).get_fdata()
        np.testing.assert_allclose(m, maps[r.nifti], rtol=1e-4, atol=1e-5*max(1e-6, np.abs(maps[r.nifti]).max()))
