"""Masks as segmenters make them: the generator's masks differ from the truth as configured; the mask stage repairs them, flags
what is odd (in the manifest, the mask report and the index) and excludes a case whose mask holds no ROI, saying why."""
import html
import json
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pytest, yaml
from scipy import ndimage as ndi
from ct_mask_cls.core import load_config, save_nifti, spacing_of
from ct_mask_cls.synth import RealisticParams, load_reference, realistic_patient, make_realistic_cohort, demo_config
from ct_mask_cls import report as R
from ct_mask_cls.study import confounder_free_delta
from ct_mask_cls.core import read_table
from conftest import run_cli

LIVER = 5

def test_generator_masks_differ_from_truth_as_configured():
    "Over 40 patients: the fraction of lesions left out of the mask and the boundary's movement are what the parameters say."
    ref, p = load_reference(), RealisticParams(missed_lesion_frac=0.6, boundary_jitter_vox=1.0, missed_end_slices=(0, 0), stray_prob=0.0)
    left_out, kept, shifts = 0, 0, []
    for i in range(40):
        pt = realistic_patient(ref, (5, i), 1, False, p)
        truth, seg = pt['labels'] == LIVER, pt['seg_labels'] == LIVER
        lab, n = ndi.label(pt['lesion'])
        for k in range(1, n + 1):
            inside = (seg & (lab == k)).sum()/(lab == k).sum()
            left_out += inside < 0.2
            kept += inside > 0.5
        area = (truth & ~ndi.binary_erosion(truth)).sum()                  # boundary voxels: volume change / area ≈ the shift in voxels
        shifts.append((seg.sum() - truth.sum() + (pt['lesion'] & truth & ~seg).sum())/area)
        assert pt['segmenter']['jitter_vox'] in (-1.0, 1.0)
    assert left_out + kept > 30
    frac = left_out/(left_out + kept)
    assert 0.4 < frac < 0.8, frac                                           # 60% configured
    s = np.array(shifts)
    assert 0.6 < np.median(np.abs(s)) < 1.6, s                              # about one voxel, in or out
    assert (s > 0).sum() > 8 and (s < 0).sum() > 8                          # both ways

def test_truth_masks_are_untouched():
    "With every segmenter error set to zero, the segmenter-like mask is the truth."
    ref = load_reference()
    pt = realistic_patient(ref, (1, 2), 1, False, RealisticParams(missed_lesion_frac=0, boundary_jitter_vox=0, missed_end_slices=(0, 0), stray_prob=0))
    assert (pt['seg_labels'] == pt['labels']).all()

def test_repair_brings_back_left_out_lesions():
    "On generated patients whose masks left every lesion out, the repaired ROI holds most lesion voxels again and adds little else."
    from ct_mask_cls.mask import repair_roi
    ref = load_reference()
    p = RealisticParams(missed_lesion_frac=1.0, boundary_jitter_vox=0, missed_end_slices=(0, 0), stray_prob=0, lesion_depth='deep')
    before, after, extra = [], [], []
    for i in range(6):
        pt = realistic_patient(ref, (2, i), 1, False, p)
        sp, seg = spacing_of(pt['affine']), pt['seg_labels']
        raw, truth = seg == LIVER, pt['labels'] == LIVER
        fixed, rec = repair_roi(raw, pt['hu'].astype(np.float32), sp, (seg > 0) & ~raw)
        before.append((pt['lesion'] & raw).sum()/pt['lesion'].sum())
        after.append((pt['lesion'] & fixed).sum()/pt['lesion'].sum())
        extra.append((fixed & ~truth).sum()/truth.sum())
        assert not (fixed & (seg > 0) & ~raw).any()                         # never into another structure
        enclosed = ndi.binary_fill_holes(raw)                               # holes enclosed in 3D are the organ's, whatever they hold
        assert (pt['hu'][fixed & ~truth & ~enclosed] >= -20).all()          # elsewhere: never into fat
    assert max(before) == 0 and np.mean(after) > 0.9, after                 # holes inside the organ: filled
    assert np.mean(extra) < 0.2, extra                                      # beyond the organ: the grown shell (grow_mm) of soft tissue only

def test_repair_peels_a_boundary_moved_out():
    "On 8 generated patients whose masks were moved a voxel out: the repair moves each mask in one layer and peels the fat off its surface, the excess over the organ shrinks to under a quarter, and the lesion voxels inside the organ stay."
    from ct_mask_cls.mask import repair_roi
    ref = load_reference()
    p = RealisticParams(missed_lesion_frac=0, boundary_jitter_vox=1.0, missed_end_slices=(0, 0), stray_prob=0)
    deep_kept, les_kept, i = [], [], 0
    while len(deep_kept) < 8:
        pt = realistic_patient(ref, (3, i), 1, False, p); i += 1
        if pt['segmenter']['jitter_vox'] < 0: continue                         # this test is about masks moved out
        hu, sp, seg = pt['hu'].astype(np.float32), spacing_of(pt['affine']), pt['seg_labels']
        raw, truth = seg == LIVER, pt['labels'] == LIVER
        fixed, rec = repair_roi(raw, hu, sp, (seg > 0) & ~raw)
        surface = lambda m: m & ~ndi.binary_erosion(m)
        dark = lambda m: (hu[surface(m)] < -20).mean()
        assert dark(raw) > 0.2 and dark(fixed) < 0.02, (dark(raw), dark(fixed))   # the fat shell is gone from the surface
        # the excess over the organ shrinks to under a quarter: the soft tissue the loose boundary took in goes too, not only
        # the fat (peeling the fat alone left 0.47-0.58 of it on these patients)
        assert (fixed & ~truth).sum() < 0.25*(raw & ~truth).sum(), ((fixed & ~truth).sum(), (raw & ~truth).sum())
        assert rec['peeled_ml'] > 0 and rec['loose'] == 1                      # one layer in: the mask moved out by one
        les = pt["lesion"] & raw & truth
        deep = les & ndi.binary_erosion(truth)
        deep_kept.append((deep & fixed).sum()/deep.sum()); les_kept.append((les & fixed).sum()/les.sum())
    # lesions inside the organ stay; at its surface a lesion may lose the voxel layer the mask moved in by. Measured at stop 55
    # on these 8: deep 0.92-1.00 (median 0.98), all 0.73-1.00 (median 0.95). Until then the bounds held per patient on the
    # first 3 (deep >= 0.95, all >= 0.8); with organ sizes that vary between patients the second of those keeps 0.92 and 0.73,
    # and with the old anatomy the 7th kept 0.76 and 0.62.
    assert np.median(deep_kept) >= 0.95 and min(deep_kept) >= 0.9, deep_kept
    assert np.median(les_kept) >= 0.85 and min(les_kept) >= 0.7, les_kept
    fixed0, rec0 = repair_roi(raw, hu, sp, (seg > 0) & ~raw, peel_mm=0)
    assert rec0['peeled_ml'] == 0 and dark(fixed0) > 0.2                       # peel_mm=0: the shell stays

@pytest.fixture(scope='module')
def qc_run(tmp_path_factory):
    "A 12-patient realistic cohort whose masks carry, on purpose: no liver at all, a far stray blob, a hugely oversized liver, and a liver whose inside was left out; run to the index."
    t = tmp_path_factory.mktemp('qc')
    make_realistic_cohort(t/'d', n=12, seed=4, progress=False)
    def edit(pid, fn):
        img = nib.load(str(t/'d'/'masks'/f'{pid}.nii.gz'))
        a = np.asarray(img.dataobj).copy()
        save_nifti(fn(a), img.affine, t/'d'/'masks'/f'{pid}.nii.gz', dtype=np.uint8)
    edit('LIV001', lambda a: np.where(a == LIVER, 0, a))                                  # the segmenter found no liver
    def stray(a):
        a[:12, :12, 2:10] = LIVER                                                         # a block far from the liver, labelled liver
        return a
    edit('LIV002', stray)
    edit('LIV003', lambda a: np.where(ndi.binary_dilation(a == LIVER, iterations=12), LIVER, a))   # far too large: the liver swallowed its neighbours (the repair peels fat off, not them)
    edit('LIV004', lambda a: np.where(ndi.binary_erosion(a == LIVER, iterations=2), 0, a))    # the liver's inside left out: only a shell of it labelled, which the repair fills
    d = demo_config(t/'d', t/'runs', 'qc', kind='realistic', tiny=True)
    d['mask'].update(roi=['liver'], min_roi_ml=5.0)
    d['split']['seed'] = 1   # splits are made before masking: seed 0 leaves validation one class once LIV001 (and, with qc_exclude, LIV003) is excluded
    d['study'] = dict(modes=['zero', 'none'], baseline=False)
    (t/'c.yaml').write_text(yaml.safe_dump(d))
    r = run_cli('run', t/'c.yaml')
    assert r.returncode == 0, r.stderr[-3000:]
    return load_config(t/'c.yaml').run_dir

@pytest.mark.slow
def test_empty_mask_is_excluded_with_its_reason(qc_run):
    man = pd.read_csv(qc_run/'mask'/'manifest.csv', dtype={'case_id': str}, keep_default_na=False).set_index('case_id')
    assert man.loc['LIV001', 'status'] == 'excluded' and man.loc['LIV001', 'reason'].startswith('ROI absent')
    assert 'ROI absent' in (qc_run/'03_mask.html').read_text()

@pytest.mark.slow
def test_fragmented_and_outlier_masks_are_flagged_and_announced(qc_run):
    man = pd.read_csv(qc_run/'mask'/'manifest.csv', dtype={'case_id': str}, keep_default_na=False).set_index('case_id')
    assert 'fragmented' in man.loc['LIV002', 'flags'] and man.loc['LIV002', 'stray_ml'] > 5         # the block was dropped, and said
    assert 'volume' in man.loc['LIV003', 'flags'] and float(man.loc['LIV003', 'volume_z']) > 3.5
    ok = man[man.status == 'ok']
    assert 'repaired' in man.loc['LIV004', 'flags'] and ok.repair_z.astype(float).idxmax() == 'LIV004'   # the repair put back far more than elsewhere
    small = ok[ok.repair_ml.astype(float) < 2*ok.repair_ml.astype(float).median()]
    assert len(small) >= 5 and not small['flags'].str.contains('repaired').any()                       # an ordinary repair for this cohort is no flag
    others = ok.drop(index=['LIV002', 'LIV003', 'LIV004'])
    assert others['flags'].str.contains('volume').sum() == 0                                          # the others are not oversized
    truth = pd.read_csv(qc_run.parent.parent/'d'/'truth.csv', dtype={'patient_id': str}).set_index('patient_id')
    strays = {p for p in others.index if truth.loc[p, 'mask_stray_ml'] > 0}                         # the generator's own stray components
    assert set(others.index[others['flags'].str.contains('fragmented')]) == strays                    # flagged exactly where it put one
    assert (ok.status == 'ok').loc[['LIV002', 'LIV003']].all()                                          # flagged, not silently dropped
    side = json.loads((qc_run/'mask'/'manifest.json').read_text())
    assert side['qc_counts']['volume'] >= 1 and side['qc_counts']['fragmented'] >= 1 and side['qc_counts']['repaired'] == ok['flags'].str.contains('repaired').sum()
    mask_page, index = (qc_run/'03_mask.html').read_text(), (qc_run/'index.html').read_text()
    for page in (mask_page, index):
        assert 'fragmented' in page and 'volume' in page
    assert 'LIV003' in mask_page and 'Mask quality control' in index

@pytest.mark.slow
def test_qc_exclude_turns_a_flag_into_an_exclusion(qc_run, tmp_path):
    cfg = yaml.safe_load((qc_run.parent.parent/'c.yaml').read_text())
    cfg['mask']['qc_exclude'] = ['volume']
    cfg['run_id'] = 'qcx'
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('stage', 'preprocess', tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    for s in ('segment', 'mask'):
        r = run_cli('stage', s, tmp_path/'c.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    man = pd.read_csv(Path(cfg['out_dir'])/'qcx'/'mask'/'manifest.csv', dtype={'case_id': str}, keep_default_na=False).set_index('case_id')
    assert man.loc['LIV003', 'status'] == 'excluded' and man.loc['LIV003', 'reason'].startswith('QC flag volume')

@pytest.mark.slow
def test_index_describes_the_cohort_and_masks_it_ran_on(qc_run):
    "The index says what the cohort's finding is and that the run read segmenter-like masks (it once said hypodense lesions whatever the finding)."
    index = (qc_run/'index.html').read_text()
    assert '1–2 focal lesions in the liver' in index and 'anywhere in it, up to its surface' in index
    assert '<strong>segmenter-like</strong> masks' in index and '60% of the lesions left out of the liver' in index
    assert 'its volume by 15% (SD, log scale)' in index

@pytest.mark.slow
def test_cases_with_the_marker_are_scored_again_without_it(qc_run):
    "Every explained test case with a known confounder (the generator's skin marker) is scored again with it painted out: zero, which sees only the liver, scores it the same; the summary gives the AUC without the confounders."
    for mode in ('zero', 'none'):
        cases = pd.read_csv(qc_run/'xai'/mode/'cases.csv')
        conf = cases[cases.has_confounder]
        assert len(conf) >= 1 and conf.prob_without_confounder.between(0, 1).all()
        assert (cases[~cases.has_confounder].prob_without_confounder == cases[~cases.has_confounder].prob).all()
        s = pd.read_csv(qc_run/'xai'/mode/'summary.csv').iloc[0]
        assert 0 <= s.auc_without_confounder <= 1 and s.confounder_delta_ci_low <= s.confounder_delta_auc <= s.confounder_delta_ci_high
    zero = pd.read_csv(qc_run/'xai'/'zero'/'cases.csv').query('has_confounder')
    assert np.allclose(zero.prob_without_confounder, zero.prob, atol=1e-4)       # the marker lies outside the liver: no change
    # the index answers it: a "Known confounders" section with the run's own numbers for both modes
    idx = html.unescape((qc_run/'index.html').read_text())
    rows = R.confounder_rows({m: pd.read_csv(qc_run/'xai'/m/'summary.csv') for m in ('zero', 'none')})
    n, k = int(rows.cases.max()), int(rows.cases_with_confounder.max())
    assert list(rows['mode']) == ['zero', 'none'] and 'Known confounders' in idx and n >= k >= 1
    free = confounder_free_delta({m: read_table(qc_run/'xai'/m/'cases.csv') for m in ('zero', 'none')}, 'zero')
    assert free is not None and free['cases'] == n and f"zero scores {free['auc_masked']:.2f} against {free['auc_none']:.2f}" in idx
    assert R.confounder_sentence(rows, 'zero', free) in idx and f"{k} of {n} test cases carry a known confounder" in idx
