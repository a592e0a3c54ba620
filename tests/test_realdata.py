"The real Siemens series (TotalSegmentator's test data): our conversion lands on the grid TotalSegmentator's reference mask uses."
import subprocess
import nibabel as nib, numpy as np
from ct_mask_cls import dicom

def test_real_series_matches_dcm2niix_and_reference_mask(realdata, tmp_path):
    ex = realdata/'totalseg_example'
    series, bad = dicom.scan_series(ex/'example_ct_dicom', progress=False)
    kept = [s for s in series if not s.reason]
    assert len(kept) == 1 and not bad
    rec = dicom.convert_series(kept[0], tmp_path/'ct.nii.gz')
    ours = nib.load(str(tmp_path/'ct.nii.gz'))
    assert rec['shape'] == 'x'.join(map(str, ours.shape)) and rec['n_slices'] == ours.shape[2]             # series.csv's row says what was written
    np.testing.assert_allclose([rec['spacing_x'], rec['spacing_y'], rec['spacing_z']], ours.header.get_zooms()[:3], atol=1e-3)
    # dcm2niix alone, reoriented the same way
    subprocess.run([dicom.dcm2niix_bin(), '-z', 'y', '-b', 'n', '-f', 'ref', '-o', str(tmp_path), str(ex/'example_ct_dicom')], check=True, capture_output=True)
    ref = nib.as_closest_canonical(nib.load(str(tmp_path/'ref.nii.gz')))
    np.testing.assert_allclose(ours.affine, ref.affine, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(ours.dataobj), np.rint(ref.get_fdata()).astype(np.int16))
    seg = nib.as_closest_canonical(nib.load(str(ex/'example_seg_dicom.nii.gz')))
    assert seg.shape == ours.shape
    np.testing.assert_allclose(seg.affine, ours.affine, atol=1e-3)
    hu = np.asarray(ours.dataobj); liver = np.asarray(seg.dataobj) == 5
    assert liver.sum() > 1000 and 0 < np.median(hu[liver]) < 150      # liver voxels hold liver HU: same grid, voxel for voxel
    assert np.percentile(hu, 1) < -900                                 # air near -1000: rescale applied
