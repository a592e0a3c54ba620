"Fuzz: generated bad configs and labels files. Every one makes the CLI exit non-zero within 10 s, with no traceback and a message naming the key or the file."
import pytest, yaml
from typer.testing import CliRunner
from ct_mask_cls.cli import app
from ct_mask_cls.synth import make_demo_cohort, demo_config

@pytest.fixture(scope='module')
def base(tmp_path_factory):
    t = tmp_path_factory.mktemp('fuzz'); make_demo_cohort(t/'data', n=8, size=24, progress=False)
    d = demo_config(t/'data', t/'runs', 'f', tiny=True); return t, d

WRONG_TYPES = [('train.epochs', 'ten'), ('train.epochs', 3.5), ('train.lr', 'fast'), ('train.lr', [1]), ('train.model', 3), ('train.model', 'vit'),
               ('train.pretrained', 'yes please'), ('train.input_size', 'big'), ('train.input_size', [1, 2]), ('mask.roi', 'liver'), ('mask.roi', [3]),
               ('mask.mode', 'blur'), ('mask.window', 'soft'), ('mask.window', [1, 2, 3]), ('mask.fill', 'black'), ('mask.fov_mm', [1, 2]),
               ('preprocess.spacing', 'fine'), ('preprocess.spacing', [1, 1]), ('preprocess.workers', 'many'), ('preprocess.uneven_slices', 'maybe'),
               ('segment.backend', 'magic'), ('segment.device', 'gpu'), ('split.seed', 'x'), ('study.modes', ['zero', 'blur']), ('study.modes', 'zero'),
               ('xai.methods', ['lime']), ('data.dicom_dir', 5), ('run_id', ['a'])]
RANGES = [('preprocess.spacing', [0, 1, 1]), ('train.epochs', 0), ('train.batch_size', 1), ('train.lr', 0), ('split.val_frac', 1.5), ('split.test_frac', 0),
          ('train.n_bootstrap', 5), ('train.stem_stride', 3), ('study.folds', 1), ('study.seeds', 0), ('train.pool_top', 2), ('xai.occlusion_mm', 0), ('mask.margin_mm', -1),
          ('mask.min_roi_ml', -5), ('preprocess.workers', 0), ('study.fractions', [1.5]), ('xai.n_cases', -3), ('run_id', '../up'), ('run_id', '')]

def _write(t, name, d):
    p = t/f'{name}.yaml'; p.write_text(yaml.safe_dump(d, allow_unicode=True)); return p

def _set(d, key, v):
    import copy; d = copy.deepcopy(d); a, _, b = key.partition('.')
    if b: d.setdefault(a, {})[b] = v
    else: d[a] = v
    return d

def _check(t, path, needle):
    r = CliRunner().invoke(app, ['run', str(path)])
    assert r.exit_code != 0, (path.name, r.output)
    assert 'Traceback' not in r.output, r.output
    assert needle in r.output, (needle, r.output)
    assert not (t/'runs'/'f'/'01_preprocess.ipynb').exists()

def test_wrong_types_and_ranges(base):
    t, d = base
    checked = 0
    for i, (k, v) in enumerate(WRONG_TYPES + RANGES):
        _check(t, _write(t, f'k{i}', _set(d, k, v)), k if k != 'data.dicom_dir' else 'data.dicom_dir')
        checked += 1
    assert checked == len(WRONG_TYPES + RANGES) and {k.split('.')[0] for k, _ in WRONG_TYPES + RANGES} >= {'data', 'preprocess', 'segment', 'mask', 'split', 'train', 'xai', 'study'}   # every section fuzzed

def test_structures_and_encodings(base):
    t, d = base
    cases = [(b"- a\n- b\n", 'must be a mapping'), (b"42\n", 'must be a mapping'), (b"train: [1, 2]\n", "'train' must be a mapping"),
             (b"trian:\n  epochs: 3\n", "trian"), (b"train:\n  epoch: 3\n", 'Did you mean: epochs'), (b"train: {epochs: 3\n", 'not valid YAML'),
             (b"run_id: \xff\xfe\n", 'not UTF-8'), ("run_id: 'é'\n".encode('utf-16'), 'not UTF-8'), (bytes(range(256)), 'is not UTF-8'), (b"", 'dicom_dir')]
    for i, (raw, needle) in enumerate(cases):
        p = t/f's{i}.yaml'; p.write_bytes(raw); _check(t, p, needle)

LABELS = [(b"", 'is empty'), (b"patient_id,label\n", 'no patients'), (b"pid,label\nSYN001,1\n", "no 'patient_id' column"),
          (b"patient_id,label\nSYN001,True\nSYN002,False\n", 'must be 0 or 1'), (b"patient_id,label\nSYN001,1\nSYN002,1\n", 'both classes'),
          (b"patient_id,label\nSYN001,1\nSYN001,0\n", 'more than once'), (b"patient_id,label\nSYN001,\nSYN002,0\n", 'must be 0 or 1'),
          (b"patient_id,label\nX1,1\nX2,0\n", 'matches labels.csv'), (b"patient_id,label\n\xff\xfe\x00,1\n", 'not UTF-8'), (bytes(range(256)), 'labels'),
          (b"patient_id,label,split\nSYN001,1,test\nSYN002,1,test\nSYN003,0,\n", 'fixed test set'), (b"patient_id,label\nSYN001,2\nSYN002,0\n", 'must be 0 or 1')]

def test_bad_labels_files(base):
    t, d = base
    for i, (raw, needle) in enumerate(LABELS):
        lab = t/f'labels{i}.csv'; lab.write_bytes(raw)
        dd = _set(d, 'data.labels_csv', str(lab))
        if b'split' in raw: dd = _set(dd, 'split.test_column', 'split')
        else: dd = _set(dd, 'split.test_column', '')
        _check(t, _write(t, f'l{i}', dd), needle)
