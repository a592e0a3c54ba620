"""Ingestion pitfalls on generated DICOM (tests/dicom_cases.py): each gets the right geometry or a rejection with a reason."""
import gzip
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pydicom, pytest
import dicom_cases as C
from ct_mask_cls.synth import write_ct_series
from conftest import run_cli

def _read(p):
    df = pd.read_csv(p); cols = ['reason', 'notes', 'nifti_path', 'source', 'series_key']
    df[cols] = df[cols].fillna('').astype(str); return df

CASES = ['plain', 'wrong_thickness', 'duplicates', 'conflicting_duplicates', 'missing_slice', 'uneven', 'tilted', 'truncated', 'not_ct']

@pytest.fixture(scope='module')
def tree(tmp_path_factory):
    t = tmp_path_factory.mktemp('ingest'); src = t/'in'
    for name in CASES: getattr(C, name)(src/name, pid=name.upper())
    for kind in C.TS: C.compressed(src/f'c_{kind}', kind, pid=f'C_{kind.upper()}')
    C.plain(src/'few', pid='FEW', n=5)
    write_ct_series(C.volume(1, 64), src/'scout', 'SCOUT', 1.0, 1.0, image_type=('ORIGINAL', 'PRIMARY', 'LOCALIZER'))
    for f in ('anon_a', 'anon_b'):                                     # anonymised: blank SeriesInstanceUID, same patient
        C.edit(C.plain(src/f, pid='ANON'), lambda ds, i: setattr(ds, 'SeriesInstanceUID', ''))
    (src/'notes.txt').write_text('not dicom')
    r = run_cli('convert', src, t/'out', '--workers', '2')
    assert r.returncode == 0, r.stderr[-3000:]
    df = _read(t/'out'/'series.csv')
    df['case'] = [Path(s).name if s else '' for s in df.source]
    return t, df, r.stdout

def _row(df, case):
    rows = df[df.case == case]; assert len(rows) == 1, (case, rows); return rows.iloc[0]

def _vol(t, row):
    img = nib.load(str(t/'out'/row.nifti_path)); return np.asarray(img.dataobj), img.affine

def _centres(a):  # the disc value of every slice (slice k of the generated volume holds 40 + 10k HU)
    return a[a.shape[0]//2, a.shape[1]//2, :]

def test_series_csv_columns_and_summary(tree):
    t, df, out = tree
    assert set(['series_key', 'patient_id', 'series_description', 'modality', 'status', 'reason', 'notes', 'nifti_path', 'n_slices',
                'spacing_x', 'spacing_y', 'spacing_z', 'source']) <= set(df.columns)
    assert set(df.status) == {'converted', 'rejected'} and 'converted' in out and 'rejected' in out
    assert not any('Synthetic^' in str(v) for v in df.values.ravel())                 # patient names never leave the DICOM
    for p in df.nifti_path[df.nifti_path != '']:
        assert b'Synthetic^' not in gzip.decompress((t/'out'/p).read_bytes())

def test_plain_and_spacing_from_positions(tree):
    t, df, _ = tree
    for case in ('plain', 'wrong_thickness'):
        r = _row(df, case); assert r.status == 'converted'
        assert (r.spacing_x, r.spacing_y, r.spacing_z) == (C.PS, C.PS, C.SS)            # 3 mm from ImagePositionPatient, not SliceThickness 1.25
        a, aff = _vol(t, r); assert a.shape == (32, 32, C.N)
        np.testing.assert_array_equal(_centres(a), 40 + 10*np.arange(C.N))            # every slice where it belongs, HU rescaled

def test_duplicates_dropped_conflicts_rejected(tree):
    t, df, _ = tree
    r = _row(df, 'duplicates'); assert r.status == 'converted' and 'dropped 2 duplicate' in r.notes
    np.testing.assert_array_equal(_centres(_vol(t, r)[0]), 40 + 10*np.arange(C.N))
    r = _row(df, 'conflicting_duplicates'); assert r.status == 'rejected' and 'share a position' in r.reason

def test_missing_slice_resampled_and_truncated_file_skipped(tree):
    t, df, _ = tree
    for case in ('missing_slice', 'truncated'):                                       # the truncated file is dropped, leaving a gap
        r = _row(df, case); assert r.status == 'converted' and '1 missing slice' in r.notes, r.notes
        a, _ = _vol(t, r); assert a.shape[2] == C.N and r.spacing_z == C.SS
        np.testing.assert_array_equal(_centres(a), 40 + 10*np.arange(C.N))            # the gap is interpolated: linear, exact here
    bad = df[(df.status == 'rejected') & df.source.str.contains('truncated')]
    assert len(bad) == 1 and 'truncated pixel data' in bad.reason.iloc[0]

def test_uneven_spacing_resampled_with_positions(tree):
    t, df, _ = tree
    r = _row(df, 'uneven'); assert r.status == 'converted' and 'uneven slice spacing (2.50–3.50 mm)' in r.notes
    a, aff = _vol(t, r)
    z_src = np.cumsum([0] + [2.5 if i % 2 else 3.5 for i in range(C.N - 1)]); z_src = z_src - z_src.mean()
    z_out = (aff @ np.c_[np.zeros((a.shape[2], 2)), np.arange(a.shape[2]), np.ones(a.shape[2])].T)[2]
    np.testing.assert_allclose(_centres(a), np.rint(np.interp(z_out, z_src, 40 + 10*np.arange(C.N))), atol=1)

def test_reject_policies(tree, tmp_path):
    t, _, _ = tree
    r = run_cli('convert', t/'in', tmp_path/'o', '--uneven', 'reject', '--tilt', 'reject')
    assert r.returncode == 0
    df = _read(tmp_path/'o'/'series.csv'); df['case'] = [Path(s).name if s else '' for s in df.source]
    assert _row(df, 'missing_slice').reason == '1 missing slice(s)'
    assert _row(df, 'uneven').reason.startswith('uneven slice spacing')
    assert _row(df, 'tilted').reason == 'gantry tilt 15.0°'
    assert _row(df, 'plain').status == 'converted'

def test_gantry_tilt_corrected(tree):
    t, df, _ = tree
    r = _row(df, 'tilted'); assert r.status == 'converted' and 'gantry tilt 15.0° corrected' in r.notes
    a, aff = _vol(t, r)
    files = sorted((t/'in'/'tilted').iterdir(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    for k in (2, 12, 20):                                                              # the disc sits where its DICOM slice put it in the world
        ds = pydicom.dcmread(files[k]); ipp = np.array(ds.ImagePositionPatient, float)
        want = np.diag([-1, -1, 1]) @ (ipp + np.array([15.5*C.PS, 15.5*C.PS, 0]))     # disc centre (pixel 15.5, 15.5) in LPS -> RAS
        sl = int(round(np.linalg.solve(aff[:3, :3], want - aff[:3, 3])[2]))
        disc = np.argwhere(np.abs(a[:, :, sl] - (40 + 10*k)) < 6)
        got = aff[:3, :3] @ np.r_[disc.mean(0), sl] + aff[:3, 3]
        np.testing.assert_allclose(got[:2], want[:2], atol=C.PS)

def test_compressed_transfer_syntaxes_decoded(tree):
    t, df, _ = tree
    ref = _vol(t, _row(df, 'plain'))[0]
    for kind in C.TS:
        r = _row(df, f'c_{kind}'); assert r.status == 'converted', (kind, r.reason)
        np.testing.assert_array_equal(_vol(t, r)[0], ref)

def test_rejections_with_reasons(tree):
    t, df, _ = tree
    assert _row(df, 'not_ct').reason == 'modality MR (not CT)'
    assert _row(df, 'few').reason == 'too few slices (5 < 8)'
    assert _row(df, 'scout').reason == 'localizer/scout'
    assert (df.source.str.endswith('notes.txt')).sum() == 0                            # not DICOM: not a series at all

def test_blank_series_uid_grouped_by_fallback(tree):
    t, df, _ = tree
    a, b = _row(df, 'anon_a'), _row(df, 'anon_b')                                      # same patient, blank UIDs, two folders: two series
    assert a.status == b.status == 'converted' and a.series_key != b.series_key and a.n_slices == b.n_slices == C.N

def test_allow_modality(tree, tmp_path):
    t, _, _ = tree
    r = run_cli('convert', t/'in'/'not_ct', tmp_path/'o', '--allow-modality', 'MR'); assert r.returncode == 0
    assert pd.read_csv(tmp_path/'o'/'series.csv').status.tolist() == ['converted']
