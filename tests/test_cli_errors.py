"Bad input fails at once, naming the problem, before any stage starts (through Typer's CliRunner, in-process)."
import yaml
from typer.testing import CliRunner
from ct_mask_cls.cli import app

def run_cli(*args):
    "Invoke the CLI in-process; the result has returncode, stdout and stderr like a finished subprocess."
    r = CliRunner().invoke(app, [str(a) for a in args])
    r.returncode = r.exit_code
    return r

def _cfg(tmp_path, **data):
    (tmp_path/'dcm').mkdir(exist_ok=True)
    d = dict(run_id='r', out_dir=str(tmp_path/'out'), data=dict(dicom_dir=str(tmp_path/'dcm'), labels_csv=str(tmp_path/'labels.csv'), **data))
    (tmp_path/'c.yaml').write_text(yaml.safe_dump(d)); return tmp_path/'c.yaml'

def test_missing_input_folder(tmp_path):
    (tmp_path/'labels.csv').write_text('patient_id,label\nA,1\n')
    c = _cfg(tmp_path, ); d = yaml.safe_load(c.read_text()); d['data']['dicom_dir'] = str(tmp_path/'nope'); c.write_text(yaml.safe_dump(d))
    r = run_cli('run', c)
    assert r.returncode == 2 and 'does not exist' in r.stderr and 'nope' in r.stderr
    assert not (tmp_path/'out').exists()                                   # refused before the run folder

def test_labels_without_label_column(tmp_path):
    (tmp_path/'labels.csv').write_text('patient_id,outcome\nA,1\n')
    r = run_cli('run', _cfg(tmp_path))
    assert r.returncode == 2 and "no 'label' column" in r.stderr and not (tmp_path/'out').exists()

def test_unknown_key_and_wrong_type(tmp_path):
    (tmp_path/'labels.csv').write_text('patient_id,label\nA,1\n')
    c = _cfg(tmp_path); d = yaml.safe_load(c.read_text())
    d['train'] = {'epochs': 'many'}; c.write_text(yaml.safe_dump(d))
    r = run_cli('run', c); assert r.returncode == 2 and 'train.epochs' in r.stderr
    d['train'] = {'epochz': 3}; c.write_text(yaml.safe_dump(d))
    r = run_cli('run', c); assert r.returncode == 2 and "train.epochz" in r.stderr and 'epochs' in r.stderr

def test_every_command_has_help():
    from ct_mask_cls.cli import app
    cmds = [c.name or c.callback.__name__.replace('_', '-') for c in app.registered_commands]
    assert len(cmds) >= 15 and {'predict', 'evaluate', 'export', 'check-reports', 'publish', 'compare'} <= set(cmds)
    for cmd in cmds:                                                                   # every command the CLI has, none skipped
        r = run_cli(cmd, '--help'); assert r.returncode == 0 and 'Usage' in r.stdout, cmd
