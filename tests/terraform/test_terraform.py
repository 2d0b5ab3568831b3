"""Checks of the terraform/ module.

Without terraform: every file parses with HashiCorp's HCL parser; every
reference resolves; every variable has a description and a type; every
function folder is wired (function, role, log group, schedule, target,
permission, the zip `make` builds); the environment variables are the README's;
each role allows exactly the AWS actions its function was seen calling in the
integration tests (tests/run.sh records them in $DEVCLOUD_BUILD/iam-actions.txt).
With terraform and its provider mirror: fmt, init, validate and `terraform test`.
"""

import os
import re
import warnings
from pathlib import Path

import pytest

from conftest import BUILD, MODULE, ROOT, parse_hcl

FUNCTIONS_DIR = ROOT / 'functions'
INNER = MODULE / 'modules' / 'scheduled_function'
EXAMPLE = MODULE / 'examples' / 'complete'
MODULE_DIRS = [MODULE, INNER, EXAMPLE]

# settings for local runs only (secrets): never in a deployed environment
LOCAL_ONLY_ENV = {'SLACK_WEBHOOK_URL', 'DRONE_TOKEN'}

# Actions a policy allows that no integration test calls yet: (function, action)
# -> why. The check is strict for everything else; entries that the recordings
# prove are reported so they can be removed from here.
UNPROVEN = {
    # (function, action): why a role allows it though no test calls it yet
}
# every role writes its own logs; Lambda does that, not the function's code
LOG_ACTIONS = {'logs:CreateLogStream', 'logs:PutLogEvents'}


def function_folders():
    """The functions make builds: the folders of functions/ with a main.c."""
    return sorted(p.name for p in FUNCTIONS_DIR.iterdir() if (p / 'main.c').is_file())


def deployed_functions():
    """The functions the module deploys: every one make builds."""
    return function_folders()


def blocks(parsed, kind):
    """{name: body} of the top-level blocks of one kind (variable, locals, ...)."""
    out = {}
    for doc in parsed:
        for name, bodies in doc.get(kind, {}).items():
            out[name] = bodies[0]
    return out


def module_files(hcl, d):
    return [v for p, v in hcl.items() if p.parent == d and p.suffix == '.tf']


def expressions(value):
    """Every ${...} expression (balanced braces) in a parsed value; $${ is a literal."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from expressions(k)
            yield from expressions(v)
    elif isinstance(value, list):
        for v in value:
            yield from expressions(v)
    elif isinstance(value, str):
        i = 0
        while True:
            i = value.find('${', i)
            if i < 0:
                return
            if i > 0 and value[i - 1] == '$':
                i += 2
                continue
            depth, j = 0, i + 1
            while j < len(value):
                if value[j] == '{':
                    depth += 1
                elif value[j] == '}':
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            yield value[i + 2:j]
            i = j


def strip_strings(expr):
    """An expression without its string literals (their text is not a reference),
    but with the expressions interpolated in them."""
    out, i = [], 0
    while i < len(expr):
        if expr[i] == '"':
            j = i + 1
            while j < len(expr) and expr[j] != '"':
                j += 2 if expr[j] == '\\' else 1
            out.append(' ' + ' '.join(expressions(expr[i + 1:j])) + ' ')
            i = j + 1
        else:
            out.append(expr[i])
            i += 1
    return ''.join(out)


class Declared:
    def __init__(self, files):
        self.variables = blocks(files, 'variable')
        self.outputs = blocks(files, 'output')
        self.modules = blocks(files, 'module')
        self.locals = {k for doc in files for l in doc.get('locals', []) for k in l}
        self.resources = {(t, n) for doc in files for t, byname in doc.get('resource', {}).items() for n in byname}
        self.data = {(t, n) for doc in files for t, byname in doc.get('data', {}).items() for n in byname}


REF = re.compile(r'(?<![\w.\]])(var|local|module|data)\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?(?:\.([A-Za-z_][\w-]*))?')
RESOURCE_REF = re.compile(r'(?<![\w.\]"])(aws_[a-z0-9_]+)\.([A-Za-z_][\w-]*)')


def unresolved(exprs, decl, module_dir):
    missing = []
    for e in exprs:
        e = strip_strings(e)
        for kind, name, attr in REF.findall(e):
            if kind == 'var' and name not in decl.variables:
                missing.append(f'var.{name}')
            elif kind == 'local' and name not in decl.locals:
                missing.append(f'local.{name}')
            elif kind == 'data' and (name, attr) not in decl.data:
                missing.append(f'data.{name}.{attr}')
            elif kind == 'module':
                if name not in decl.modules:
                    missing.append(f'module.{name}')
                elif attr:
                    child = (module_dir / decl.modules[name]['source']).resolve()
                    child_outputs = blocks(module_files(HCL_CACHE, child), 'output')
                    if attr not in child_outputs:
                        missing.append(f'module.{name}.{attr} (no such output in {child.relative_to(ROOT)})')
        for rtype, rname in RESOURCE_REF.findall(e):
            if (rtype, rname) not in decl.resources:
                missing.append(f'{rtype}.{rname}')
    return missing


HCL_CACHE = {}


@pytest.fixture(scope='module', autouse=True)
def _cache(hcl):
    HCL_CACHE.clear()
    HCL_CACHE.update(hcl)


# ---------------------------------------------------------------------------
# Without terraform
# ---------------------------------------------------------------------------

def test_every_file_parses_with_the_hcl_parser(hcl):
    errors = {str(p.relative_to(ROOT)): v['__error__'] for p, v in hcl.items() if '__error__' in v}
    assert errors == {}
    assert {p.parent for p in hcl} >= set(MODULE_DIRS)


def test_the_parser_reports_a_syntax_error(tmp_path):
    bad = tmp_path / 'bad.tf'
    bad.write_text('resource "aws_sns_topic" "x" {\n  name = \n}\n')
    good = tmp_path / 'good.tf'
    good.write_text('resource "aws_sns_topic" "x" {\n  name = "x"\n}\n')
    parsed = parse_hcl([bad, good])
    assert 'bad.tf:2' in parsed[bad]['__error__']
    assert parsed[good] == {'resource': {'aws_sns_topic': {'x': [{'name': 'x'}]}}}


@pytest.mark.parametrize('module_dir', MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_reference_resolves(hcl, module_dir):
    files = module_files(hcl, module_dir)
    decl = Declared(files)
    assert unresolved(list(expressions(files)), decl, module_dir) == []


def test_the_reference_check_finds_what_is_missing(hcl):
    decl = Declared(module_files(hcl, MODULE))
    exprs = ['var.prefix', 'var.no_such', 'local.nope', 'aws_sns_topic.alarms.arn',
             'aws_sns_topic.other.arn', 'module.stopper[0].function_arn', 'module.stopper[0].nope',
             'data.aws_region.current.name', 'data.aws_vpc.x.id', '"var.in_a_string ${var.inside}"']
    assert unresolved(exprs, decl, MODULE) == [
        'var.no_such', 'local.nope', 'aws_sns_topic.other',
        'module.stopper.nope (no such output in terraform/modules/scheduled_function)',
        'data.aws_vpc.x', 'var.inside']


@pytest.mark.parametrize('module_dir', MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_variable_has_a_description_and_a_type(hcl, module_dir):
    variables = blocks(module_files(hcl, module_dir), 'variable')
    assert variables
    lacking = [n for n, v in variables.items() if not v.get('description') or 'type' not in v]
    assert lacking == []
    outputs = blocks(module_files(hcl, module_dir), 'output')
    assert [n for n, o in outputs.items() if not o.get('description')] == []


@pytest.mark.parametrize('module_dir', [MODULE, EXAMPLE], ids=lambda p: str(p.relative_to(ROOT)))
def test_module_calls_pass_only_declared_variables_and_every_required_one(hcl, module_dir):
    for name, call in blocks(module_files(hcl, module_dir), 'module').items():
        child = (module_dir / call['source']).resolve()
        declared = blocks(module_files(hcl, child), 'variable')
        args = set(call) - {'source', 'count', 'for_each', 'depends_on', 'providers', 'version'}
        assert sorted(args - set(declared)) == [], name
        required = {n for n, v in declared.items() if 'default' not in v}
        assert sorted(required - args) == [], name


def test_the_module_declares_aws_5_and_no_other_provider(hcl):
    for d in MODULE_DIRS:
        providers = {}
        for doc in module_files(hcl, d):
            for t in doc.get('terraform', []):
                for rp in t.get('required_providers', []):
                    providers.update(rp)
        assert providers == {'aws': {'source': 'hashicorp/aws', 'version': '>= 5.0'}}, d
        for doc in module_files(hcl, d):
            types = set(doc.get('resource', {})) | set(doc.get('data', {}))
            assert all(t.startswith('aws_') for t in types), (d, types)


def test_every_function_folder_is_wired(hcl):
    root = Declared(module_files(hcl, MODULE))
    inner = Declared(module_files(hcl, INNER))
    # the one scheduled function: function, role, log group, schedule or rule,
    # target and permission
    kinds = {t for t, _ in inner.resources}
    assert {'aws_lambda_function', 'aws_iam_role', 'aws_iam_role_policy', 'aws_cloudwatch_log_group',
            'aws_cloudwatch_event_rule', 'aws_cloudwatch_event_target', 'aws_lambda_permission',
            'aws_scheduler_schedule', 'aws_lambda_function_event_invoke_config',
            'aws_cloudwatch_metric_alarm'} <= kinds
    package_dir = [l for doc in module_files(hcl, MODULE) for l in doc.get('locals', [])
                   if 'package_dir' in l][0]['package_dir']
    # the default is the repository's build/, where `make` writes build/<fn>.zip
    assert '${path.module}/../build' in package_dir
    makefile = (ROOT / 'Makefile').read_text()
    assert re.search(r'^BUILD\s*:=\s*build$', makefile, re.M)
    assert 'ZIPS       := $(foreach f,$(FUNCTIONS),$(BUILD)/$(f).zip)' in makefile
    # a function is a folder of functions/ with a main.c: make builds its zip
    assert 'FUNCTIONS  := $(patsubst functions/%/main.c,%,$(wildcard functions/*/main.c))' in makefile
    for fn in deployed_functions():
        call = root.modules.get(fn)
        assert call is not None, f'functions/{fn} has no module "{fn}" in terraform/main.tf'
        assert call['source'] == './modules/scheduled_function'
        assert call['zip_path'] == '${local.package_dir}/' + fn + '.zip'
        assert call['name'] == '${var.prefix}-' + fn.replace('_', '-')
        assert call['count'] == f'${{var.{fn}.enabled ? 1 : 0}}'
        assert call['schedule_expression'] == f'${{var.{fn}.schedule}}'
        assert call['policy_statements'] == f'${{local.policy.{fn}}}'
        assert fn in blocks(module_files(hcl, MODULE), 'variable')
    missing = sorted(fn for fn in deployed_functions() if not (BUILD / f'{fn}.zip').exists())
    if missing:
        warnings.warn(f'not built yet (the module needs them to apply): '
                      f'{", ".join(f"build/{fn}.zip" for fn in missing)}')


def readme_settings():
    """{function: {VARIABLE, ...}} from the README's settings tables."""
    text = (ROOT / 'README.md').read_text()
    out = {}
    for m in re.finditer(r'^### `(\w+)`\n(.*?)(?=^##)', text, re.M | re.S):
        names = set(re.findall(r'^\| `([A-Z][A-Z0-9_]*)`', m.group(2), re.M))
        if names:
            out[m.group(1)] = names
    return out


def environment_names(call):
    env = call['environment']
    if isinstance(env, dict):
        return set(env)
    # a for expression over an object: its keys
    return set(re.findall(r'^\s*([A-Z][A-Z0-9_]*)\s*=', env, re.M))


def test_environment_variables_are_named_as_in_the_readme(hcl):
    readme = readme_settings()
    assert {'stopper', 'terminator', 'image_pruner', 'build_monitor'} <= set(readme)
    root = Declared(module_files(hcl, MODULE))
    for fn in deployed_functions():
        expected = readme.get(fn)
        assert expected is not None, f'README has no settings table for {fn}'
        assert environment_names(root.modules[fn]) == expected - LOCAL_ONLY_ENV, fn


# ---------------------------------------------------------------------------
# Least privilege against the calls the functions really make
# ---------------------------------------------------------------------------

def policy_actions(hcl):
    """{function: {action, ...}} from terraform/iam.tf's local.policy."""
    policy = [l['policy'] for doc in module_files(hcl, MODULE) for l in doc.get('locals', [])
              if 'policy' in l][0]
    out = {}
    for fn, statements in policy.items():
        acts = set()
        for s in statements:
            assert isinstance(s, dict) and isinstance(s['actions'], list), (fn, s)
            acts |= set(s['actions'])
        out[fn] = acts
    inner = [s for doc in module_files(hcl, INNER) for l in doc.get('locals', []) if 'statements' in l
             for s in [l['statements']]][0]
    assert all(a in inner for a in LOG_ACTIONS)
    return out


def recorded_actions():
    path = os.environ.get('DEVCLOUD_IAM_RECORD')
    if not path:
        pytest.skip('no recording of the functions\' AWS calls: tests/run.sh sets '
                    'DEVCLOUD_IAM_RECORD and runs the integration tests first')
    p = Path(path)
    assert p.exists() and p.stat().st_size > 0, \
        f'{path} is empty: the integration tests recorded no AWS call'
    out = {}
    for line in p.read_text().splitlines():
        fn, action = line.split()
        out.setdefault(fn, set()).add(action)
    return out


def test_every_policy_names_its_actions_without_wildcards(hcl):
    for fn, acts in policy_actions(hcl).items():
        assert acts, fn
        assert [a for a in acts if '*' in a or not re.fullmatch(r'[a-z0-9-]+:[A-Za-z]+', a)] == [], fn
    assert set(policy_actions(hcl)) == set(deployed_functions())


def test_each_role_allows_exactly_the_actions_its_function_calls(hcl):
    allowed = policy_actions(hcl)
    recorded = recorded_actions()
    problems, proven = [], []
    for fn in deployed_functions():
        seen = recorded.get(fn, set())
        if fn in function_folders() and (FUNCTIONS_DIR / fn / 'main.c').exists():
            assert seen, f'{fn}: no AWS call recorded (its integration tests did not run?)'
        for a in sorted(seen - allowed[fn]):
            problems.append(f'{fn}: calls {a}, which its role does not allow')
        for a in sorted(allowed[fn] - seen):
            if (fn, a) not in UNPROVEN:
                problems.append(f'{fn}: its role allows {a}, which it never called')
        proven += [f'{fn} {a}' for a in sorted(seen & allowed[fn]) if (fn, a) in UNPROVEN]
    assert problems == []
    unproven = sorted(f'{fn} {a} ({why})' for (fn, a), why in UNPROVEN.items()
                      if a not in recorded.get(fn, set()))
    if unproven:
        warnings.warn('allowed, not yet called by any test: ' + '; '.join(unproven))
    if proven:
        warnings.warn('now called by the tests, remove from UNPROVEN: ' + ', '.join(proven))


def test_unproven_actions_are_in_the_policies(hcl):
    allowed = policy_actions(hcl)
    assert sorted(f'{fn} {a}' for fn, a in UNPROVEN if a not in allowed.get(fn, set())) == []


# ---------------------------------------------------------------------------
# With terraform (skipped, with the reason, when it or its mirror is missing)
# ---------------------------------------------------------------------------

def test_terraform_fmt(terraform):
    proc = terraform(['fmt', '-check', '-recursive', '-diff'], cwd=MODULE)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize('module_dir', MODULE_DIRS, ids=lambda p: str(p.relative_to(ROOT)))
def test_terraform_init_and_validate(terraform, module_dir):
    data = terraform.tmp / ('data-' + module_dir.name)
    proc = terraform(['init', '-backend=false', '-input=false', f'-plugin-dir={terraform.mirror}'],
                     cwd=module_dir, data_dir=data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = terraform(['validate', '-no-color'], cwd=module_dir, data_dir=data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'The configuration is valid' in proc.stdout


def test_terraform_test(terraform):
    data = terraform.tmp / 'data-test'
    proc = terraform(['init', '-backend=false', '-input=false', f'-plugin-dir={terraform.mirror}'],
                     cwd=MODULE, data_dir=data)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = terraform(['test', '-no-color'], cwd=MODULE, data_dir=data, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r'Success! (\d+) passed, 0 failed', proc.stdout)
    assert m and int(m.group(1)) >= 15, proc.stdout
