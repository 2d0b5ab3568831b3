"""Self-tests of rtemu.py (acting as the runtime with urllib/http.client) and
of harness.run_lambda / run_local (with small Python stand-in bootstraps)."""

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

from harness import (DEFAULT_SESSION_TOKEN, RTEMU, AwsEmu, Event, _Daemon, http_json,
                     run_lambda, run_local)

API = '/2018-06-01/runtime'


@pytest.fixture
def rt(tmp_path):
    """A fresh rtemu; yields its base URL."""
    daemon = _Daemon(RTEMU, ['--timeout-ms', '5000', '--function-name', 'fn',
                             '--results', str(tmp_path / 'results.json')], 'rtemu')
    url = f'http://127.0.0.1:{daemon.port}'
    yield url
    daemon.stop(lambda: http_json('POST', f'{url}/_rt/shutdown', timeout=3))
    daemon.cleanup()


def invoke(url, payload, **extra):
    return http_json('POST', f'{url}/_rt/invoke', {'payload': payload, **extra})['request_id']


def next_event(url, timeout=5):
    with urllib.request.urlopen(f'{url}{API}/invocation/next', timeout=timeout) as resp:
        return resp.status, dict(resp.headers), resp.read()


def post(url, path, body=b'', headers=None):
    """POST raw bytes; returns (status, decoded JSON)."""
    req = urllib.request.Request(f'{url}{path}', data=body, method='POST',
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def results(url):
    return http_json('GET', f'{url}/_rt/results')


# --------------------------------------------------------------------------
# Runtime API rules
# --------------------------------------------------------------------------

def test_next_delivers_event_with_headers(rt):
    rid = invoke(rt, {'action': 'stop'}, trace_id='Root=1-abc;Sampled=0',
                 client_context={'custom': 1}, cognito_identity={'id': 'x'})
    t0 = int(time.time() * 1000)
    status, headers, body = next_event(rt)
    assert status == 200
    assert json.loads(body) == {'action': 'stop'}
    assert headers['Lambda-Runtime-Aws-Request-Id'] == rid
    assert abs(int(headers['Lambda-Runtime-Deadline-Ms']) - (t0 + 5000)) < 1000
    assert headers['Lambda-Runtime-Invoked-Function-Arn'] == \
        'arn:aws:lambda:eu-west-1:123456789012:function:fn'
    assert headers['Lambda-Runtime-Trace-Id'] == 'Root=1-abc;Sampled=0'
    assert json.loads(headers['Lambda-Runtime-Client-Context']) == {'custom': 1}
    assert json.loads(headers['Lambda-Runtime-Cognito-Identity']) == {'id': 'x'}
    inv = results(rt)['invocations'][0]
    assert inv['state'] == 'delivered'
    assert inv['headers_seen_on_next']['Lambda-Runtime-Aws-Request-Id'] == rid


def test_optional_headers_absent_and_string_payload(rt):
    invoke(rt, 'plain text', timeout_ms=100)
    _, headers, body = next_event(rt)
    assert body == b'plain text'
    for h in ('Lambda-Runtime-Trace-Id', 'Lambda-Runtime-Client-Context',
              'Lambda-Runtime-Cognito-Identity'):
        assert h not in headers


def test_response_then_second_response_is_refused(rt, tmp_path):
    rid = invoke(rt, {})
    next_event(rt)
    assert post(rt, f'{API}/invocation/{rid}/response', b'{"ok": true}',
                {'Content-Type': 'application/json'}) == (202, {'status': 'OK'})
    status, body = post(rt, f'{API}/invocation/{rid}/response', b'{}')
    assert (status, body['errorType']) == (403, 'InvalidStateTransition')
    status, body = post(rt, f'{API}/invocation/{rid}/error', b'{}',
                        {'Lambda-Runtime-Function-Error-Type': 'X'})
    assert status == 403
    res = results(rt)
    inv = res['invocations'][0]
    assert (inv['kind'], inv['body_json'], inv['late']) == ('response', {'ok': True}, False)
    assert inv['refused_posts'] == ['response', 'error']
    assert res['next_calls'] == 1
    saved = json.loads((tmp_path / 'results.json').read_text())
    assert saved['invocations'][0]['kind'] == 'response'


def test_unknown_or_undelivered_id_is_400(rt):
    status, body = post(rt, f'{API}/invocation/nope/response', b'{}')
    assert (status, body['errorType']) == (400, 'InvalidRequestID')
    rid = invoke(rt, {})   # queued, never handed out
    assert post(rt, f'{API}/invocation/{rid}/response', b'{}')[0] == 400


def test_error_needs_error_type_header(rt):
    rid = invoke(rt, {})
    next_event(rt)
    assert post(rt, f'{API}/invocation/{rid}/error', b'{}')[0] == 400
    err = {'errorMessage': 'boom', 'errorType': 'Runtime.Boom', 'stackTrace': []}
    assert post(rt, f'{API}/invocation/{rid}/error', json.dumps(err).encode(),
                {'Lambda-Runtime-Function-Error-Type': 'Runtime.Boom'})[0] == 202
    inv = results(rt)['invocations'][0]
    assert (inv['kind'], inv['error_type'], inv['body_json']) == ('error', 'Runtime.Boom', err)


def test_response_over_6mb_is_413_and_error_still_possible(rt):
    rid = invoke(rt, {})
    next_event(rt)
    status, body = post(rt, f'{API}/invocation/{rid}/response', b'x' * (6 * 1024 * 1024 + 1))
    assert (status, body['errorType']) == (413, 'RequestEntityTooLarge')
    assert post(rt, f'{API}/invocation/{rid}/error', b'{}',
                {'Lambda-Runtime-Function-Error-Type': 'Function.ResponseSizeTooLarge'})[0] == 202
    inv = results(rt)['invocations'][0]
    assert (inv['oversize_attempts'], inv['kind']) == (1, 'error')


def test_response_of_exactly_6mb_is_accepted(rt):
    rid = invoke(rt, {})
    next_event(rt)
    assert post(rt, f'{API}/invocation/{rid}/response', b'"' + b'x' * (6 * 1024 * 1024 - 2) + b'"')[0] == 202


def test_chunked_response_body(rt):
    rid = invoke(rt, {})
    next_event(rt)
    port = int(rt.rsplit(':', 1)[1])
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    conn.request('POST', f'{API}/invocation/{rid}/response',
                 body=iter([b'{"a":', b' 1}']), encode_chunked=True)
    assert conn.getresponse().status == 202
    conn.close()
    assert results(rt)['invocations'][0]['body_json'] == {'a': 1}


def test_next_blocks_until_an_event_is_queued(rt):
    got = {}
    t = threading.Thread(target=lambda: got.update(r=next_event(rt)))
    t.start()
    time.sleep(0.3)
    assert not got
    rid = invoke(rt, {'late': 1})
    t.join(5)
    assert got['r'][1]['Lambda-Runtime-Aws-Request-Id'] == rid


def test_late_response_is_flagged(rt):
    rid = invoke(rt, {}, timeout_ms=50)
    next_event(rt)
    time.sleep(0.1)
    post(rt, f'{API}/invocation/{rid}/response', b'{}')
    assert results(rt)['invocations'][0]['late'] is True


def test_init_error(rt):
    invoke(rt, {})
    assert post(rt, f'{API}/init/error', b'{"errorMessage":"no config"}',
                {'Lambda-Runtime-Function-Error-Type': 'Runtime.ConfigError'})[0] == 202
    res = results(rt)
    assert res['init_error']['error_type'] == 'Runtime.ConfigError'
    assert res['init_error']['body_json'] == {'errorMessage': 'no config'}
    with pytest.raises(urllib.error.HTTPError) as e:
        next_event(rt)
    assert e.value.code == 403
    assert post(rt, f'{API}/init/error', b'{}')[0] == 403


def test_keep_alive_across_next_and_response(rt):
    rids = [invoke(rt, {'n': n}) for n in range(3)]
    port = int(rt.rsplit(':', 1)[1])
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
    for rid in rids:
        conn.request('GET', f'{API}/invocation/next')
        resp = conn.getresponse()
        assert resp.getheader('Lambda-Runtime-Aws-Request-Id') == rid
        resp.read()
        conn.request('POST', f'{API}/invocation/{rid}/response', body=b'{}')
        resp = conn.getresponse()
        assert resp.status == 202
        resp.read()
    conn.close()
    assert [i['kind'] for i in results(rt)['invocations']] == ['response'] * 3


def test_next_faults_in_order_then_the_event(rt):
    rid = invoke(rt, {'after': 'faults'})
    assert http_json('POST', f'{rt}/_rt/next_faults',
                     [{'kind': 'status', 'status': 503, 'count': 2},
                      {'kind': 'reset'}, {'kind': 'close'}]) == {'ok': True}
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as e:
            next_event(rt)
        assert e.value.code == 503
        assert json.loads(e.value.read())['errorType'] == 'ServiceUnavailable'
    with pytest.raises(ConnectionResetError):
        next_event(rt)
    with pytest.raises(http.client.RemoteDisconnected):
        next_event(rt)
    assert results(rt)['invocations'][0]['state'] == 'queued'  # no fault consumed it
    _, headers, body = next_event(rt)
    assert headers['Lambda-Runtime-Aws-Request-Id'] == rid
    assert json.loads(body) == {'after': 'faults'}
    res = results(rt)
    assert res['next_faults_served'] == 4 and res['next_faults_pending'] == 0
    assert res['next_calls'] == 1  # only the one that delivered


@pytest.mark.parametrize('faults', [
    {'kind': 'reset'},                       # not a list
    [{'kind': 'explode'}],
    [{'kind': 'status', 'status': 200}],
    [{'kind': 'reset', 'count': 0}],
    [{'kind': 'reset', 'extra': 1}],
])
def test_next_faults_refused(rt, faults):
    with pytest.raises(urllib.error.HTTPError) as e:
        http_json('POST', f'{rt}/_rt/next_faults', faults)
    assert e.value.code == 400
    assert results(rt)['next_faults_pending'] == 0


def test_events_file(tmp_path):
    events = tmp_path / 'events.json'
    events.write_text(json.dumps([{'payload': {'a': 1}, 'request_id': 'req-1',
                                   'trace_id': 'Root=1-x'}]))
    daemon = _Daemon(RTEMU, ['--events', str(events)], 'rtemu')
    url = f'http://127.0.0.1:{daemon.port}'
    try:
        _, headers, body = next_event(url)
        assert headers['Lambda-Runtime-Aws-Request-Id'] == 'req-1'
        assert headers['Lambda-Runtime-Trace-Id'] == 'Root=1-x'
        assert json.loads(body) == {'a': 1}
    finally:
        daemon.stop(lambda: http_json('POST', f'{url}/_rt/shutdown', timeout=3))
        daemon.cleanup()


# --------------------------------------------------------------------------
# harness.run_lambda / run_local with stand-in bootstraps
# --------------------------------------------------------------------------

# A minimal runtime loop in Python: echoes the event plus a few env vars.
ECHO_BOOTSTRAP = '''\
#!/usr/bin/python3
import json, os, sys, urllib.request
api = 'http://' + os.environ['AWS_LAMBDA_RUNTIME_API'] + '/2018-06-01/runtime'
mode = os.environ.get('MODE', 'echo')
if mode == 'init-error':
    req = urllib.request.Request(api + '/init/error', data=b'{"errorMessage":"bad env"}',
                                 headers={'Lambda-Runtime-Function-Error-Type': 'Runtime.Init'})
    urllib.request.urlopen(req).read()
    sys.exit(1)
n = 0
while True:
    with urllib.request.urlopen(api + '/invocation/next') as r:
        rid = r.headers['Lambda-Runtime-Aws-Request-Id']
        event = json.loads(r.read())
    n += 1
    print(json.dumps({'level': 'INFO', 'msg': 'got event', 'n': n}), flush=True)
    if mode == 'crash' and n == 2:
        os._exit(3)
    if event.get('fail'):
        req = urllib.request.Request(api + '/invocation/' + rid + '/error',
                                     data=b'{"errorMessage":"asked to fail"}',
                                     headers={'Lambda-Runtime-Function-Error-Type': 'Handler.Fail'})
    else:
        env = {k: v for k, v in os.environ.items() if k.startswith(('AWS_', 'LAMBDA_', '_HANDLER'))}
        req = urllib.request.Request(api + '/invocation/' + rid + '/response',
                                     data=json.dumps({'event': event, 'env': env}).encode())
    urllib.request.urlopen(req).read()
'''

LOCAL_BOOTSTRAP = '''\
#!/usr/bin/python3
import json, os, sys
assert sys.argv[1:] == ['--event', '-'], sys.argv
event = json.load(sys.stdin)
print(json.dumps({'echo': event, 'region': os.environ['AWS_REGION'],
                  'runtime_api': os.environ.get('AWS_LAMBDA_RUNTIME_API')}))
print('log line', file=sys.stderr)
sys.exit(event.get('rc', 0))
'''


@pytest.fixture
def bootstrap(tmp_path):
    def make(source):
        path = tmp_path / 'bootstrap'
        path.write_text(source)
        path.chmod(0o755)
        return path
    return make


def test_run_lambda_echo(bootstrap, monkeypatch):
    monkeypatch.setenv('AWS_PROFILE', 'leaky')          # must not reach the function
    monkeypatch.setenv('AWS_ACCESS_KEY_ID', 'AKIALEAK')
    run = run_lambda(bootstrap(ECHO_BOOTSTRAP),
                     [{'n': 1}, Event({'n': 2}, trace_id='Root=1-2'), {'fail': True}],
                     env={'AWS_LAMBDA_FUNCTION_MEMORY_SIZE': 256, 'EXTRA': 'x'})
    assert run.exit_code is None and not run.timed_out      # alive, stopped by us
    assert run.response(0)['event'] == {'n': 1}
    env = run.response(0)['env']
    assert env['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'] == '256'
    assert env['AWS_LAMBDA_RUNTIME_API'].startswith('127.0.0.1:')
    assert env['AWS_ACCESS_KEY_ID'] == 'AKIDEMULATOR'
    assert env['AWS_SESSION_TOKEN'] == DEFAULT_SESSION_TOKEN
    assert 'AWS_PROFILE' not in env and 'AWS_ENDPOINT_URL' not in env
    assert run.results[1]['headers_seen_on_next']['Lambda-Runtime-Trace-Id'] == 'Root=1-2'
    assert (run.results[2]['kind'], run.results[2]['error_type']) == ('error', 'Handler.Fail')
    assert [line['n'] for line in run.log_lines()] == [1, 2, 3]
    assert run.next_calls in (3, 4)   # a 4th /next may be blocking when we stop it


def test_run_lambda_with_aws_and_env_removal(bootstrap):
    with AwsEmu() as aws:
        run = run_lambda(bootstrap(ECHO_BOOTSTRAP), [{}], aws=aws,
                         env={'AWS_SESSION_TOKEN': None})
        env = run.response(0)['env']
        assert env['AWS_ENDPOINT_URL'] == aws.url
        assert 'AWS_SESSION_TOKEN' not in env


def test_run_lambda_crash(bootstrap):
    run = run_lambda(bootstrap(ECHO_BOOTSTRAP), [{}, {}, {}], env={'MODE': 'crash'})
    assert run.exit_code == 3
    assert run.results[0]['kind'] == 'response'
    assert run.results[1] is None and run.results[2] is None


def test_run_lambda_init_error(bootstrap):
    run = run_lambda(bootstrap(ECHO_BOOTSTRAP), [{}], env={'MODE': 'init-error'})
    assert run.init_error['error_type'] == 'Runtime.Init'
    assert run.results == [None]


def test_run_lambda_timeout(bootstrap):
    hang = '#!/usr/bin/python3\nimport time\ntime.sleep(60)\n'
    t0 = time.monotonic()
    run = run_lambda(bootstrap(hang), [{}], timeout_s=0.5)
    assert run.timed_out and run.exit_code is None and run.results == [None]
    assert time.monotonic() - t0 < 5


def test_run_local(bootstrap, monkeypatch):
    monkeypatch.setenv('AWS_REGION', 'us-east-2')
    rc, out, err = run_local(bootstrap(LOCAL_BOOTSTRAP), {'rc': 0, 'x': 1})
    assert rc == 0 and err == 'log line\n'
    assert json.loads(out) == {'echo': {'rc': 0, 'x': 1}, 'region': 'eu-west-1',
                               'runtime_api': None}
    rc, _, _ = run_local(bootstrap(LOCAL_BOOTSTRAP), '{"rc": 4}')
    assert rc == 4


def test_harness_reports_emulator_crash():
    from harness import EmulatorCrashed
    emu = AwsEmu().start()
    emu._daemon.proc.kill()
    emu._daemon.proc.wait()
    with pytest.raises(EmulatorCrashed):
        emu.stop()
    assert os.path.exists(RTEMU)
