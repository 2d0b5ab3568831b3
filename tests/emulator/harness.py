"""Helpers for pytest integration tests of the Lambda bootstraps.

    from harness import AwsEmu, Event, run_lambda, run_local

    with AwsEmu(state={...}) as aws:
        run = run_lambda('build/x86_64/stopper/bootstrap', [{}], aws=aws)
        assert run.results[0]['kind'] == 'response'
        assert aws.calls('StopInstances')[0]['params']['InstanceIds'] == [...]

Everything runs on loopback with Debian's /usr/bin/python3 (it has botocore).
The environment handed to a bootstrap is built from scratch: nothing of the
caller's AWS_* variables leaks in.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = '/usr/bin/python3'
HERE = Path(__file__).resolve().parent
AWSEMU = HERE / 'awsemu.py'
RTEMU = HERE / 'rtemu.py'

DEFAULT_REGION = 'eu-west-1'
DEFAULT_ACCESS_KEY = 'AKIDEMULATOR'
DEFAULT_SECRET_KEY = 'emulator-secret-key'
# Lambda always hands out temporary credentials; so do we, to make sure the
# client signs X-Amz-Security-Token.  The emulator accepts any token for the
# default key unless the state pins one.
DEFAULT_SESSION_TOKEN = 'emulator-session-token'
DEFAULT_FUNCTION_NAME = 'devcloud-test'

_BOTOCORE_SESSION = None


# --------------------------------------------------------------------------
# Small HTTP/JSON and process helpers
# --------------------------------------------------------------------------

def http_json(method, url, body=None, timeout=10, context=None):
    """Send JSON (or nothing), return the decoded JSON reply (raises on >= 400)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


class _Daemon:
    """An emulator subprocess that announces its port through a port file."""

    def __init__(self, script, args, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f'{name}-')
        self.port_file = os.path.join(self.tmp, 'port')
        self.stderr_path = os.path.join(self.tmp, 'stderr')
        self._stderr = open(self.stderr_path, 'wb')
        self.proc = subprocess.Popen(
            [PYTHON, str(script), '--port', '0', '--port-file', self.port_file, *args],
            stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
            env={'PATH': '/usr/bin:/bin', 'LANG': 'C.UTF-8'})
        self.port = self._wait_port()

    def _wait_port(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    return int(f.read())
            if self.proc.poll() is not None:
                raise RuntimeError(f'{self.name} exited with {self.proc.returncode} '
                                   f'before listening:\n{self.stderr()}')
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f'{self.name} did not start in {timeout}s:\n{self.stderr()}')

    def stderr(self):
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode('utf-8', errors='replace')

    def stop(self, ask_shutdown):
        """Ask politely (``ask_shutdown()``), then terminate; returns the exit code."""
        if self.proc.poll() is None:
            try:
                ask_shutdown()
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self._stderr.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# The AWS emulator
# --------------------------------------------------------------------------

class EmulatorCrashed(RuntimeError):
    pass


class AwsEmu:
    """Runs awsemu.py on a free port for the duration of a ``with`` block.

    On exit it raises EmulatorCrashed if the emulator died or printed a
    traceback (an emulator bug must not pass for a client bug or success).
    """

    def __init__(self, state=None, page_size=None, region=DEFAULT_REGION,
                 tls_cert=None, tls_key=None, log=None):
        self.region = region
        self.access_key = DEFAULT_ACCESS_KEY
        self.secret_key = DEFAULT_SECRET_KEY
        self._initial_state = state
        self._args = ['--region', region]
        if page_size:
            self._args += ['--page-size', str(page_size)]
        if tls_cert:
            self._args += ['--tls-cert', str(tls_cert), '--tls-key', str(tls_key)]
        if log:
            self._args += ['--log', str(log)]
        self.scheme = 'https' if tls_cert else 'http'
        self._daemon = None

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        self._daemon = _Daemon(AWSEMU, self._args, 'awsemu')
        self.port = self._daemon.port
        self.url = f'{self.scheme}://127.0.0.1:{self.port}'
        if self._initial_state is not None:
            self.set_state(self._initial_state)
        return self

    def stop(self, check=True):
        if self._daemon is None:
            return
        died = self._daemon.proc.poll() is not None
        rc = self._daemon.stop(lambda: self._control('POST', '/_emu/shutdown'))
        err = self._daemon.stderr()
        self._daemon.cleanup()
        self._daemon = None
        if check and (died or rc not in (0, None) or 'Traceback' in err):
            raise EmulatorCrashed(f'awsemu {"died" if died else "exited"} (rc={rc}):\n{err}')

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        # Do not hide the test's own exception behind an emulator complaint.
        self.stop(check=exc_type is None)

    # -- control API ----------------------------------------------------------

    def _control_url(self, path):
        # The control API is served on the same port (over TLS too).
        return f'{self.scheme}://127.0.0.1:{self.port}{path}'

    def _control(self, method, path, body=None):
        context = None
        if self.scheme == 'https':   # test certificates are self-signed
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http_json(method, self._control_url(path), body, context=context)

    def state(self):
        return self._control('GET', '/_emu/state')

    def set_state(self, state):
        self._control('POST', '/_emu/state', state)

    def instance(self, instance_id):
        """The emulator's current record of one instance (seed schema)."""
        return next(i for i in self.state()['instances'] if i['id'] == instance_id)

    def calls(self, action=None, service=None):
        calls = self._control('GET', '/_emu/calls')
        return [c for c in calls
                if (action is None or c['action'] == action)
                and (service is None or c['service'] == service)]

    def clear_calls(self):
        self._control('POST', '/_emu/calls/clear')

    def fault(self, action, kind, count=1, delay_s=0, service=None):
        """Add one fault rule (kept with the rules still pending)."""
        rules = [f for f in self._control('GET', '/_emu/faults') if f['count'] > 0]
        rules.append({'action': action, 'kind': kind, 'count': count,
                      'delay_s': delay_s, 'service': service})
        self._control('POST', '/_emu/faults', rules)

    def clear_faults(self):
        self._control('POST', '/_emu/faults', [])

    def config(self, **settings):
        """e.g. config(page_size=5); page_size=None removes the limit."""
        return self._control('POST', '/_emu/config', settings)

    # -- convenience for tests ------------------------------------------------

    def client(self, service='ec2', verify=None, **config):
        """A real botocore client pointed at the emulator (retries off by default)."""
        import botocore.config
        global _BOTOCORE_SESSION
        if _BOTOCORE_SESSION is None:   # a session caches the loaded models
            import botocore.session
            _BOTOCORE_SESSION = botocore.session.get_session()
        config.setdefault('retries', {'total_max_attempts': 1, 'mode': 'standard'})
        return _BOTOCORE_SESSION.create_client(
            service, endpoint_url=self.url, region_name=self.region,
            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
            verify=verify, config=botocore.config.Config(**config))

    def lambda_env(self):
        """Environment variables pointing an AWS client at this emulator."""
        return {'AWS_ENDPOINT_URL': self.url, 'AWS_REGION': self.region,
                'AWS_DEFAULT_REGION': self.region,
                'AWS_ACCESS_KEY_ID': self.access_key,
                'AWS_SECRET_ACCESS_KEY': self.secret_key}


# --------------------------------------------------------------------------
# Running a bootstrap
# --------------------------------------------------------------------------

def base_env(function_name=DEFAULT_FUNCTION_NAME, region=DEFAULT_REGION, aws=None):
    """The environment Lambda gives a provided.al2023 function (no caller leaks)."""
    env = {
        'PATH': '/usr/local/bin:/usr/bin:/bin',
        'LANG': 'en_US.UTF-8',
        'TZ': ':UTC',
        'LAMBDA_TASK_ROOT': '/var/task',
        'LAMBDA_RUNTIME_DIR': '/var/runtime',
        '_HANDLER': 'bootstrap',
        'AWS_LAMBDA_FUNCTION_NAME': function_name,
        'AWS_LAMBDA_FUNCTION_VERSION': '$LATEST',
        'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': '128',
        'AWS_LAMBDA_LOG_GROUP_NAME': f'/aws/lambda/{function_name}',
        'AWS_LAMBDA_LOG_STREAM_NAME': '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
        'AWS_LAMBDA_INITIALIZATION_TYPE': 'on-demand',
        'AWS_REGION': region,
        'AWS_DEFAULT_REGION': region,
        'AWS_ACCESS_KEY_ID': DEFAULT_ACCESS_KEY,
        'AWS_SECRET_ACCESS_KEY': DEFAULT_SECRET_KEY,
        'AWS_SESSION_TOKEN': DEFAULT_SESSION_TOKEN,
    }
    if aws is not None:
        env.update(aws.lambda_env())
    return env


def _merge_env(base, extra):
    """``extra`` overrides ``base``; a value of None removes the variable."""
    env = dict(base)
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


@dataclass
class Event:
    """An invocation with its Runtime API extras (plain payloads work too)."""
    payload: object
    trace_id: str = None
    timeout_ms: int = None
    request_id: str = None
    client_context: object = None
    cognito_identity: object = None

    def to_json(self):
        return {k: v for k, v in self.__dict__.items()
                if v is not None or k == 'payload'}


@dataclass
class LambdaRun:
    results: list                 # per event, in order: rtemu's record (or None)
    init_error: dict
    exit_code: int                # None if it was alive and had to be stopped
    stdout: str
    stderr: str
    next_calls: int
    timed_out: bool
    raw: dict = field(repr=False, default=None)   # rtemu's full /_rt/results

    @property
    def logs(self):
        return self.stdout + self.stderr

    def log_lines(self):
        """stdout lines parsed as JSON where possible (structured logs)."""
        out = []
        for line in self.stdout.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append(line)
        return out

    def response(self, i=0):
        """The decoded JSON response of event i (asserts it succeeded)."""
        r = self.results[i]
        assert r is not None and r['kind'] == 'response', (
            f'event {i} did not succeed: {r}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}')
        return r['body_json']


def _stop_process(proc, grace_s=2.0):
    """SIGTERM (like Lambda's shutdown), then SIGKILL. True if we had to stop it."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return True


def run_lambda(bootstrap_path, events, env=None, timeout_s=30, aws=None,
               function_name=DEFAULT_FUNCTION_NAME, timeout_ms=30000):
    """Run a bootstrap against the Runtime API emulator for ``events``.

    ``events``: payloads (any JSON value) or Event objects.  ``aws``: an
    AwsEmu whose URL/region/credentials go in the environment.  ``env``
    overrides (None removes a variable).  Returns a LambdaRun once every event
    has a result, the process exited, it reported an init error, or
    ``timeout_s`` passed.
    """
    region = aws.region if aws is not None else DEFAULT_REGION
    rt = _Daemon(RTEMU, ['--timeout-ms', str(timeout_ms), '--function-name', function_name,
                         '--region', region], 'rtemu')
    rt_url = f'http://127.0.0.1:{rt.port}'
    workdir = tempfile.mkdtemp(prefix='lambda-run-')
    out_path, err_path = os.path.join(workdir, 'stdout'), os.path.join(workdir, 'stderr')
    proc = None
    try:
        request_ids = []
        for ev in events:
            spec = ev.to_json() if isinstance(ev, Event) else {'payload': ev}
            request_ids.append(http_json('POST', f'{rt_url}/_rt/invoke', spec)['request_id'])

        full_env = _merge_env(base_env(function_name, region, aws), env)
        full_env['AWS_LAMBDA_RUNTIME_API'] = f'127.0.0.1:{rt.port}'
        with open(out_path, 'wb') as out, open(err_path, 'wb') as err:
            proc = subprocess.Popen([str(bootstrap_path)], stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=err, env=full_env,
                                    cwd=os.path.dirname(os.path.abspath(bootstrap_path)))
            deadline = time.monotonic() + timeout_s
            timed_out = False
            while True:
                res = http_json('GET', f'{rt_url}/_rt/results')
                done = all(i['state'] == 'done' for i in res['invocations'])
                if done or res['init_error'] or proc.poll() is not None:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    break
                time.sleep(0.01)
            stopped = _stop_process(proc)
            exit_code = None if stopped else proc.returncode
        res = http_json('GET', f'{rt_url}/_rt/results')
        by_id = {i['request_id']: i for i in res['invocations']}
        results = [by_id[r] if by_id[r]['state'] == 'done' else None for r in request_ids]
        with open(out_path, 'rb') as f:
            stdout = f.read().decode('utf-8', errors='replace')
        with open(err_path, 'rb') as f:
            stderr = f.read().decode('utf-8', errors='replace')
        return LambdaRun(results=results, init_error=res['init_error'],
                         exit_code=exit_code, stdout=stdout, stderr=stderr,
                         next_calls=res['next_calls'], timed_out=timed_out, raw=res)
    finally:
        if proc is not None:
            _stop_process(proc, grace_s=0.5)
        rt.stop(lambda: http_json('POST', f'{rt_url}/_rt/shutdown', timeout=3))
        rt.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def run_local(bootstrap_path, event_json, env=None, timeout_s=30, aws=None,
              function_name=DEFAULT_FUNCTION_NAME):
    """Run ``bootstrap --event -`` with the event on stdin: (rc, stdout, stderr).

    ``event_json``: a JSON string, or any other value to be JSON-encoded.
    """
    if not isinstance(event_json, (str, bytes)):
        event_json = json.dumps(event_json)
    if isinstance(event_json, str):
        event_json = event_json.encode()
    region = aws.region if aws is not None else DEFAULT_REGION
    full_env = _merge_env(base_env(function_name, region, aws), env)
    proc = subprocess.run([str(bootstrap_path), '--event', '-'], input=event_json,
                          capture_output=True, env=full_env, timeout=timeout_s)
    return (proc.returncode, proc.stdout.decode('utf-8', errors='replace'),
            proc.stderr.decode('utf-8', errors='replace'))
