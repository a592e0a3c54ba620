"End-to-end: the CLI runs the whole pipeline on a tiny synthetic cohort and produces real outputs."
import json
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pytest, yaml
from ct_mask_cls.synth import demo_config
from ct_mask_cls.runner import STAGES
from ct_mask_cls.report import notebook_errors
from ct_mask_cls.core import RunLayout
stage_files = lambda run, s: RunLayout(run).stage_files(s)
from conftest import run_cli

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory, tiny_cohort):
    t = tmp_path_factory.mktemp('e2e')
    tiny_cohort(t)
    cfg = demo_config(t/'data', t/'runs', 'tiny', tiny=True)
    cfg.setdefault('xai', {})['native_grid'] = True
    (t/'c.yaml').write_text(yaml.safe_dump(cfg))
    return t, run_cli('run', t/'c.yaml', cwd=t)

def test_run_succeeds(tiny_run):
    t, r = tiny_run
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'report index:' in r.stdout
    said = {l.split(']')[0][1:]: l for l in r.stdout.splitlines() if l.startswith('[') and ' …' in l}
    assert set(said) == set(STAGES), r.stdout                                           # a line as each stage starts
    assert 'left for the run, first run: from the reference rates' in said['preprocess'], said   # an estimate before any timing
    assert 'left for the run, from its timings so far and reference rates scaled' in said['mask'], said   # then scaled to this machine

def test_manifest_and_masks(tiny_run):
    t, r = tiny_run
    man = pd.read_csv(t/'runs/tiny/mask/manifest.csv')
    assert len(man) == 8 and set(man.columns) >= {'case_id', 'patient_id', 'label', 'ct_path', 'mask_path', 'masked_path', 'roi_ml', 'status', 'reason', 'split'}
    ok = man[man.status == 'ok']
    assert len(ok) == 8 and set(ok.split) == {'train', 'val', 'test'}
    assert man.groupby('patient_id').split.nunique().max() == 1
    for p in ok.mask_path:
        assert np.asarray(nib.load(p).dataobj).sum() > 0           # non-empty ROI masks
    from ct_mask_cls.core import load_config, load_nifti
    from ct_mask_cls.data import input_spec, network_input
    cfg, side = load_config(t/'c.yaml'), json.loads((t/'runs/tiny/mask/manifest.json').read_text())
    for r in ok.head(3).itertuples():                                          # the masked view is the network's input, windowed
        spec = input_spec(cfg, cfg.mask.mode, side)
        ct, aff = load_nifti(r.ct_path)
        x = network_input(ct, load_nifti(r.mask_path)[0] > 0, aff, spec)['image'][0].numpy()
        m = load_nifti(r.masked_path)[0]
        w = spec.windows[0]
        np.testing.assert_allclose(np.clip((m - w[0])/(w[1] - w[0]), 0, 1), x, atol=1e-5)

def test_metrics_and_reports(tiny_run):
    t, r = tiny_run
    run = t/'runs/tiny'
    m = json.loads((run/'train/metrics.json').read_text())
    assert {'auc', 'auc_ci_low', 'auc_ci_high', 'brier', 'n_test'} <= set(m) and m['n_test'] == 4
    study = pd.read_csv(run/'study/study.csv')
    assert set(study['mode']) == {'zero', 'none'} and 'delta_auc' in study and 'attention_in_roi' in study
    z = study.set_index('mode').loc['zero']
    assert z.delta_ci_low <= z.delta_auc <= z.delta_ci_high
    assert study.attention_in_roi.between(0, 1).all()
    # the configured mode's model is reused by the study, not retrained
    assert (run/'train/zero/best_model.pt').exists() and (run/'train/none/best_model.pt').exists() and not (run/'study/seeds').exists()
    for s in STAGES:
        nb, html, _ = stage_files(run, s)
        assert nb.exists() and html.exists(), s
        assert notebook_errors(nb) == [], s
    idx = (run/'index.html').read_text()
    assert all(f'{i+1:02d}_{s}.html' in idx for i, s in enumerate(STAGES[:-1]))
    # the hardware the configured mode trained on, as its record has it (CPU kernels shape the numbers)
    import torch
    mach = json.loads((run/'train/zero/fit.json').read_text())['summary']['machine']
    assert mach['cpu_kernels'] == torch.backends.cpu.get_cpu_capability() and mach['threads'] >= 1
    assert f"torch CPU kernels {mach['cpu_kernels']}" in idx
    for s in ('preprocess', 'segment', 'mask', 'train', 'xai', 'study'):            # the reports show their figures
        assert '<img' in stage_files(run, s)[1].read_text(), s
    assert 'backend' in (run/'02_segment.html').read_text() and 'threshold' in (run/'02_segment.html').read_text()

def test_maps_on_the_native_grid(tiny_run):
    "xai.native_grid: each map also on the converted series' own grid, its peak at the same world position as on the preprocessed grid."
    t, r = tiny_run
    run = t/'runs'/'tiny'; cases = pd.read_csv(run/'preprocess'/'cases.csv', dtype={'case_id': str}).set_index('case_id')
    x = pd.read_csv(run/'xai'/'zero'/'cases.csv', dtype={'case_id': str})
    assert len(x) and x.nifti_native.notna().all()
    for row in x.itertuples():
        cam, nat = nib.load(str(run/'xai'/'zero'/row.nifti)), nib.load(cases.native_path[row.case_id])
        nm = nib.load(str(run/'xai'/'zero'/row.nifti_native))
        assert nm.shape == nat.shape[:3] and np.allclose(nm.affine, nat.affine)
        a, b = np.asarray(cam.dataobj), np.asarray(nm.dataobj)
        if a.max() <= 0: continue
        centre = lambda img, arr: img.affine[:3, :3] @ (np.argwhere(arr > 0).T @ arr[arr > 0]/arr[arr > 0].sum()) + img.affine[:3, 3]   # the map's world centre of mass
        d = np.linalg.norm(centre(cam, a) - centre(nm, b))
        assert d <= np.abs(np.diag(cam.affine)[:3]).max(), (row.case_id, d)          # within one voxel of the preprocessed grid

def test_rerun_reuses_stages(tiny_run):
    t, r = tiny_run
    made = lambda: {p: p.stat().st_mtime_ns for ext in ('*.nii.gz', '*.pt', '*.ipynb') for p in (t/'runs'/'tiny').rglob(ext)}
    before = made()
    r2 = run_cli('run', t/'c.yaml', cwd=t)
    assert r2.returncode == 0 and r2.stdout.count('reused') == len(STAGES), r2.stdout
    assert len(before) > 20 and made() == before                   # volumes, models and stage notebooks untouched

def test_failed_stage_keeps_partial_notebook(tiny_run, tmp_path):
    t, r = tiny_run
    cfg = yaml.safe_load((t/'c.yaml').read_text()); cfg['run_id'] = 'broken'; cfg['mask']['roi'] = ['liver']   # threshold backend has no liver
    (tmp_path/'b.yaml').write_text(yaml.safe_dump(cfg))
    r2 = run_cli('run', tmp_path/'b.yaml', cwd=tmp_path)
    assert r2.returncode == 1
    assert "stage 'mask' failed" in r2.stderr or "stage 'mask' failed" in r2.stdout or 'failed in cell' in r2.stderr
    nb, html, _ = stage_files(Path(cfg['out_dir'])/'broken', 'mask')
    assert nb.exists() and not html.exists() and notebook_errors(nb)

def test_reports_are_clean_and_self_contained(tiny_run):
    "No warning in any report, no script or resource from elsewhere, and light pages."
    import re
    t, r = tiny_run
    run = t/'runs/tiny'
    for s in STAGES:
        nb, html, _ = stage_files(run, s)
        outs = [o for c in json.loads(nb.read_text())['cells'] for o in c.get('outputs', [])]
        text = ' '.join(''.join(o.get('text', '')) + ''.join(o.get('data', {}).get('text/plain', '')) + ''.join(o.get('data', {}).get('text/html', '')) for o in outs)
        hit = re.search(r'INFO|WARNING|Warning|Traceback', text)
        assert not hit, (s, text[max(0, hit.start()-300):hit.start()+300] if hit else '')              # no log line of any source
        body = re.sub(r'<[^>]+>', ' ', html.read_text())
        assert not re.search(r'INFO|WARNING|Warning|Traceback', body), s                                # nor in the page's text
        assert not any(o.get('name') == 'stderr' for o in outs), (s, [''.join(o['text'])[:300] for o in outs if o.get('name') == 'stderr'])   # nothing printed to stderr reaches a report
        page = html.read_text()
        assert '<script' not in page and '<link' not in page and '@import' not in page, s
        assert not re.search(r"src=[\"']?(https?:)?//", page), s                    # every image is inline or a file beside the page
        assert html.stat().st_size < 1_500_000, (s, html.stat().st_size)

def test_stage_notebook_defaults_are_a_smoke_test(tmp_path, monkeypatch):
    "Opened on its own (no parameters) and run where it lies, as JupyterLab does, every stage notebook builds a tiny cohort outside nbs/ and runs. git status stays clean."
    import papermill as pm, subprocess
    root = Path(__file__).resolve().parents[1]; stages = root/'nbs'/'stages'
    monkeypatch.setenv('CT_MASK_CLS_SMOKE_DIR', str(tmp_path/'smoke'))
    before = subprocess.run(['git', 'status', '--porcelain'], cwd=root, capture_output=True, text=True).stdout
    for s in STAGES:
        pm.execute_notebook(str(stages/f'{s}.ipynb'), str(tmp_path/f'{s}.ipynb'), cwd=str(stages), kernel_name='python3', progress_bar=False)
        assert notebook_errors(tmp_path/f'{s}.ipynb') == [], s
    st = pd.read_csv(tmp_path/'smoke'/'runs'/'tiny'/'study'/'study.csv')
    assert set(st['mode']) == {'zero', 'none'}
    assert subprocess.run(['git', 'status', '--porcelain'], cwd=root, capture_output=True, text=True).stdout == before

def test_reports_in_a_real_browser(tiny_run):
    "Every page of the run in headless Chromium: no console error, no broken image, no request leaving the machine."
    import shutil
    pytest.importorskip('playwright')
    if not (shutil.which('chromium') or Path('/usr/bin/chromium').exists()): pytest.skip('Debian chromium not installed')
    t, r = tiny_run
    r = run_cli('publish', t/'runs', t/'site')
    assert r.returncode == 0, r.stderr
    r2 = run_cli('check-reports', t/'runs/tiny', '--site', t/'site')
    assert r2.returncode == 0, r2.stdout + r2.stderr
    viewers = list((t/'runs/tiny/xai').glob('*/viewer/*.html'))
    assert viewers and r2.stdout.count('ok  ') == len(STAGES) + len(viewers) + 1 and 'FAIL' not in r2.stdout, r2.stdout   # every page, every viewer, the site
    shots = {p.name for p in (t/'runs/tiny/screenshots').glob('*.png')}
    assert 'index.png' in shots and any(s.startswith('viewer_') for s in shots) and len(shots) >= 3

def test_ten_patient_demo_says_it_cannot_be_interpreted(tmp_path):
    "A 10-patient demo runs, and its index says that its results cannot be interpreted, and why."
    r = run_cli('demo', '--kind', 'chest', '--cases', '10', '--out', tmp_path/'out', cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    idx = (tmp_path/'out'/'demo-chest'/'index.html').read_text()
    assert 'These results cannot be interpreted' in idx
    assert 'test patients: every AUC and ΔAUC has a very wide CI' in idx
    assert 'HU-threshold fallback' in idx                                              # the masks' source is a caveat too
    assert not (tmp_path/'data').exists()                                               # the demo writes only under --out

def test_stages_on_the_run_kernel_give_what_a_kernel_each_gives(tiny_run):
    "The CLI ran every stage on the run's one kernel (`fresh_stage` between them); a kernel per stage gives the same results."
    import dataclasses
    from ct_mask_cls.core import load_config
    from ct_mask_cls.runner import run_stage
    t, r = tiny_run
    assert r.returncode == 0
    own = dataclasses.replace(load_config(t/'c.yaml'), run_id='own-kernels')
    for s in STAGES: run_stage(s, own)                       # each in a kernel started for it alone
    shared, alone = t/'runs/tiny', t/'runs/own-kernels'
    for f, cols in [('mask/manifest.csv', ['case_id', 'status', 'split', 'roi_ml']),
                    ('train/zero/predictions.csv', None), ('study/study.csv', None), ('xai/zero/cases.csv', None)]:
        a, b = pd.read_csv(shared/f), pd.read_csv(alone/f)
        keep = cols or [c for c in a.columns if not a[c].astype(str).str.contains('/').any()]   # paths name the folder
        assert len(a) and len(keep) >= 3, f
        pd.testing.assert_frame_equal(a[keep], b[keep], check_exact=False, rtol=1e-6, obj=f)
    probs = pd.read_csv(shared/'train/zero/predictions.csv').prob
    assert probs.std() > 0                                   # a trained model, not a constant
