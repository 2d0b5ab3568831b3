"""The harness's Slack incoming-webhook receiver behaves like Slack."""

import http.client
import json
import re
import shutil
import ssl
import subprocess
import time

import pytest

from harness import SlackReceiver


@pytest.fixture
def slack():
    with SlackReceiver() as receiver:
        yield receiver


def post(receiver, body, path=None, content_type='application/json', method='POST',
         conn=None, context=None):
    """One request; returns (status, headers, text). ``body``: bytes, str, or
    anything else to be JSON-encoded."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    own = conn is None
    if own:
        if context is not None:
            conn = http.client.HTTPSConnection('127.0.0.1', receiver.port, timeout=5,
                                               context=context)
        else:
            conn = http.client.HTTPConnection('127.0.0.1', receiver.port, timeout=5)
    try:
        headers = {'Content-Type': content_type} if content_type else {}
        conn.request(method, path or receiver.path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read().decode()
    finally:
        if own:
            conn.close()


def test_url_and_secret(slack):
    m = re.fullmatch(r'http://127\.0\.0\.1:(\d+)/services/T0DEVCLOUD/B0ALERTS/([A-Za-z0-9]{24})',
                     slack.url)
    assert m, slack.url
    assert int(m.group(1)) == slack.port
    assert m.group(2) == slack.secret
    with SlackReceiver() as other:
        assert other.secret != slack.secret and other.port != slack.port


def test_a_message_is_answered_ok_and_recorded(slack):
    payload = {'text': 'devbox *alice* stopped'}
    assert post(slack, payload)[::2] == (200, 'ok')
    assert slack.messages() == [payload]
    [req] = slack.requests()
    assert (req['method'], req['path'], req['status']) == ('POST', slack.path, 200)
    assert req['headers']['Content-Type'] == 'application/json'
    assert req['json'] == payload and json.loads(req['body']) == payload
    assert abs(req['time'] - time.time()) < 60


def test_blocks_without_text_are_fine(slack):
    payload = {'blocks': [{'type': 'section', 'text': {'type': 'mrkdwn', 'text': 'hi'}}]}
    assert post(slack, payload)[0] == 200
    assert post(slack, payload, content_type='application/json; charset=utf-8')[0] == 200
    assert slack.messages() == [payload, payload]


@pytest.mark.parametrize('body, content_type, reason', [
    ({'text': 'hi'}, 'text/plain', 'invalid_payload'),
    ('payload=%7B%22text%22%3A%22hi%22%7D', 'application/x-www-form-urlencoded', 'invalid_payload'),
    ({'text': 'hi'}, None, 'invalid_payload'),
    ('{"text": ', 'application/json', 'invalid_payload'),
    (b'\xff\xfe', 'application/json', 'invalid_payload'),
    (['text'], 'application/json', 'invalid_payload'),
    ('', 'application/json', 'invalid_payload'),
    ({}, 'application/json', 'no_text'),
    ({'text': ''}, 'application/json', 'no_text'),
    ({'text': '   '}, 'application/json', 'no_text'),
    ({'text': None, 'blocks': []}, 'application/json', 'no_text'),
    ({'blocks': 'section'}, 'application/json', 'invalid_blocks'),
    ({'text': 'hi', 'blocks': [{'text': 'no type'}]}, 'application/json', 'invalid_blocks'),
    ({'text': 'hi', 'blocks': ['section']}, 'application/json', 'invalid_blocks'),
])
def test_refusals(slack, body, content_type, reason):
    assert post(slack, body, content_type=content_type)[::2] == (400, reason)
    assert slack.messages() == []
    assert [r['status'] for r in slack.requests()] == [400]


def test_only_the_webhook_path(slack):
    wrong = f'/services/T0DEVCLOUD/B0ALERTS/{"x" * 24}'
    assert post(slack, {'text': 'hi'}, path=wrong)[::2] == (404, 'no_service')
    assert post(slack, {'text': 'hi'}, path='/')[::2] == (404, 'no_service')
    assert post(slack, {'text': 'hi'}, path=slack.path + '/')[::2] == (404, 'no_service')
    assert slack.messages() == []
    assert [r['path'] for r in slack.requests()] == [wrong, '/', slack.path + '/']


def test_post_only(slack):
    for method in ('GET', 'PUT'):
        assert post(slack, b'', method=method)[::2] == (405, 'invalid_method')
    assert slack.messages() == []


def test_script_then_ok_forever(slack):
    slack.script([{'status': 500, 'body': 'internal_error'},
                  {'status': 429, 'body': 'rate_limited', 'retry_after': 2},
                  {'status': 410, 'body': 'channel_is_archived'}])
    answers = [post(slack, {'text': f'try {n}'}) for n in range(5)]
    assert [(s, t) for s, _, t in answers] == [
        (500, 'internal_error'), (429, 'rate_limited'), (410, 'channel_is_archived'),
        (200, 'ok'), (200, 'ok')]
    assert answers[1][1]['Retry-After'] == '2'
    assert 'Retry-After' not in answers[0][1] and 'Retry-After' not in answers[3][1]
    assert slack.messages() == [{'text': 'try 3'}, {'text': 'try 4'}]
    assert [r['status'] for r in slack.requests()] == [500, 429, 410, 200, 200]


def test_scripted_answers_are_for_the_webhook_only(slack):
    slack.script([{'status': 503}])
    assert post(slack, {'text': 'x'}, path='/elsewhere')[0] == 404
    assert post(slack, {'text': 'x'}, method='GET')[0] == 405
    assert post(slack, {'text': 'x'})[0] == 503
    assert post(slack, {'text': 'x'})[0] == 200


def test_a_scripted_ok_is_still_checked(slack):
    slack.script([{'delay_s': 0.4}, {}])
    t0 = time.monotonic()
    assert post(slack, {'text': 'slow'})[0] == 200
    assert time.monotonic() - t0 >= 0.4
    assert post(slack, {})[::2] == (400, 'no_text')


def test_reset_drops_the_connection(slack):
    slack.script([{'reset': True}])
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        post(slack, {'text': 'lost'})
    assert post(slack, {'text': 'delivered'})[0] == 200
    assert [r['status'] for r in slack.requests()] == [0, 200]
    assert slack.messages() == [{'text': 'delivered'}]


def test_keep_alive(slack):
    conn = http.client.HTTPConnection('127.0.0.1', slack.port, timeout=5)
    try:
        for n in range(3):
            assert post(slack, {'text': str(n)}, conn=conn)[0] == 200
        assert post(slack, {}, conn=conn)[0] == 400       # a refusal keeps it open too
        assert post(slack, {'text': 'again'}, conn=conn)[0] == 200
    finally:
        conn.close()
    assert len(slack.messages()) == 4


def test_clear_and_script_validation(slack):
    slack.script([{'status': 500}])
    post(slack, {'text': 'x'})
    slack.script([{'status': 500}])
    slack.clear()
    assert slack.requests() == [] and slack.messages() == []
    assert post(slack, {'text': 'y'})[0] == 200          # the pending answer went too
    with pytest.raises(ValueError):
        slack.script([{'code': 500}])


def test_tls(tmp_path):
    openssl = shutil.which('openssl')
    if not openssl:
        pytest.skip('openssl not installed')
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run([openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', str(key), '-out', str(cert)], check=True, capture_output=True)
    with SlackReceiver(tls_cert=cert, tls_key=key) as slack:
        assert slack.url.startswith('https://127.0.0.1:')
        context = ssl.create_default_context(cafile=str(cert))
        assert post(slack, {'text': 'over tls'}, context=context)[::2] == (200, 'ok')
        assert slack.messages() == [{'text': 'over tls'}]
        # a client that does not trust the certificate gets nowhere
        with pytest.raises(ssl.SSLError):
            post(slack, {'text': 'x'}, context=ssl.create_default_context())
