"`make install` runs uv with pip's settings: the Makefile's `UV_AS_PIP` code, run against a stand-in uv made here."
import json, os, re, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def uv_as_pip() -> str:
    "The Python code of the Makefile's `UV_AS_PIP`, as make exports it (`$$` read as `$`)."
    m = re.search(r'^define UV_AS_PIP\n(.*?)^endef', (ROOT/'Makefile').read_text(), re.S | re.M)
    return m[1].replace('$$', '$')

@pytest.fixture
def standin_uv(tmp_path):
    "An executable that writes its arguments and the uv/SSL/proxy part of its environment to a JSON file, then exits 7."
    out = tmp_path/'seen.json'
    uv = tmp_path/'uv'
    uv.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                  f"json.dump(dict(argv=sys.argv[1:], env={{k: v for k, v in os.environ.items() "
                  f"if k.startswith(('UV_', 'SSL_', 'HTTP'))}}), open({str(out)!r}, 'w'))\nsys.exit(7)\n")
    uv.chmod(0o755)
    return uv, out

def run(uv, pip_env:dict, tmp_path):
    "Run the Makefile's code with pip settings given as PIP_* variables (and no pip config files)."
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PIP_', 'UV_', 'SSL_CERT', 'HTTP'))}
    env.update(pip_env, PIP_CONFIG_FILE=os.devnull, CT_MASK_CLS_UV=str(uv))
    return subprocess.run([sys.executable, '-c', uv_as_pip(), '-q', 'torch==2.14.1', '-e', '.[dev]'], env=env,
                          capture_output=True, text=True, cwd=tmp_path)

def test_pips_settings_reach_uv(standin_uv, tmp_path):
    uv, seen = standin_uv
    r = run(uv, dict(PIP_INDEX_URL='file:///srv/pypi/simple', PIP_EXTRA_INDEX_URL='file:///a/simple file:///b/simple',
                     PIP_FIND_LINKS='/opt/w1 /opt/w2', PIP_CONSTRAINT='/etc/c.txt', PIP_TRUSTED_HOST='mirror.local',
                     PIP_DEFAULT_TIMEOUT='180', PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_PROXY='http://proxy:3128'),
            tmp_path)
    assert r.returncode == 7, r.stderr                            # uv's own exit status comes back
    s = json.loads(seen.read_text())
    assert s['argv'] == ['pip', 'install', '--python', sys.executable, '-q', 'torch==2.14.1', '-e', '.[dev]']
    e = s['env']
    assert e['UV_DEFAULT_INDEX'] == 'file:///srv/pypi/simple'
    assert e['UV_EXTRA_INDEX_URL'] == 'file:///a/simple file:///b/simple'
    assert e['UV_FIND_LINKS'] == '/opt/w1,/opt/w2'               # uv wants commas here
    assert e['UV_CONSTRAINT'] == '/etc/c.txt' and e['UV_INSECURE_HOST'] == 'mirror.local'
    assert e['UV_HTTP_TIMEOUT'] == '180' and e['HTTPS_PROXY'] == e['HTTP_PROXY'] == 'http://proxy:3128'
    assert e['UV_INDEX_STRATEGY'] == 'unsafe-best-match'         # pip's rule: the best version over all indexes

def test_no_settings_no_uv_variables(standin_uv, tmp_path):
    uv, seen = standin_uv
    assert run(uv, {}, tmp_path).returncode == 7
    assert json.loads(seen.read_text())['env'] == {'UV_INDEX_STRATEGY': 'unsafe-best-match'}

def test_a_setting_uv_is_not_given_leaves_the_install_to_pip(standin_uv, tmp_path):
    uv, seen = standin_uv
    r = run(uv, dict(PIP_FIND_LINKS='/opt/w', PIP_PREFER_BINARY='1', PIP_NO_BUILD_ISOLATION='0'), tmp_path)
    assert r.returncode != 0 and r.returncode != 7
    assert 'no-build-isolation, prefer-binary' in r.stderr and 'pip installs instead' in r.stderr
    assert not seen.exists()                                     # uv never ran
