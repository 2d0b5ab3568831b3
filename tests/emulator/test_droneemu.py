"""Self-tests of the Drone queue stand-in (droneemu.py, harness.DroneEmu)."""

import http.client
import json
import os
import signal
import subprocess
import time

import pytest

from harness import HERE, PYTHON, DroneEmu, drone_stage


def get(drone, token=None, path='/api/queue', method='GET', header=None):
    conn = http.client.HTTPConnection('127.0.0.1', drone._server.port, timeout=10)
    headers = {}
    if header is not None:
        headers['Authorization'] = header
    elif token is not None:
        headers['Authorization'] = f'Bearer {token}'
    try:
        conn.request(method, path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader('Content-Type'), resp.read()
    finally:
        conn.close()


@pytest.fixture
def drone():
    with DroneEmu() as d:
        yield d


STAGES = [drone_stage(1, 'running', machine='i-0e000000000000001', labels={'size': 'large'}),
          drone_stage(2), drone_stage(3, arch='arm64', variant='v8')]


def test_stages_omit_empty_fields():
    assert drone_stage(2) == {
        'id': 2, 'repo_id': 1, 'build_id': 2, 'number': 1, 'name': 'default',
        'kind': 'pipeline', 'type': 'docker', 'status': 'pending', 'errignore': False,
        'exit_code': 0, 'os': 'linux', 'arch': 'amd64', 'created': 1764748800,
        'updated': 1764748800, 'version': 1, 'on_success': True, 'on_failure': False}
    assert STAGES[0]['machine'] == 'i-0e000000000000001' and STAGES[0]['labels'] == {'size': 'large'}


def test_the_queue_for_the_admin_token(drone):
    drone.set_stages(STAGES)
    status, ctype, body = get(drone, drone.token)
    assert (status, ctype) == (200, 'application/json')
    assert json.loads(body) == STAGES
    assert drone.url == f'http://127.0.0.1:{drone._server.port}'


@pytest.mark.parametrize('who, status', [('none', 401), ('wrong', 401), ('not-bearer', 401),
                                         ('user', 403)])
def test_tokens_refused(drone, who, status):
    drone.set_stages(STAGES)
    kw = {'none': {}, 'wrong': {'token': drone.token + 'x'},
          'not-bearer': {'header': f'Token {drone.token}'},
          'user': {'token': drone.user_token}}[who]
    got, _, body = get(drone, **kw)
    assert got == status
    assert b'stage' not in body and b'i-0e' not in body
    assert drone.requests()[-1]['auth'] == who


def test_other_paths_and_methods(drone):
    assert get(drone, drone.token, path='/api/user')[0] == 404
    assert get(drone, drone.token, method='POST')[0] == 405


@pytest.mark.parametrize('kind, status, check', [
    ('error500', 500, lambda b: json.loads(b) == {'message': 'Internal Server Error'}),
    ('unauthorized', 401, lambda b: json.loads(b) == {'message': 'Unauthorized'}),
    ('html', 502, lambda b: b.startswith(b'<html>') and b'Bad Gateway' in b),
])
def test_faults_answer_then_go_away(drone, kind, status, check):
    drone.set_stages(STAGES)
    drone.fault(kind, count=2)
    for _ in range(2):
        got, _, body = get(drone, drone.token)
        assert got == status and check(body)
    assert get(drone, drone.token)[0] == 200
    assert [r['fault'] for r in drone.requests()] == [kind, kind, None]


def test_truncated_json_is_a_complete_answer(drone):
    drone.set_stages(STAGES)
    drone.fault('truncated')
    status, _, body = get(drone, drone.token)
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(body)
    assert json.dumps(STAGES).startswith(body.decode())


def test_slow_then_normal(drone):
    drone.set_stages(STAGES)
    drone.fault('slow', delay_s=0.4)
    start = time.monotonic()
    assert get(drone, drone.token)[0] == 200
    assert time.monotonic() - start >= 0.4


def test_reset_drops_the_connection(drone):
    drone.fault('reset')
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        get(drone, drone.token)
    assert drone.requests()[0]['status'] == 0
    assert get(drone, drone.token)[0] == 200


def test_unknown_fault_refused(drone):
    with pytest.raises(ValueError):
        drone.fault('teapot')


def test_the_token_is_never_recorded(drone):
    get(drone, drone.token)
    get(drone, drone.user_token)
    get(drone, header=f'Bearer {drone.token}x')
    recorded = json.dumps(drone.requests())
    assert drone.token not in recorded and drone.user_token not in recorded
    assert [r['authorization'] for r in drone.requests()] == ['Bearer [redacted]'] * 3


def test_as_a_process(tmp_path):
    token_file, port_file = tmp_path / 'token', tmp_path / 'port'
    token_file.write_text('t0ken\n')
    stages = tmp_path / 'stages.json'
    stages.write_text(json.dumps(STAGES))
    proc = subprocess.Popen([PYTHON, str(HERE / 'droneemu.py'), '--token-file', str(token_file),
                             '--port-file', str(port_file), '--stages', str(stages)])
    try:
        for _ in range(100):
            if port_file.exists():
                break
            time.sleep(0.05)
        port = int(port_file.read_text())
        conn = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
        conn.request('GET', '/api/queue', headers={'Authorization': 'Bearer t0ken'})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read()) == STAGES
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(str(port_file) + '.tmp')


def test_a_script_serves_one_queue_per_answered_request_then_keeps_the_last(drone):
    first, second = [drone_stage(1)], [drone_stage(1, 'running', machine='i-0e000000000000001')]
    drone.script([first, second])
    drone.fault('error500')                     # a refused request takes no queue
    assert get(drone, drone.token)[0] == 500
    assert json.loads(get(drone, drone.token)[2]) == first
    assert json.loads(get(drone, drone.token)[2]) == second
    assert json.loads(get(drone, drone.token)[2]) == second
    with pytest.raises(ValueError):
        drone.script([])
