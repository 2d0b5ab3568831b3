"""Helpers for pytest integration tests of the Lambda bootstraps.

    from harness import AwsEmu, Event, SlackReceiver, run_lambda, run_local

    with AwsEmu(state={...}) as aws:
        run = run_lambda('build/x86_64/stopper/bootstrap', [{}], aws=aws)
        assert run.results[0]['kind'] == 'response'
        assert aws.calls('StopInstances')[0]['params']['InstanceIds'] == [...]

    webhook = {'name': '/devcloud/slack-webhook', 'type': 'SecureString'}
    with SlackReceiver() as slack, AwsEmu(state={
            'parameters': [{**webhook, 'value': slack.url}]}) as aws:
        slack.script([{'status': 500}])          # then 200 "ok" forever
        run = run_lambda(..., aws=aws, env={'SLACK_WEBHOOK_PARAMETER': webhook['name']})
        assert slack.messages()[0]['text'] == ...
        assert slack.secret not in run.logs

Everything runs on loopback with Debian's /usr/bin/python3 (it has botocore).
The environment handed to a bootstrap is built from scratch: nothing of the
caller's AWS_* variables leaks in.
"""

import http.client
import http.server
import io
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
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
            except (OSError, ValueError, http.client.HTTPException):
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
        """Replace the state; a refused seed raises HTTPError 400 whose
        message is the emulator's reason."""
        try:
            self._control('POST', '/_emu/state', state)
        except urllib.error.HTTPError as e:
            try:
                reason = json.loads(e.read())['error']
            except (ValueError, KeyError, TypeError):
                raise e from None
            raise urllib.error.HTTPError(e.url, e.code, reason, e.headers, None) from None

    def instance(self, instance_id):
        """The emulator's current record of one instance (seed schema)."""
        return next(i for i in self.state()['instances'] if i['id'] == instance_id)

    def image(self, image_id):
        """The record of one image (seed schema), None once deregistered."""
        return next((i for i in self.state()['images'] if i['id'] == image_id), None)

    def image_ids(self):
        """Ids of the registered images, in seed order."""
        return [i['id'] for i in self.state()['images']]

    def snapshot_ids(self):
        """Ids of the snapshots that still exist, in seed order."""
        return [s['id'] for s in self.state()['snapshots']]

    def auto_scaling_group(self, name):
        """The record of one Auto Scaling group (seed schema, normalised)."""
        return next(g for g in self.state()['auto_scaling_groups'] if g['name'] == name)

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

    def reset(self, state):
        """A fresh account for the next test: the state, no calls, no faults,
        no page-size limit. Returns self (for fixtures)."""
        self.set_state(state)
        self.clear_calls()
        self.clear_faults()
        self.config(page_size=None)
        return self

    # -- convenience for tests ------------------------------------------------

    def client(self, service='ec2', verify=None, **config):
        """A real botocore client pointed at the emulator (retries off by default)."""
        import botocore.config
        global _BOTOCORE_SESSION
        if _BOTOCORE_SESSION is None:   # a session caches the loaded models
            import botocore.session
            _BOTOCORE_SESSION = botocore.session.get_session()
            # The emulator's model overlay (the current API's members that
            # Debian's botocore lacks), so that tests can send them too.
            if str(HERE) not in sys.path:
                sys.path.insert(0, str(HERE))
            from awsemu import OverlayLoader
            _BOTOCORE_SESSION.register_component('data_loader', OverlayLoader())
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
# Hand-made signed requests (what a botocore client would never send)
# --------------------------------------------------------------------------

SIGV4_TIME_FORMAT = '%Y%m%dT%H%M%SZ'
EC2_FORM = 'application/x-www-form-urlencoded; charset=utf-8'
JSON_11 = 'application/x-amz-json-1.1'


def _only_signed_auth(creds, service, region, only):
    """A SigV4Auth signing only the headers named in ``only``."""
    import botocore.auth

    class OnlySigned(botocore.auth.SigV4Auth):
        def headers_to_sign(self, request):
            headers = super().headers_to_sign(request)
            for name in list(headers.keys()):
                if name not in only:
                    del headers[name]
            return headers

    return OnlySigned(creds, service, region)


def raw_call(emu, body, service='ec2', content_type=EC2_FORM, extra_headers=None,
             akid=None, secret=None, token=None, when=None, region=None,
             only_sign=None, tamper=None):
    """Sign ``body`` (a dict is form-encoded) with botocore's SigV4, optionally
    at another time, for another region or signing only some headers, and
    POST it to ``emu``; returns (status, headers, text).  ``tamper(headers,
    body)`` may change the request after signing."""
    import datetime

    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    if isinstance(body, dict):
        body = urllib.parse.urlencode(body)
    if isinstance(body, str):
        body = body.encode()
    req = botocore.awsrequest.AWSRequest(method='POST', url=f'{emu.url}/', data=body)
    req.headers['Host'] = f'127.0.0.1:{emu.port}'
    req.headers['Content-Type'] = content_type
    for k, v in (extra_headers or {}).items():
        req.headers[k] = v
    creds = botocore.credentials.Credentials(akid or emu.access_key,
                                             secret or emu.secret_key, token)
    region = region or emu.region
    if only_sign:
        signer = _only_signed_auth(creds, service, region, only_sign)
    else:
        signer = botocore.auth.SigV4Auth(creds, service, region)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    req.context['timestamp'] = when.strftime(SIGV4_TIME_FORMAT)
    signer._modify_request_before_signing(req)
    canonical = signer.canonical_request(req)
    sig = signer.signature(signer.string_to_sign(req, canonical), req)
    signer._inject_signature_to_request(req, sig)
    headers = dict(req.headers.items())
    if tamper:
        headers, body = tamper(headers, body)
    if emu.scheme == 'https':
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection('127.0.0.1', emu.port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection('127.0.0.1', emu.port, timeout=10)
    try:
        conn.request('POST', '/', body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        conn.close()


# --------------------------------------------------------------------------
# A sample account for the housekeeping functions
# --------------------------------------------------------------------------

# Images of every kind (own, deprecated, disabled, pending, public and
# private ones of another account), an orphan snapshot, launch templates
# whose versions name images, an SSM alias and none, and Auto Scaling groups
# launching from each kind of source.  Ids have 17 hex digits, as AWS hands
# them out now.  The emulator's self-tests use it; integration tests may.
ACCOUNT = '123456789012'
OTHER_ACCOUNT = '210987654321'
A1, A2, A3, A4, A5 = (f'ami-0a00000000000000{n}' for n in range(1, 6))
PUBLIC_AMI, FOREIGN_AMI = 'ami-0f000000000000001', 'ami-0f000000000000002'
ORPHAN_SNAPSHOT = 'snap-0c000000000000001'
LT_DEVBOX, LT_RUNNER, LT_EMPTY = (f'lt-0a00000000000000{n}' for n in range(1, 4))
WEBHOOK = 'https://hooks.slack.com/services/T000/B000/' + 'w' * 24

HOUSEKEEPING_STATE = {
    'account_id': ACCOUNT,
    'images': [
        {'id': A1, 'name': 'devbox-2026-11-01', 'creation_date': '2026-11-01T03:00:00.000Z',
         'tags': {'devcloud:role': 'devbox-image'}},
        {'id': A2, 'name': 'devbox-2026-11-10', 'creation_date': '2026-11-10T03:00:00.000Z',
         'tags': {'devcloud:role': 'devbox-image'},
         'snapshots': ['snap-0a000000000000002', 'snap-0b000000000000002']},
        {'id': A3, 'name': 'devbox-2026-11-20', 'creation_date': '2026-11-20T03:00:00.000Z',
         'deprecated': True},
        {'id': A4, 'name': 'runner-2026-11-21', 'creation_date': '2026-11-21T03:00:00.000Z',
         'disabled': True, 'tags': {'devcloud:role': 'runner-image'}},
        {'id': A5, 'name': 'devbox-2026-11-25', 'creation_date': '2026-11-25T03:00:00.000Z',
         'state': 'pending'},
        {'id': PUBLIC_AMI, 'name': 'al2023-ami-2026.11', 'owner_id': OTHER_ACCOUNT,
         'owner_alias': 'amazon', 'public': True},
        {'id': FOREIGN_AMI, 'name': 'partner-private', 'owner_id': OTHER_ACCOUNT},
    ],
    'snapshots': [
        {'id': 'snap-0b000000000000002', 'volume_size': 30},
        {'id': ORPHAN_SNAPSHOT, 'tags': {'left': 'behind'}},
    ],
    'launch_templates': [
        {'id': LT_DEVBOX, 'name': 'devbox', 'default_version': 1,
         'versions': [{'number': 1, 'image_id': A1},
                      {'number': 2, 'image_id': A2, 'instance_type': 't3.large'},
                      {'number': 3, 'image_id': 'resolve:ssm:/devcloud/devbox-ami'}]},
        {'id': LT_RUNNER, 'name': 'runner', 'versions': [{'number': 1, 'image_id': A4}]},
        {'id': LT_EMPTY, 'name': 'no-image', 'default_version': 2,
         'versions': [{'number': 1, 'image_id': None}, {'number': 2, 'image_id': A5}]},
    ],
    'launch_configurations': [{'name': 'old-agents', 'image_id': A3}],
    'auto_scaling_groups': [
        {'name': 'drone-agents', 'launch_configuration': 'old-agents',
         'min_size': 0, 'max_size': 10, 'desired_capacity': 2,
         'tags': {'devcloud:role': 'drone-agent'},
         'instances': [{'id': 'i-0d000000000000001'},
                       {'id': 'i-0d000000000000002', 'lifecycle_state': 'Pending',
                        'health_status': 'Unhealthy', 'protected_from_scale_in': True}]},
        {'name': 'devboxes', 'launch_template': {'name': 'devbox', 'version': '$Latest'},
         'instances': [{'id': 'i-0d000000000000003',
                        'launch_template': {'id': LT_DEVBOX, 'version': '1'}}]},
        {'name': 'mixed-runners',
         'mixed_instances_policy': {
             'launch_template': {'id': LT_RUNNER},
             'overrides': [{'instance_type': 't3.large'},
                           {'instance_type': 'm5.large',
                            'launch_template': {'name': 'devbox', 'version': '2'}}]}},
    ],
    'parameters': [
        {'name': '/devcloud/slack-webhook', 'type': 'SecureString', 'value': WEBHOOK},
        {'name': '/devcloud/devbox-ami', 'value': A2, 'data_type': 'aws:ec2:image',
         'version': 3, 'last_modified_date': '2026-11-10T04:00:00Z'},
        {'name': '/devcloud/teams', 'type': 'StringList', 'value': ['infra', 'web']},
    ],
}



# --------------------------------------------------------------------------
# A Slack incoming webhook
# --------------------------------------------------------------------------

SLACK_TOKEN_CHARS = string.ascii_letters + string.digits
SLACK_TOKEN_LENGTH = 24


def _abort_connection(handler):
    """Drop a handler's connection with a TCP RST (SO_LINGER 0), no answer."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack('ii', 1, 0))
        # rfile holds the socket's fd too: close it so that close() really
        # closes (-> RST); wfile becomes a dummy the base class can flush.
        handler.rfile.close()
        handler.wfile = io.BytesIO()
        handler.connection.close()
    except OSError:
        pass


def _slack_refusal(payload):
    """Slack's own 400 reason for a webhook payload, or None if acceptable."""
    if not isinstance(payload, dict):
        return 'invalid_payload'
    blocks = payload.get('blocks')
    if blocks is not None and not (
            isinstance(blocks, list)
            and all(isinstance(b, dict) and isinstance(b.get('type'), str) for b in blocks)):
        return 'invalid_blocks'
    text = payload.get('text')
    if not (isinstance(text, str) and text.strip()) and not blocks:
        return 'no_text'
    return None


class _SlackHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive, like Slack; every answer has a length
    server_version = 'SlackEmulator'

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):   # quiet: requests() is the log
        pass

    def _read_body(self):
        if 'Transfer-Encoding' in self.headers:
            return None
        try:
            n = int(self.headers.get('Content-Length', '0'))
        except ValueError:
            return None
        if not 0 <= n <= 1024 * 1024:
            return None
        return self.rfile.read(n)

    def _answer(self, status, text, retry_after=None):
        body = text.encode()
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        if retry_after is not None:
            self.send_header('Retry-After', str(retry_after))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _decide(self, body, record):
        """(status, text, retry_after); status 0 drops the connection."""
        receiver = self.server.receiver
        if body is None:
            # No usable length: the next request on this connection cannot
            # be found, so answer and close.
            self.close_connection = True
            return 411, 'length_required', None
        if self.path != receiver.path:
            return 404, 'no_service', None
        if self.command != 'POST':
            return 405, 'invalid_method', None
        answer = receiver._next_answer()
        if answer.get('delay_s'):
            time.sleep(answer['delay_s'])
        if answer.get('reset'):
            return 0, None, None
        status = answer.get('status', 200)
        if status != 200:
            return status, answer.get('body', 'error'), answer.get('retry_after')
        ctype = self.headers.get('Content-Type', '')
        if ctype.split(';')[0].strip().lower() != 'application/json':
            reason = 'invalid_payload'
        elif record['json'] is None and body:
            reason = 'invalid_payload'   # not JSON at all
        else:
            reason = _slack_refusal(record['json'])
        if reason:
            return 400, reason, None
        return 200, answer.get('body', 'ok'), None

    def _handle(self):
        body = self._read_body()
        record = {'method': self.command, 'path': self.path,
                  'headers': dict(self.headers.items()), 'body': None, 'json': None,
                  'status': None, 'time': time.time()}
        if body is not None:
            record['body'] = body.decode('utf-8', errors='replace')
            try:
                record['json'] = json.loads(body) if body else None
            except ValueError:
                pass
        status, text, retry_after = self._decide(body, record)
        record['status'] = status
        # Recorded before answering: a client that got its answer finds it.
        self.server.receiver._record(record)
        if status == 0:
            _abort_connection(self)
        else:
            self._answer(status, text, retry_after)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class _SlackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, receiver, tls_context):
        super().__init__(('127.0.0.1', 0), _SlackHandler)
        self.receiver = receiver
        if tls_context is not None:
            self.socket = tls_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # Clients dropping connections (timeouts, resets) are routine here.
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SlackReceiver:
    """A Slack incoming webhook on 127.0.0.1 for the duration of a ``with``.

    It behaves like hooks.slack.com: POST only (else 405 "invalid_method"),
    the webhook's own path only (else 404 "no_service"), a JSON body
    (Content-Type application/json, else 400 "invalid_payload") holding an
    object with a non-empty "text" or "blocks" (else 400 "no_text"; blocks
    that are not a list of objects with a "type": 400 "invalid_blocks");
    then 200 "ok".

    ``script(answers)`` makes the next webhook POSTs answer otherwise, in
    order, before the checks above; each answer is a dict
        {"status": 500, "body": "internal_error", "retry_after": 1,
         "delay_s": 0, "reset": False}
    (status 200 or no status: checked and answered as usual, after
    delay_s; retry_after adds a Retry-After header; reset drops the
    connection with a TCP RST and no answer).
    """

    def __init__(self, tls_cert=None, tls_key=None):
        self.secret = ''.join(secrets.choice(SLACK_TOKEN_CHARS)
                              for _ in range(SLACK_TOKEN_LENGTH))
        self.path = f'/services/T0DEVCLOUD/B0ALERTS/{self.secret}'
        self.scheme = 'https' if tls_cert else 'http'
        self._tls = None
        if tls_cert:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(str(tls_cert), str(tls_key))
        self._lock = threading.Lock()
        self._answers = []
        self._requests = []
        self._server = None
        self._thread = None

    @property
    def url(self):
        return f'{self.scheme}://127.0.0.1:{self.port}{self.path}'

    def start(self):
        self._server = _SlackServer(self, self._tls)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop()

    def script(self, answers):
        """Answers for the next webhook POSTs (appended to those pending)."""
        for a in answers:
            unknown = set(a) - {'status', 'body', 'retry_after', 'delay_s', 'reset'}
            if unknown:
                raise ValueError(f'unknown answer fields {sorted(unknown)}')
        with self._lock:
            self._answers.extend(dict(a) for a in answers)

    def _next_answer(self):
        with self._lock:
            return self._answers.pop(0) if self._answers else {}

    def _record(self, record):
        with self._lock:
            self._requests.append(record)

    def requests(self):
        """Every request received, in order: {"method", "path", "headers",
        "body", "json", "status" (0: reset), "time"}."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def messages(self):
        """The JSON payloads of the requests answered 200, in order."""
        return [r['json'] for r in self.requests() if r['status'] == 200]

    def clear(self):
        """Forget the requests received and the answers still scripted."""
        with self._lock:
            self._requests.clear()
            self._answers.clear()


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


def scheduled_event(rule, time='2026-11-27T18:00:00Z', region=DEFAULT_REGION,
                    account='123456789012'):
    """The event a CloudWatch Events / EventBridge cron rule sends."""
    return {
        'version': '0', 'id': 'cdc73f9d-aea9-11e3-9d5a-835b769c0d9c',
        'detail-type': 'Scheduled Event', 'source': 'aws.events', 'account': account,
        'time': time, 'region': region,
        'resources': [f'arn:aws:events:{region}:{account}:rule/{rule}'], 'detail': {},
    }


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


def record_aws_actions(bootstrap_path, aws, since):
    """With DEVCLOUD_IAM_RECORD set (tests/run.sh sets it), append a line
    "<function> <service>:<Action>" for each action the bootstrap called on
    ``aws`` since ``since`` (time.time()), the function being the bootstrap's
    folder; a decrypted GetParameter also needs kms:Decrypt. tests/terraform
    checks each function's IAM policy against these lines."""
    path = os.environ.get('DEVCLOUD_IAM_RECORD')
    if not path or aws is None or aws._daemon is None:
        return
    function = os.path.basename(os.path.dirname(os.path.abspath(bootstrap_path)))
    try:
        calls = [c for c in aws.calls() if c['time'] >= since and c['service'] and c['action']]
    except (OSError, ValueError, http.client.HTTPException):
        return   # the emulator is gone: the test says why
    lines = set()
    for c in calls:
        lines.add(f"{function} {c['service']}:{c['action']}\n")
        if c['action'] == 'GetParameter' and (c['params'] or {}).get('WithDecryption'):
            lines.add(f'{function} kms:Decrypt\n')
    with open(path, 'a') as f:
        f.writelines(sorted(lines))


def run_lambda(bootstrap_path, events, env=None, timeout_s=30, aws=None,
               function_name=DEFAULT_FUNCTION_NAME, timeout_ms=30000, next_faults=None):
    """Run a bootstrap against the Runtime API emulator for ``events``.

    ``events``: payloads (any JSON value) or Event objects.  ``aws``: an
    AwsEmu whose URL/region/credentials go in the environment.  ``env``
    overrides (None removes a variable).  ``next_faults``: rtemu faults for
    the first GET /next calls (``[{"kind": "reset", "count": 2}]``, see
    rtemu.py).  Returns a LambdaRun once every event
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
    since = time.time()
    try:
        request_ids = []
        for ev in events:
            spec = ev.to_json() if isinstance(ev, Event) else {'payload': ev}
            request_ids.append(http_json('POST', f'{rt_url}/_rt/invoke', spec)['request_id'])
        if next_faults:
            http_json('POST', f'{rt_url}/_rt/next_faults', next_faults)

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
        record_aws_actions(bootstrap_path, aws, since)
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
    since = time.time()
    proc = subprocess.run([str(bootstrap_path), '--event', '-'], input=event_json,
                          capture_output=True, env=full_env, timeout=timeout_s)
    record_aws_actions(bootstrap_path, aws, since)
    return (proc.returncode, proc.stdout.decode('utf-8', errors='replace'),
            proc.stderr.decode('utf-8', errors='replace'))


# --------------------------------------------------------------------------
# A Drone server's queue API (tests/emulator/droneemu.py)
# --------------------------------------------------------------------------

DRONE_TOKEN_LENGTH = 32


class DroneEmu:
    """The Drone queue API on 127.0.0.1 for the duration of a ``with``, with a
    fresh random admin token (``token``) and a non-admin one (``user_token``).

        with DroneEmu() as drone:
            drone.set_stages([drone_stage(1, 'running', machine='i-0...'), drone_stage(2)])
            drone.fault('error500')                 # the next request only
            run = run_lambda(..., env={'DRONE_SERVER': drone.url, 'DRONE_TOKEN': drone.token})
            assert drone.token not in run.logs
            assert [r['status'] for r in drone.requests()] == [500, 200]
    """

    def __init__(self, stages=None):
        from droneemu import DroneServer   # noqa: PLC0415 - next to this file
        self.token = ''.join(secrets.choice(SLACK_TOKEN_CHARS)
                             for _ in range(DRONE_TOKEN_LENGTH))
        self.user_token = ''.join(secrets.choice(SLACK_TOKEN_CHARS)
                                  for _ in range(DRONE_TOKEN_LENGTH))
        self._server = DroneServer(self.token, self.user_token, stages)

    @property
    def url(self):
        return self._server.url

    def __enter__(self):
        self._server.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._server.stop()

    def set_stages(self, stages):
        self._server.set_stages(stages)

    def script(self, stage_lists):
        """One queue per answered request, in order; the last one stays."""
        self._server.script(stage_lists)

    def fault(self, kind, count=1, delay_s=0, status=None):
        self._server.fault(kind, count, delay_s, status)

    def requests(self):
        """Every request: {"method", "path", "auth" (admin | user | wrong | none
        | not-bearer), "authorization" (never the token), "status" (0: reset),
        "fault", "time"}."""
        return self._server.requests()

    def clear(self):
        self._server.clear()


def drone_stage(stage_id, status='pending', machine=None, **fields):
    """A stage as Drone's /api/queue shows it (see droneemu.stage)."""
    from droneemu import stage   # noqa: PLC0415
    return stage(stage_id, status, machine, **fields)
