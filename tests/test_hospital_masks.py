"Existing masks in hospital formats on the real CT: RTSTRUCT (rt-utils) and DICOM-SEG (highdicom) read onto the CT grid, binary masks through data.mask_labels."
import shutil
from pathlib import Path
import nibabel as nib, numpy as np, pandas as pd, pydicom, pytest, yaml
from pydicom.uid import generate_uid
from conftest import run_cli
from ct_mask_cls import segment as seg
from ct_mask_cls.core import load_nifti

pytestmark = pytest.mark.slow                  # runs a pipeline or trains: left out by `make test-fast`

@pytest.fixture(scope='module')
def series(realdata, tmp_path_factory):
    """The real series with UIDs. Its anonymiser blanked SOPInstanceUID, SeriesInstanceUID, StudyInstanceUID and PatientID; RTSTRUCT and SEG
    link to slices and series by those UIDs, so this copy gets generated ones and an id (pixels, geometry and frame of reference untouched)."""
    out = tmp_path_factory.mktemp('series')/'ct'; out.mkdir()
    series_uid, study_uid = generate_uid(), generate_uid()
    for f in sorted((realdata/'totalseg_example'/'example_ct_dicom').iterdir()):
        d = pydicom.dcmread(str(f))
        d.SOPInstanceUID, d.SeriesInstanceUID, d.StudyInstanceUID, d.PatientID = generate_uid(), series_uid, study_uid, 'REAL01'
        d.SOPClassUID = d.SOPClassUID or pydicom.uid.CTImageStorage
        d.file_meta.MediaStorageSOPInstanceUID = d.SOPInstanceUID
        d.save_as(str(out/f.name))
    return out

@pytest.fixture(scope='module')
def ts(realdata):
    "TotalSegmentator's real output for the series, on dcm2niix's grid."
    return nib.load(str(realdata/'totalseg_example'/'example_seg_dicom.nii.gz'))

def test_series_geometry_matches_dcm2niix(series, realdata, tmp_path):
    "The affine that RTSTRUCT masks are read with puts every HU value where dcm2niix puts it."
    from ct_mask_cls.dicom import convert_tree
    from ct_mask_cls.core import PreprocessConfig
    df = convert_tree(series, tmp_path, PreprocessConfig(), progress=False)
    ct = nib.load(str(tmp_path/df[df.status == 'converted'].nifti_path.iloc[0]))
    dss, aff = seg.series_geometry([pydicom.dcmread(str(p)) for p in series.iterdir()])
    hu = np.stack([d.pixel_array*float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss], -1)
    on_ct = seg._to_grid(hu.astype(np.float32), aff, ct)
    assert np.abs(on_ct - np.asarray(ct.dataobj)).max() < 1.0

def _rtstruct(series, ts, path, names=('Liver',), ids=(5,)):
    from rt_utils import RTStructBuilder
    rt = RTStructBuilder.create_new(str(series))
    dss, aff = seg.series_geometry([pydicom.dcmread(str(p)) for p in series.iterdir()])
    grid = nib.Nifti1Image(np.zeros((dss[0].Rows, dss[0].Columns, len(dss)), np.uint8), aff)        # rt-utils' [row, column, slice] grid
    lab = seg._to_grid(np.asarray(ts.dataobj).astype(np.uint8), ts.affine, grid)
    for n, i in zip(names, ids): rt.add_roi(mask=lab == i, name=n)
    rt.save(str(path)); return path

def dice(a, b): return 2*(a & b).sum()/(a.sum() + b.sum())

def test_rtstruct_reads_back_onto_the_ct(series, ts, tmp_path):
    p = _rtstruct(series, ts, tmp_path/'rt.dcm', ('Liver', 'Spleen'), (5, 1))
    assert seg.dicom_mask_kind(p) == 'RTSTRUCT'
    got = seg.read_rtstruct(p, series.parent, ts)
    ref = np.asarray(ts.dataobj)
    for i in (5, 1):
        d = dice(got == i, ref == i)
        assert d >= 0.95, (i, d)

def test_rtstruct_with_another_frame_of_reference_is_refused(series, ts, tmp_path):
    p = _rtstruct(series, ts, tmp_path/'rt.dcm')
    d = pydicom.dcmread(str(p)); d.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = generate_uid(); d.save_as(str(p))
    with pytest.raises(seg.SegmentationRefused, match='frame of reference'): seg.read_rtstruct(p, series.parent, ts)
    ct = tmp_path/'ct.nii.gz'; nib.save(nib.Nifti1Image(np.zeros(ts.shape, np.int16), ts.affine), str(ct))
    r = run_cli('segment', ct, tmp_path/'o.nii.gz', '--backend', 'existing', '--existing', p, '--dicom-dir', series.parent, '--roi', 'liver')
    assert r.returncode == 2 and 'frame of reference' in r.stderr and 'Traceback' not in r.stderr

def test_rtstruct_names_through_mask_labels(series, ts, tmp_path):
    p = _rtstruct(series, ts, tmp_path/'rt.dcm', ('GTV organ 1',), (5,))
    with pytest.raises(seg.SegmentationRefused, match="GTV organ 1"): seg.read_rtstruct(p, series.parent, ts)
    got = seg.read_rtstruct(p, series.parent, ts, {'liver': 'GTV organ 1'})
    assert dice(got == 5, np.asarray(ts.dataobj) == 5) >= 0.95

def test_dicom_seg_round_trip_is_exact(series, ts, tmp_path):
    lab = np.asarray(ts.dataobj).astype(np.uint8)
    p = seg.write_dicom_seg(lab, ts.affine, series, tmp_path/'seg.dcm')
    assert seg.dicom_mask_kind(p) == 'SEG'
    d = pydicom.dcmread(str(p))
    assert 'liver' in [s.SegmentLabel for s in d.SegmentSequence] and d.FrameOfReferenceUID == pydicom.dcmread(str(next(series.iterdir()))).FrameOfReferenceUID
    back = seg.read_dicom_seg(p, ts, None, series.parent)
    assert (back == lab).all()

def test_binary_mask_end_to_end(tmp_path):
    "A realistic cohort whose masks are binary (1 = liver): with mask_labels {liver: 1} it runs end to end; without, the error lists the ids found."
    from ct_mask_cls.synth import make_realistic_cohort, demo_config
    data = tmp_path/'data'; make_realistic_cohort(data, n=12, seed=3, progress=False)
    for p in (data/'masks').glob('*.nii.gz'):
        img = nib.load(str(p)); a = np.asarray(img.dataobj)
        nib.save(nib.Nifti1Image((a == 5).astype(np.uint8), img.affine), str(p))                  # liver only, as 1
    cfg = demo_config(data, tmp_path/'runs', 'bin', tiny=True, kind='realistic')
    cfg['xai'] = dict(n_cases=2, methods=['gradcam']); cfg['study'] = dict(modes=['zero'], baseline=False)
    (tmp_path/'no_map.yaml').write_text(yaml.safe_dump(dict(cfg, run_id='nomap')))
    r = run_cli('stage', 'preprocess', tmp_path/'no_map.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli('stage', 'segment', tmp_path/'no_map.yaml'); assert r.returncode == 0, r.stderr[-2000:]
    r = run_cli('stage', 'mask', tmp_path/'no_map.yaml')
    assert r.returncode != 0 and '1 (spleen)' in (r.stderr + r.stdout) and 'data.mask_labels' in (r.stderr + r.stdout)
    cfg['data']['mask_labels'] = {'liver': 1}
    (tmp_path/'map.yaml').write_text(yaml.safe_dump(cfg))
    r = run_cli('run', tmp_path/'map.yaml'); assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    man = pd.read_csv(tmp_path/'runs'/'bin'/'mask'/'manifest.csv')
    assert (man.status == 'ok').all()
    roi = load_nifti(man.mask_path.iloc[0])[0] > 0; src = load_nifti(man.seg_path.iloc[0])[0]; ct = load_nifti(man.ct_path.iloc[0])[0]
    assert (src == 5).any() and (src[roi] == 5).mean() > 0.8                                          # id 1 became TotalSegmentator's liver (5); the ROI is it, repaired
    assert roi[src == 5].mean() > 0.8 and (ct[(src == 5) & ~roi] < -20).all()                        # all of it but the fat peeled off its surface

def test_pipeline_writes_dicom_seg_for_pacs(series, ts, tmp_path):
    "segment.dicom_seg: each case's mask also as DICOM-SEG referring to its source series; it reads back onto the case's CT exactly."
    from ct_mask_cls.core import config_from_dict, RunLayout
    from ct_mask_cls.pipeline import stage_preprocess, stage_segment
    (tmp_path/'masks').mkdir(); shutil.copy(ts.get_filename(), tmp_path/'masks'/'REAL01.nii.gz')
    cfg = config_from_dict(dict(run_id='r', out_dir=str(tmp_path/'runs'), data=dict(dicom_dir=str(series.parent), mask_dir=str(tmp_path/'masks')),
                                segment=dict(backend='existing', dicom_seg=True), mask=dict(roi=['liver'])))
    stage_preprocess(cfg, progress=False)
    df = stage_segment(cfg, progress=False)
    lay = RunLayout(cfg.run_dir)
    p = Path(df.dicom_seg.iloc[0]); assert p.exists(), df.dicom_seg.iloc[0]
    assert pd.read_csv(lay.segments_csv).dicom_seg.iloc[0] == str(p)
    ct = nib.load(str(lay.ct(df.case_id.iloc[0])))
    back = seg.read_dicom_seg(p, ct, None, series.parent)
    assert (back == np.asarray(nib.load(str(lay.seg(df.case_id.iloc[0]))).dataobj)).all() and (back == 5).any()
