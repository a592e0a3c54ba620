"""Masks from the `existing` backend through the segment and mask stages, and the ROI rules on real data."""
import json
import nibabel as nib, numpy as np, pandas as pd, pytest, yaml
from ct_mask_cls.core import load_config, save_nifti
from ct_mask_cls.pipeline import stage_preprocess, stage_segment, stage_mask
from ct_mask_cls.segment import total_classes
from ct_mask_cls.synth import make_phantom
from conftest import run_cli

LIVER, BRAIN = 5, {v: k for k, v in total_classes().items()}['brain']
ras = lambda a: np.flip(a.transpose(2, 1, 0), (0, 1)).copy()

def on_ct_grid(masked_path, ct_path) -> np.ndarray:
    "A masked view (the network's FOV, with its own affine) placed on its CT's grid; NaN where the FOV does not reach."
    from ct_mask_cls.mask import fov_window
    x, c = nib.load(str(masked_path)), nib.load(str(ct_path))
    start = np.round(np.linalg.solve(c.affine, x.affine[:, 3])[:3]).astype(int)
    assert np.allclose(x.affine[:3, :3], c.affine[:3, :3])                   # the same voxel grid, shifted
    return fov_window(np.asarray(x.dataobj, np.float32), -start, c.shape, np.nan)

@pytest.fixture(scope='module')
def cohort(tmp_path_factory):
    """NIfTI cohort with masks the dataset 'already has': 10 chest CTs whose mask labels an organ as liver (id 5),
    one head-only CT whose mask has only the brain, one chest CT whose mask is from another field of view,
    one CT with no label, and one label with no CT."""
    t = tmp_path_factory.mktemp('masks'); (t/'ct').mkdir(); (t/'masks').mkdir()
    rng = np.random.default_rng(0); rows = []
    for i in range(11):
        ph = make_phantom(rng, label=i % 2, marker=False, size=32)
        aff = np.diag([ph['pixel_spacing'], ph['pixel_spacing'], ph['slice_spacing'], 1.0])
        ct = ras(ph['hu']); organ = ras(ph['body'] & (ph['hu'] > 0) & (ph['hu'] < 100))   # soft tissue stands in for the user's liver label
        pid = f'C{i:02d}'
        save_nifti(ct, aff, t/'ct'/f'{pid}.nii.gz', dtype=np.int16)
        m = np.where(organ, LIVER, 0).astype(np.uint8)
        if i == 10: aff = aff.copy(); aff[2, 3] += 200.0                               # this mask was made on another field of view
        save_nifti(m, aff, t/'masks'/f'{pid}_seg.nii.gz')
        rows.append(dict(patient_id=pid, label=i % 2))
    head = np.full((24, 24, 20), -1000, np.int16); zz, yy, xx = np.mgrid[:24, :24, :20]
    skull = (xx-11.5)**2 + (yy-11.5)**2 + (zz-9.5)**2 < 100; brain = (xx-11.5)**2 + (yy-11.5)**2 + (zz-9.5)**2 < 70
    head[skull] = 700; head[brain] = 35
    save_nifti(head, np.diag([8., 8., 8., 1.]), t/'ct'/'HEAD.nii.gz', dtype=np.int16)
    save_nifti(np.where(brain, BRAIN, 0).astype(np.uint8), np.diag([8., 8., 8., 1.]), t/'masks'/'HEAD_seg.nii.gz')
    save_nifti(head, np.diag([8., 8., 8., 1.]), t/'ct'/'NOLABEL.nii.gz', dtype=np.int16)
    rows += [dict(patient_id='HEAD', label=1), dict(patient_id='GHOST', label=0)]
    pd.DataFrame(rows).to_csv(t/'labels.csv', index=False)
    cfg = dict(run_id='r', out_dir=str(t/'runs'), data=dict(nifti_dir=str(t/'ct'), labels_csv=str(t/'labels.csv'), mask_dir=str(t/'masks'), mask_pattern='{patient_id}_seg.nii.gz'),
               preprocess=dict(spacing=[8.0, 8.0, 8.0]), segment=dict(backend='existing'), mask=dict(roi=['liver'], mode='zero', min_roi_ml=5.0, fill=None, roi_margin_mm=0.0, rim_mm=0.0),
               split=dict(seed=1, val_frac=0.25, test_frac=0.25))   # seed 0 splits so that masking leaves val one class (tested below)
    (t/'c.yaml').write_text(yaml.safe_dump(cfg)); c = load_config(t/'c.yaml')
    for f in (stage_preprocess, stage_segment, stage_mask): f(c, progress=False)
    return t, c

def test_existing_masks_and_exclusions(cohort):
    t, c = cohort
    man = pd.read_csv(c.run_dir/'mask'/'manifest.csv', dtype={'case_id': str}).set_index('case_id')
    assert (man.loc[[f'C{i:02d}' for i in range(10)], 'status'] == 'ok').all()
    assert man.loc['HEAD', 'status'] == 'excluded' and man.loc['HEAD', 'reason'].startswith('ROI absent')          # head-only CT, ROI liver
    assert man.loc['C10', 'status'] == 'excluded' and 'field of view' in man.loc['C10', 'reason']                  # refused, not guessed
    assert man.loc['NOLABEL', 'status'] == 'excluded' and 'no label' in man.loc['NOLABEL', 'reason']
    side = json.loads((c.run_dir/'mask'/'manifest.json').read_text())
    assert side['labels_without_ct'] == ['GHOST'] and side['unlabelled_cases'] == ['NOLABEL']
    ok = man[man.status == 'ok']
    assert ok.groupby('patient_id').split.nunique().max() == 1 and set(ok.split) == {'train', 'val', 'test'}
    for r in ok.itertuples():                                                   # masked = CT inside the ROI, the soft-tissue window floor (-150) outside
        ct, m = (np.asarray(nib.load(p).dataobj) for p in (r.ct_path, r.mask_path))
        x = on_ct_grid(r.masked_path, r.ct_path)
        assert (x[m > 0] == ct[m > 0]).all() and (x[(m == 0) & ~np.isnan(x)] == -150).all()
    segs = pd.read_csv(c.run_dir/'segment'/'segments.csv')
    assert set(segs[segs.status == 'failed'].case_id) == {'C10', 'NOLABEL'}          # NOLABEL has no mask file either
    sp = pd.read_csv(c.run_dir/'mask'/'splits.csv', dtype={'case_id': str}, keep_default_na=False).set_index('case_id')
    assert (sp.loc[['HEAD', 'C10'], 'split'] != '').all() and (man.loc[['HEAD', 'C10'], 'split'].fillna('') == '').all()   # split before masking, then left out
    assert sp.loc['NOLABEL', 'split'] == '' and (sp.split.loc[ok.index] == ok.split).all()

def test_splits_do_not_follow_the_masks(cohort, tmp_path):
    "Splits are made before masking: another segmenter's masks, which lose one more case, move no other patient."
    t, c = cohort
    masks = tmp_path/'masks'; masks.mkdir()
    for f in (t/'masks').iterdir():
        if f.name != 'C00_seg.nii.gz': (masks/f.name).write_bytes(f.read_bytes())
    cfg = yaml.safe_load((t/'c.yaml').read_text())
    cfg.update(run_id='other_masks'); cfg['data']['mask_dir'] = str(masks)
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg)); c2 = load_config(tmp_path/'c.yaml')
    for f in (stage_preprocess, stage_segment, stage_mask): f(c2, progress=False)
    read = lambda run, f: pd.read_csv(run/'mask'/f, dtype={'case_id': str}, keep_default_na=False).set_index('case_id')
    pd.testing.assert_frame_equal(read(c.run_dir, 'splits.csv').split.to_frame(), read(c2.run_dir, 'splits.csv').split.to_frame())
    m1, m2 = read(c.run_dir, 'manifest.csv'), read(c2.run_dir, 'manifest.csv')
    assert m2.loc['C00', 'status'] == 'excluded' and m2.loc['C00', 'split'] == ''
    both = m1.index[(m1.status == 'ok') & (m2.status == 'ok')]
    assert len(both) == 9 and (m1.split[both] == m2.split[both]).all()

def test_real_series_existing_liver_mask(realdata, tmp_path):
    "Acceptance: the real series, TotalSegmentator's own mask as the `existing` mask, ROI liver: liver HU unchanged, fill elsewhere."
    ex = realdata/'totalseg_example'
    r = run_cli('convert', ex/'example_ct_dicom', tmp_path/'conv'); assert r.returncode == 0, r.stderr
    ser = pd.read_csv(tmp_path/'conv'/'series.csv'); ct = tmp_path/'conv'/ser.nifti_path[ser.status == 'converted'].iloc[0]
    for grid, ctp in (('native', ct), ('1.5 mm', tmp_path/'ct15.nii.gz')):
        if grid != 'native':
            from ct_mask_cls.dicom import resample
            img = nib.load(str(ct)); a, aff = resample(np.asarray(img.dataobj), img.affine, [1.5, 1.5, 1.5]); save_nifti(np.rint(a), aff, ctp, dtype=np.int16)
        r = run_cli('segment', ctp, tmp_path/'m.nii.gz', '--backend', 'existing', '--existing', ex/'example_seg_dicom.nii.gz'); assert r.returncode == 0, r.stderr
        assert ('reoriented' if grid == 'native' else 'resampled') in r.stdout, r.stdout     # the reference mask is stored LPS-like, the CT is RAS
        r = run_cli('mask', ctp, tmp_path/'m.nii.gz', tmp_path/'x.nii.gz', '--roi', 'liver', '--fill', 'floor', '--rim-mm', '0', '--no-repair'); assert r.returncode == 0, r.stderr
        hu, m = (np.asarray(nib.load(str(p)).dataobj) for p in (ctp, tmp_path/'m.nii.gz'))
        x = on_ct_grid(tmp_path/'x.nii.gz', ctp)
        liver = m == LIVER
        assert liver.sum() > 1000 and not np.isnan(x[liver]).any(), grid            # the whole liver is in the masked view
        np.testing.assert_array_equal(x[liver], hu[liver])
        assert (x[~liver & ~np.isnan(x)] == -150).all(), grid                        # the liver's (soft-tissue) window floor

def test_pseudonymised_run_keeps_labels_and_drops_ids(tmp_path, tiny_cohort):
    "With preprocess.pseudonymise the case ids are keyed hashes, labels still join, and no PatientID or folder name is written."
    from ct_mask_cls.synth import demo_config
    from ct_mask_cls.dicom import pseudonym
    tiny_cohort(tmp_path)
    d = demo_config(tmp_path/'data', tmp_path/'runs', 'p', tiny=True); d['preprocess'].update(pseudonymise=True, pseudonym_salt='k3y')
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(d)); c = load_config(tmp_path/'c.yaml')
    for f in (stage_preprocess, stage_segment, stage_mask): f(c, progress=False)
    man = pd.read_csv(c.run_dir/'mask'/'manifest.csv')
    assert (man.status == 'ok').all() and set(man.patient_id) == {pseudonym(f'SYN{i:03d}', 'k3y') for i in range(1, 9)}
    for p in ('mask/manifest.csv', 'preprocess/series.csv', 'preprocess/cases.csv', 'segment/segments.csv'):
        assert 'SYN0' not in (c.run_dir/p).read_text(), p
