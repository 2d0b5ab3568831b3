"""Self-tests of awsemu.py's SSM GetParameter, through a real botocore client
and, where the wire matters, hand-made signed requests."""

import base64
import datetime
import json

import botocore.exceptions
import pytest

from harness import A2, JSON_11, WEBHOOK, raw_call

SECRET_NAME = '/devcloud/slack-webhook'


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


@pytest.fixture
def ssm(housekeeping):
    return housekeeping.client('ssm')


def get_parameter_raw(emu, body):
    status, headers, text = raw_call(emu, json.dumps(body), service='ssm', content_type=JSON_11,
                                     extra_headers={'X-Amz-Target': 'AmazonSSM.GetParameter'})
    return status, headers, text


def test_string_parameter(ssm):
    p = ssm.get_parameter(Name='/devcloud/devbox-ami')['Parameter']
    assert p == {
        'Name': '/devcloud/devbox-ami', 'Type': 'String', 'Value': A2, 'Version': 3,
        'LastModifiedDate': datetime.datetime(2026, 11, 10, 4, tzinfo=datetime.timezone.utc),
        'ARN': 'arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/devbox-ami',
        'DataType': 'aws:ec2:image'}


def test_string_list_is_comma_joined(ssm):
    p = ssm.get_parameter(Name='/devcloud/teams')['Parameter']
    assert (p['Type'], p['Value'], p['DataType']) == ('StringList', 'infra,web', 'text')


def test_secure_string_is_clear_only_with_decryption(housekeeping, ssm):
    clear = ssm.get_parameter(Name=SECRET_NAME, WithDecryption=True)['Parameter']
    assert (clear['Type'], clear['Value']) == ('SecureString', WEBHOOK)
    opaque = ssm.get_parameter(Name=SECRET_NAME)['Parameter']['Value']
    again = ssm.get_parameter(Name=SECRET_NAME, WithDecryption=False)['Parameter']['Value']
    assert opaque == again                    # one stored ciphertext per version
    blob = base64.b64decode(opaque, validate=True)
    assert len(blob) > len(WEBHOOK)
    assert WEBHOOK.encode() not in blob and b'hooks.slack.com' not in blob
    # nor anywhere on the wire
    status, _, text = get_parameter_raw(housekeeping, {'Name': SECRET_NAME})
    assert status == 200 and 'hooks.slack.com' not in text and 'w' * 24 not in text


def test_parameter_not_found_is_json_11_shaped(housekeeping, ssm):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name='/devcloud/nope')
    assert client_error(e) == ('ParameterNotFound', 400)
    status, headers, text = get_parameter_raw(housekeeping, {'Name': '/devcloud/nope'})
    assert status == 400
    assert headers['Content-Type'] == JSON_11
    assert json.loads(text)['__type'] == 'ParameterNotFound'


@pytest.mark.parametrize('name, found', [
    ('arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/devbox-ami', True),
    ('arn:aws:ssm:us-east-1:123456789012:parameter/devcloud/devbox-ami', False),  # other region
    ('arn:aws:ssm:eu-west-1:210987654321:parameter/devcloud/devbox-ami', False),  # other account
    ('/devcloud/devbox-ami:3', True),          # its version
    ('devcloud/devbox-ami', False),            # names are exact
    ('/devcloud/Devbox-ami', False),
])
def test_names_arns_and_selectors(ssm, name, found):
    if found:
        p = ssm.get_parameter(Name=name)['Parameter']
        assert (p['Name'], p['Value']) == ('/devcloud/devbox-ami', A2)
    else:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.get_parameter(Name=name)
        assert client_error(e) == ('ParameterNotFound', 400)


def test_selector_of_another_version(ssm):
    assert ssm.get_parameter(Name='/devcloud/devbox-ami:3')['Parameter']['Selector'] == ':3'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name='/devcloud/devbox-ami:2')
    assert client_error(e) == ('ParameterVersionNotFound', 400)


def test_kms_decrypt_denied(housekeeping, ssm):
    state = housekeeping.state()
    state['denied_actions'] = ['kms:Decrypt']
    housekeeping.set_state(state)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name=SECRET_NAME, WithDecryption=True)
    assert client_error(e) == ('AccessDeniedException', 400)
    assert 'hooks.slack.com' not in e.value.response['Error']['Message']
    # without decryption, or for a plain String, KMS is not involved
    assert ssm.get_parameter(Name=SECRET_NAME)['Parameter']['Value'] != WEBHOOK
    assert ssm.get_parameter(Name='/devcloud/devbox-ami', WithDecryption=True)['Parameter']['Value'] == A2


def test_name_length_is_checked(housekeeping):
    status, _, text = get_parameter_raw(housekeeping, {'Name': '/' + 'x' * 2048})
    assert (status, json.loads(text)['__type']) == (400, 'ValidationException')
    status, _, text = get_parameter_raw(housekeeping, {'Name': ''})
    assert (status, json.loads(text)['__type']) == (400, 'ValidationException')
    status, _, text = get_parameter_raw(housekeeping, {'Name': '/' + 'x' * 2047})
    assert (status, json.loads(text)['__type']) == (400, 'ParameterNotFound')
