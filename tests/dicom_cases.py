"""TEST SCAFFOLDING: small generated CT series (written with pydicom, compressed with GDCM) that carry one pitfall each."""
from pathlib import Path
import numpy as np, pydicom
from ct_mask_cls.synth import write_ct_series

N, PS, SS = 24, 2.0, 3.0          # slices, pixel spacing, slice spacing (mm)

def volume(n=N, size=32, seed=0):
    "A small volume (slice, row, col) with a distinct, position-coded pattern on every slice."
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 10, (n, size, size)) - 1000
    yy, xx = np.mgrid[:size, :size]
    for k in range(n): v[k][(yy - size/2)**2 + (xx - size/2)**2 < (size/3)**2] = 40 + 10*k   # slice k's disc holds 40 + 10k HU
    return np.rint(v).astype(np.int16)

def plain(folder, pid='P1', n=N, **kw):
    "A clean axial series."
    return write_ct_series(volume(n), folder, pid, PS, SS, **kw)

def edit(paths, fn):
    "Apply fn(ds, index) to every file and save it back."
    for i, p in enumerate(paths):
        ds = pydicom.dcmread(p); fn(ds, i); ds.save_as(p, enforce_file_format=True)

def wrong_thickness(folder, **kw):
    "SliceThickness says 1.25 mm; positions say 3 mm."
    ps = plain(folder, **kw); edit(ps, lambda ds, i: setattr(ds, 'SliceThickness', 1.25)); return ps

def duplicates(folder, **kw):
    "Slices 5 and 9 exported twice (same position, same pixels, another file name and SOP UID)."
    ps = plain(folder, **kw)
    for k in (5, 9):
        ds = pydicom.dcmread(ps[k]); ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(Path(folder)/f'COPY{k:04d}', enforce_file_format=True)
    return ps

def conflicting_duplicates(folder, **kw):
    "Two different images at the same position."
    ps = plain(folder, **kw)
    ds = pydicom.dcmread(ps[7]); ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    a = ds.pixel_array.copy(); a[:] = 500; ds.PixelData = a.tobytes(); ds.save_as(Path(folder)/'OTHER0007', enforce_file_format=True)
    return ps

def missing_slice(folder, k=10, **kw):
    "Slice k deleted."
    ps = plain(folder, **kw); Path(ps[k]).unlink(); return [p for i, p in enumerate(ps) if i != k]

def uneven(folder, **kw):
    "Spacing alternates 2.5 / 3.5 mm (not a missing slice: irregular positions)."
    ps = plain(folder, **kw)
    z = np.cumsum([0] + [2.5 if i % 2 else 3.5 for i in range(N - 1)]); z -= z.mean()
    edit(ps, lambda ds, i: (setattr(ds, 'ImagePositionPatient', [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], round(float(z[i]), 4)]),
                            setattr(ds, 'SliceLocation', round(float(z[i]), 4))))
    return ps

def tilted(folder, deg=15.0, **kw):
    "Gantry tilt: slices stay axial (IOP) but each is shifted in y as z grows, as a tilted gantry acquires them."
    ps = plain(folder, **kw); sh = np.tan(np.radians(deg))*SS
    edit(ps, lambda ds, i: (setattr(ds, 'ImagePositionPatient', [ds.ImagePositionPatient[0], round(float(ds.ImagePositionPatient[1]) + i*sh, 4), ds.ImagePositionPatient[2]]),
                            setattr(ds, 'GantryDetectorTilt', deg)))
    return ps

def truncated(folder, k=6, **kw):
    "File k cut in half (a copy interrupted mid-transfer)."
    ps = plain(folder, **kw); b = Path(ps[k]).read_bytes(); Path(ps[k]).write_bytes(b[:len(b)//2]); return ps

def not_ct(folder, **kw):
    "An MR series."
    ps = plain(folder, **kw); edit(ps, lambda ds, i: setattr(ds, 'Modality', 'MR')); return ps

TS = {'jpeg2000': '1.2.840.10008.1.2.4.90', 'jpegls': '1.2.840.10008.1.2.4.80', 'jpeg_lossless': '1.2.840.10008.1.2.4.70', 'rle': '1.2.840.10008.1.2.5'}

def compressed(folder, kind, **kw):
    "The clean series, every file transcoded losslessly by GDCM to transfer syntax `kind`."
    import gdcm
    ps = plain(folder, **kw)
    for p in ps:
        r = gdcm.ImageReader(); r.SetFileName(str(p)); assert r.Read(), p
        ch = gdcm.ImageChangeTransferSyntax(); ch.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(TS[kind]))); ch.SetInput(r.GetImage())
        assert ch.Change(), (kind, p)
        w = gdcm.ImageWriter(); w.SetFileName(str(p)); w.SetFile(r.GetFile()); w.SetImage(ch.GetOutput()); assert w.Write(), p
    assert str(pydicom.dcmread(ps[0], stop_before_pixels=True).file_meta.TransferSyntaxUID) == TS[kind]
    return ps
