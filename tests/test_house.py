"The house rules: each error message is written in one place, and no module hides a name it imports from `core`."
import ast, collections
from pathlib import Path
import pytest
import ct_mask_cls
from ct_mask_cls.core import config_from_dict, validate, ConfigError

PKG = Path(ct_mask_cls.__file__).parent

def _text(node):
    "The literal text of a message: a string, an f-string (each placeholder as {}), or a sum of them; None for anything else."
    if isinstance(node, ast.Constant) and isinstance(node.value, str): return node.value
    if isinstance(node, ast.JoinedStr): return ''.join(v.value if isinstance(v, ast.Constant) else '{}' for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _text(node.left), _text(node.right)
        return (a or '{}') + (b or '{}') if (a or b) else None
    return None

def raise_messages(folder:Path) -> dict:
    "message text -> the 'file:line' of every `raise X(message, ...)` in the modules of `folder`."
    out = collections.defaultdict(list)
    for p in sorted(folder.glob('*.py')):
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.Raise) and isinstance(n.exc, ast.Call) and n.exc.args:
                t = _text(n.exc.args[0])
                if t and len(t.replace('{}', '').strip()) > 15: out[t].append(f"{p.name}:{n.lineno}")
    return out

def test_the_scan_finds_a_copied_message(tmp_path):
    (tmp_path/'a.py').write_text("def f(k):\n    raise ValueError(f'config key {k} is not right here')\n")
    (tmp_path/'b.py').write_text("def g(x):\n    if x: raise KeyError(f'config key {x} is not right here')\n    raise ValueError('another message, long enough')\n")
    m = raise_messages(tmp_path)
    assert m['config key {} is not right here'] == ['a.py:2', 'b.py:2'] and len(m) == 2

def test_no_error_message_is_written_twice():
    m = raise_messages(PKG)
    assert len(m) > 100                                          # the scan sees the package's messages
    dup = {t: w for t, w in m.items() if len(w) > 1}
    assert not dup, "\n".join(f"{w}: {t[:100]!r}" for t, w in dup.items())

@pytest.mark.parametrize('kw, msg', [(dict(train=dict(nproc=2, freeze_encoder=True, pretrained=True, model='resnet10')), 'set nproc: 1'),
                                     (dict(preprocess=dict(pseudonymise=True)), 'needs a secret key')])
def test_validate_holds_the_cross_field_rules(kw, msg, monkeypatch):
    for k in ('CT_MASK_CLS_SALT', 'CT_MASK_CLS_SALT_FILE'): monkeypatch.delenv(k, raising=False)
    with pytest.raises(ConfigError, match=msg): validate(config_from_dict(dict(data=dict(dicom_dir='d', labels_csv='l.csv'), **kw)))

def test_no_module_redefines_a_core_name():
    "A module that defines a name `from .core import *` gave it silently replaces it for its own code (train once had its own `validate`)."
    import ct_mask_cls.core as core
    own = {'core', 'io', 'config', 'executor', 'layout', '_modidx'}
    hits = [f"{p.name}: {n}" for p in sorted(PKG.glob('*.py')) if p.stem not in own
            for node in ast.parse(p.read_text()).body
            for n in ([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                      [t.id for t in getattr(node, 'targets', []) if isinstance(t, ast.Name)])
            if n in core.__all__]
    assert not hits, hits

def import_graph(folder:Path) -> dict:
    "module -> the package's modules it imports at module level."
    mods, g = {p.stem for p in folder.glob('*.py')}, {}
    for p in sorted(folder.glob('*.py')):
        deps = set()
        for n in ast.parse(p.read_text()).body:
            if isinstance(n, ast.ImportFrom) and n.level == 1:
                deps |= {n.module.split('.')[0]} if n.module else {a.name for a in n.names if a.name in mods}
        g[p.stem] = deps
    return g

def cycles(g:dict) -> list:
    "Every import cycle in graph `g`, as the list of modules around it."
    found = []
    def walk(u, path):
        for v in sorted(g.get(u, ())):
            if v in path: found.append(path[path.index(v):] + [v])
            else: walk(v, path + [v])
    for u in sorted(g): walk(u, [u])
    return found

def test_no_import_cycle(tmp_path):
    (tmp_path/'a.py').write_text("from .b import x\n"); (tmp_path/'b.py').write_text("from . import a\nx = 1\n")
    assert cycles(import_graph(tmp_path))                         # a cycle is seen
    g = import_graph(PKG)
    assert g['core'] == {'io', 'config', 'executor', 'layout'} and 'train' in g['ddp']
    assert not cycles(g), cycles(g)

# Imports that cost noticeably on top of the CLI's own start-up (about 0.8 s): the increment measured on this machine,
# in ms, with `import ct_mask_cls.cli` done first. Everything else (the standard library, numpy, pandas, nibabel,
# pydicom, yaml, tqdm, PIL, mirp's import, the package's light modules) costs a few ms and is imported at the top of its module.
HEAVY = {'torch': 2300, 'torchvision': 4500, 'monai': 7000, 'sklearn': 700, 'scipy.ndimage': 150, 'scipy.stats': 1100,
         'scipy.special': 200, 'matplotlib': 240, 'IPython': 30, 'jupyter_client': 45, 'nbformat': 1500,
         'nbconvert': 2000, 'papermill': 1200, 'distributed': 160, 'highdicom': 90, 'rt_utils': 70, 'playwright': 100,
         'totalsegmentator.python_api': 1700, 'totalsegmentator.config': 2000, 'nnunetv2.inference': 5500,
         'pydicom.sr': 50, 'nibabel.processing': 100, 'pytorch_grad_cam': 2500, 'onnx': 300}
# imports kept inside a function for what importing them does, not for their cost
SIDE_EFFECTS = {'tqdm.auto': 'picks its display at import, and in a kernel without ipywidgets warns there'}

def _heavy_keys(name:str) -> set:
    return {k for k in HEAVY if name == k or name.startswith(k + '.')}

def _targets(n) -> list:
    "The modules an import statement may load: `from a import b` may load `a` or the submodule `a.b`."
    if isinstance(n, ast.Import): return [a.name for a in n.names]
    base = ('ct_mask_cls' + ('.' + n.module if n.module else '')) if n.level else n.module
    return [base] + [f"{base}.{a.name}" for a in n.names]

def lazy_imports(folder:Path) -> tuple:
    "(module -> the heavy imports its module level loads, through the package's modules too; [(module, line, text, targets)] of imports inside functions)."
    top, inner = {}, []
    for p in sorted(folder.glob('*.py')):
        src = p.read_text(); lines = src.splitlines(); t = ast.parse(src)
        top[p.stem] = [x for n in t.body if isinstance(n, (ast.Import, ast.ImportFrom)) for x in _targets(n)]
        for f in ast.walk(t):
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for n in ast.walk(f):
                    if isinstance(n, (ast.Import, ast.ImportFrom)):
                        inner.append((p.stem, n.lineno, "\n".join(lines[n.lineno-1:n.end_lineno]), tuple(_targets(n))))
    memo = {}
    def heavy(mod:str, seen=()) -> set:
        if not mod.startswith('ct_mask_cls'): return _heavy_keys(mod)
        stem = mod.split('.')[1] if '.' in mod else '__init__'
        if stem not in top or stem in seen: return set()
        if stem not in memo: memo[stem] = set().union(*[heavy(x, seen + (stem,)) for x in top[stem]])
        return memo[stem]
    return heavy, sorted(set(inner))

def misplaced_imports(folder:Path) -> list:
    "Imports inside functions that load nothing heavy beyond what their module already loads, or that carry no comment."
    heavy, inner = lazy_imports(folder)
    bad = []
    for mod, line, text, targets in inner:
        gain = set().union(*[heavy(x) for x in targets]) - heavy(f'ct_mask_cls.{mod}')
        side = any(x in SIDE_EFFECTS for x in targets)
        if not (gain or side): bad.append(f"{mod}.py:{line}: {text.strip()} (nothing heavy: import it at the top)")
        elif '#' not in text: bad.append(f"{mod}.py:{line}: {text.strip()} (say why in a comment)")
    return bad

def test_the_import_scan_sees_a_needless_lazy_import(tmp_path):
    (tmp_path/'a.py').write_text("import torch\ndef f():\n    import json\n    from . import b   # lazy\n    import sklearn\n")
    (tmp_path/'b.py').write_text("import monai\n")
    bad = misplaced_imports(tmp_path)
    assert len(bad) == 2 and 'import json (nothing heavy' in bad[0] and 'import sklearn (say why' in bad[1]

def test_imports_inside_functions_only_keep_a_heavy_dependency_out_and_say_so():
    "The CLI starts in under a second because torch, MONAI and friends load only when a command needs them; every other import is at the top."
    bad = misplaced_imports(PKG)
    assert not bad, f"{len(bad)} imports inside functions break the rule:\n" + '\n'.join(bad)

NBS = Path(__file__).parent.parent/'nbs'

def names_without_example(nb_path:Path) -> tuple[list, list]:
    "(exported public names, those never named in the notebook's non-exported code cells) of one library notebook."
    import json, re
    cells = [c for c in json.loads(nb_path.read_text())['cells'] if c['cell_type'] == 'code']
    src = lambda c: ''.join(c['source'])
    names, examples = [], ''
    for c in cells:
        s = src(c)
        if s.lstrip().startswith('#| export'):
            for n in ast.parse(s).body:
                if isinstance(n, (ast.FunctionDef, ast.ClassDef)): names.append(n.name)
                elif isinstance(n, ast.Assign): names += [t.id for t in n.targets if isinstance(t, ast.Name)]
        elif '#| default_exp' not in s: examples += s + '\n'
    names = [n for n in names if not n.startswith('_')]
    return names, [n for n in names if not re.search(r'\b' + re.escape(n) + r'\b', examples)]

def test_the_example_scan_sees_a_name_without_example(tmp_path):
    import json
    nb = dict(cells=[dict(cell_type='code', source=['#| export\n', 'def shown(): pass\n', 'def hidden(): pass\n', 'X = 1']),
                     dict(cell_type='code', source=['assert shown() is None'])])
    (tmp_path/'n.ipynb').write_text(json.dumps(nb))
    assert names_without_example(tmp_path/'n.ipynb') == (['shown', 'hidden', 'X'], ['hidden', 'X'])

def test_most_exported_names_have_an_example_in_their_notebook():
    "nbdev's rhythm: an exported name is followed by an example that uses it. Measured at 9% without one (38 of 408, from 188 of 403: mostly the CLI, the runner and apply, which the tests run whole); fastcore's notebooks are at 11–16%."
    found = {p.name: names_without_example(p) for p in sorted(NBS.glob('[0-9]*.ipynb'))}
    total = sum(len(n) for n, _ in found.values())
    missing = {k: m for k, (_, m) in found.items() if m}
    assert total > 300
    assert sum(map(len, missing.values())) <= 0.15*total, missing

def test_readme_is_the_index_notebooks_markdown():
    "README.md is written from nbs/index.ipynb (`make readme`): an edit to one alone would let the two tell different stories."
    import json
    nb = json.loads((PKG.parent/'nbs'/'index.ipynb').read_text())
    md = '\n\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown') + '\n'
    assert (PKG.parent/'README.md').read_text() == md, "README.md and nbs/index.ipynb differ: edit the notebook, then `make readme`"
