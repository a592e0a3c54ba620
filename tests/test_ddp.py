"Training under torchrun: 2 CPU processes (gloo) train a tiny cohort, rank 0 alone writes, resume works, and the metrics are compared with one process."
import json, os, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
import torch
from ct_mask_cls.core import load_config, ConfigError, RunLayout
from ct_mask_cls.mask_stage import read_manifest, spec_for
from ct_mask_cls.train_stage import train_mode
from ct_mask_cls import train as trn
from ct_mask_cls.ddp import write_job, torchrun_env
from conftest import guard_env, masked_cohort

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

EPOCHS = 5

@pytest.fixture(scope='module')
def masked(tmp_path_factory):
    "A tiny cohort through preprocess, segment and mask; (folder, config path)."
    t = tmp_path_factory.mktemp('ddp')
    masked_cohort(t, 12, epochs=EPOCHS, batch_size=4)
    return t, t/'c.yaml'

def test_torchrun_two_cpu_processes_write_one_set_of_outputs_and_resume(masked):
    t, cp = masked
    cfg = load_config(cp); man, _ = read_manifest(cfg.run_dir); spec = spec_for(cfg, cfg.run_dir, 'zero')
    out = t/'ddp2'
    job = write_job(cfg, man, spec, out, t/'cache', 0)
    env, log = guard_env(t, allow_loopback=True)
    env.update({k: v for k, v in torchrun_env(2).items() if k in ('OMP_NUM_THREADS', 'GLOO_SOCKET_IFNAME')})
    torchrun = Path(sys.executable).parent/'torchrun'
    r = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', '-m', 'ct_mask_cls.ddp', str(job)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((out/'ddp_result.json').read_text())
    assert res['processes'] == 2 and res['epochs_run'] == EPOCHS
    # one set of outputs: the files one process writes, nothing per rank
    assert sorted(p.name for p in out.iterdir()) == sorted(['best_model.pt', 'checkpoint.pt', 'history.csv', 'val_predictions.csv', 'spec.json',
                                                            'config.yaml', 'fit.json', 'ddp_job.json', 'ddp_manifest.csv', 'ddp_result.json'])   # the model's own config and record
    h = pd.read_csv(out/'history.csv'); assert len(h) == EPOCHS and h.train_loss.notna().all()
    assert not log.exists() or not log.read_text().strip(), log.read_text()          # no connection beyond loopback
    # the weights moved away from their initialisation, and the evaluation of rank 0's model works as for one process
    init = trn.model_for(cfg, spec).state_dict(); best = torch.load(out/'best_model.pt', weights_only=True)
    assert any(not torch.equal(init[k], best[k]) for k in init if init[k].is_floating_point())
    m2 = trn.evaluate_model(cfg, man, spec, out, t/'cache')
    # one process on the same data and seed: report how far the metrics differ (not equal: batch norm sees 2 cases per process, not 4)
    trn.fit(cfg, man, spec, t/'one', t/'cache', progress=False, seed=0); m1 = trn.evaluate_model(cfg, man, spec, t/'one', t/'cache')
    h1 = pd.read_csv(t/'one'/'history.csv')
    print(f"\nN=2 vs N=1 on {len(man)} cases: test AUC {m2['auc']:.3f} vs {m1['auc']:.3f}; final train loss {h.train_loss.iloc[-1]:.3f} vs {h1.train_loss.iloc[-1]:.3f}; "
          f"final val loss {h.val_loss.iloc[-1]:.3f} vs {h1.val_loss.iloc[-1]:.3f}")
    assert abs(h.train_loss.iloc[0] - h1.train_loss.iloc[0]) < 0.5*max(h1.train_loss.iloc[0], 1e-3)   # same data and loss: the first epochs agree in size
    # resume: the finished checkpoint is loaded by both processes, nothing is retrained
    before = (out/'history.csv').read_bytes(); mtime = (out/'best_model.pt').stat().st_mtime_ns
    r = subprocess.run([str(torchrun), '--standalone', '--nproc_per_node=2', '-m', 'ct_mask_cls.ddp', str(job)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out/'history.csv').read_bytes() == before and (out/'best_model.pt').stat().st_mtime_ns == mtime

def test_killed_ddp_training_resumes_where_it_stopped(masked):
    t, cp = masked
    cfg = load_config(cp); cfg.train.epochs = 8; man, _ = read_manifest(cfg.run_dir); spec = spec_for(cfg, cfg.run_dir, 'zero')
    out = t/'killed'; job = write_job(cfg, man, spec, out, t/'cache', 0)
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'ct_mask_cls.ddp', str(job)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=torchrun_env(2), start_new_session=True)
    ck, t0 = out/'checkpoint.pt', time.time()
    while time.time() - t0 < 300:
        if ck.exists():
            try:
                if torch.load(ck, weights_only=True)['state']['epoch'] >= 2: break
            except Exception: pass
        time.sleep(0.05)
    os.killpg(p.pid, 9); p.wait()
    done = torch.load(ck, weights_only=True)['state']['epoch']
    assert 2 <= done < 8, done
    r = subprocess.run(cmd, capture_output=True, text=True, env=torchrun_env(2), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    h = pd.read_csv(out/'history.csv')
    assert h.epoch.tolist() == list(range(1, 9))                 # the epochs before the kill kept, the rest trained once

def test_train_stage_with_nproc_2_runs_torchrun(masked):
    "The train stage with train.nproc: 2 trains through torchrun and evaluates in the stage's process."
    t, cp = masked
    cfg = load_config(cp); cfg.train.nproc = 2; cfg.train.epochs = 3
    m = train_mode(cfg, cfg.run_dir, 'zero', 0, progress=False)
    d = RunLayout(cfg.run_dir).model_dir('zero')
    assert json.loads((d/'ddp_result.json').read_text())['processes'] == 2
    assert 0 <= m['auc'] <= 1 and len(pd.read_csv(d/'history.csv')) == 3 and (d/'predictions.csv').exists()

def test_nproc_that_leaves_one_case_per_process_is_refused_before_training(masked):
    t, cp = masked
    cfg = load_config(cp); cfg.train.nproc = 3                  # batch_size 4 -> shares of 1
    with pytest.raises(ConfigError, match=r'train\.nproc 3.*batch_size 4'): trn.check_model(cfg)
    cfg.train.nproc = 2; cfg.train.freeze_encoder = True
    with pytest.raises(ConfigError, match=r'train\.nproc'): trn.check_model(cfg)
