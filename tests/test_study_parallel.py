"The study's modes trained side by side in worker processes give what they give one after another, at the same thread count."
import dataclasses
from pathlib import Path
import pandas as pd, pytest, torch
from ct_mask_cls.core import load_config, RunLayout
from ct_mask_cls.kit import tiny_setup
from ct_mask_cls.study_stage import run_modes, study_workers

pytestmark = pytest.mark.slow                  # trains: left out by `make test-fast`

def _with(cfg, **study): return dataclasses.replace(cfg, study=dataclasses.replace(cfg.study, **study))

def _outputs(lay, modes):
    "Every mode's test predictions and its explanation table, as written."
    return {m: (pd.read_csv(lay.model_dir(m)/'predictions.csv'), pd.read_csv(lay.xai_dir(m)/'cases.csv')) for m in modes}

def test_side_by_side_equals_one_after_another(tmp_path):
    cp, run = tiny_setup('study', tmp_path)
    modes = ['zero', 'none', 'crop']
    cfg, lay = _with(load_config(cp), modes=tuple(modes), workers=2), RunLayout(run)
    w, threads = study_workers(cfg, len(modes))
    assert w == 2 and threads >= 1
    par = run_modes(cfg, run, modes, progress=False, force=True)               # two worker processes, `threads` torch threads each
    assert list(par) == modes                                                  # in the order asked, whatever finished first
    out_par = _outputs(lay, modes)
    n0 = torch.get_num_threads()
    torch.set_num_threads(threads)
    try: seq = run_modes(_with(cfg, workers=1), run, modes, progress=False, force=True)   # here, one after another
    finally: torch.set_num_threads(n0)
    out_seq = _outputs(lay, modes)
    for m in modes:
        pd.testing.assert_frame_equal(out_par[m][0], out_seq[m][0], check_exact=True)       # the same probabilities, bit for bit
        pd.testing.assert_frame_equal(out_par[m][1], out_seq[m][1], check_exact=True)       # the same maps' metrics
        pd.testing.assert_frame_equal(par[m][0][0], seq[m][0][0], check_exact=True)
        assert par[m][1] == seq[m][1] or (par[m][1] != par[m][1] and seq[m][1] != seq[m][1])   # the same Grad-CAM mass in the ROI (NaN alike)
    assert out_par['zero'][0].prob.nunique() > 1                               # a trained model, not a constant

def test_a_failing_mode_stops_the_study_with_its_error(tmp_path):
    cp, run = tiny_setup('study', tmp_path)
    cfg = _with(load_config(cp), modes=('zero', 'none'), workers=2)
    man = pd.read_csv(RunLayout(run).manifest_csv, dtype={'patient_id': str})
    gone = man[(man.split == 'train') & (man.status == 'ok')].mask_path.iloc[0]
    Path(gone).unlink()                                                        # a training case's ROI lost: `zero` cannot read it, `none` needs none
    with pytest.raises(Exception) as e:
        run_modes(cfg, run, ['zero', 'none'], progress=False, force=True)
    assert Path(gone).name in str(e.value), e.value                            # the worker's error, naming the file, reaches the caller
