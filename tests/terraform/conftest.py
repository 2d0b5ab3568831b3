"""pytest setup for the terraform/ checks: the HCL parser (npm @cdktf/hcl2json,
installed here by `npm ci` when missing) and terraform with its provider mirror."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MODULE = ROOT / 'terraform'
BUILD = ROOT / os.environ.get('DEVCLOUD_BUILD', 'build')


def install_hcl2json():
    """node_modules from package-lock.json (npm ci), once; fails without node."""
    if (HERE / 'node_modules' / '@cdktf' / 'hcl2json').is_dir():
        return
    if not shutil.which('npm') or not shutil.which('node'):
        pytest.fail('node and npm are needed for the HCL checks: apt-get install nodejs npm '
                    '(`make test` installs them)')
    proc = subprocess.run(['npm', 'ci', '--no-audit', '--no-fund', '--prefix', str(HERE)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f'npm ci in {HERE} failed:\n{proc.stdout}\n{proc.stderr}')


def parse_hcl(paths):
    """{path: parsed JSON} for HCL files, or {path: {'__error__': message}}."""
    install_hcl2json()
    proc = subprocess.run(['node', str(HERE / 'hcl2json.js'), *map(str, paths)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {Path(k): v for k, v in json.loads(proc.stdout).items()}


@pytest.fixture(scope='session')
def hcl():
    """Every .tf and .tftest.hcl file under terraform/, parsed."""
    files = sorted(p for p in MODULE.rglob('*')
                   if p.is_file() and (p.suffix == '.tf' or p.name.endswith('.tftest.hcl')
                                       or p.name.endswith('.tfmock.hcl'))
                   and '.terraform' not in p.parts)
    assert files, 'no terraform files found'
    return parse_hcl(files)


def plugin_mirror():
    """The folder holding registry.terraform.io/hashicorp/aws, or None."""
    candidates = [os.environ.get('DEVCLOUD_TF_PLUGIN_DIR'), '/opt/tf-plugins',
                  os.path.expanduser('~/.terraform.d/plugins'), '/usr/share/terraform/plugins']
    for c in candidates:
        if c and (Path(c) / 'registry.terraform.io' / 'hashicorp' / 'aws').is_dir():
            return Path(c)
    return None


@pytest.fixture(scope='session')
def terraform(tmp_path_factory):
    """A function running terraform offline against the provider mirror;
    skips (with the reason) when terraform or the mirror is missing."""
    exe = shutil.which('terraform') or ('/usr/local/bin/terraform'
                                        if os.access('/usr/local/bin/terraform', os.X_OK) else None)
    if exe is None:
        pytest.skip('terraform is not installed: terraform fmt/validate/test not run')
    mirror = plugin_mirror()
    if mirror is None:
        pytest.skip('no offline mirror of the hashicorp/aws provider '
                    '(set DEVCLOUD_TF_PLUGIN_DIR): terraform init/validate/test not run')
    tmp = tmp_path_factory.mktemp('terraform')
    cli_config = tmp / 'cli.tfrc'
    cli_config.write_text(f'''provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
''')
    base_env = {'PATH': os.environ.get('PATH', '/usr/bin:/bin'), 'HOME': str(tmp),
                'TF_CLI_CONFIG_FILE': str(cli_config), 'TF_IN_AUTOMATION': '1',
                'CHECKPOINT_DISABLE': '1', 'LANG': 'C.UTF-8'}

    def run(args, cwd, data_dir=None, timeout=300):
        env = dict(base_env)
        if data_dir is not None:
            env['TF_DATA_DIR'] = str(data_dir)
        return subprocess.run([exe, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)

    run.mirror = mirror
    run.tmp = tmp
    return run
