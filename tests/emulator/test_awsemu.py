"""Self-tests of awsemu.py: a real botocore client must find it AWS-shaped,
and hand-made requests that AWS would refuse must be refused."""

import datetime
import http.client
import json
import shutil
import subprocess
import time
from urllib.parse import urlencode

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
from botocore.parsers import ResponseParserError

from harness import EC2_FORM, AwsEmu, raw_call



# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def ids_of(response):
    return [i['InstanceId'] for r in response['Reservations'] for i in r['Instances']]


def states(ec2):
    out = ec2.describe_instances()
    return {i['InstanceId']: i['State']['Name']
            for r in out['Reservations'] for i in r['Instances']}


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


def ec2_error_code(text):
    assert text.startswith('<?xml') and '<Response><Errors><Error><Code>' in text, text
    return text.split('<Code>')[1].split('</Code>')[0]


def query_error_code(text):
    assert '<ErrorResponse' in text and '<Type>Sender</Type>' in text, text
    return text.split('<Code>')[1].split('</Code>')[0]


# --------------------------------------------------------------------------
# DescribeInstances
# --------------------------------------------------------------------------

def test_describe_all_is_aws_shaped(ec2):
    out = ec2.describe_instances()
    assert 'NextToken' not in out
    assert len(ids_of(out)) == 6            # terminated ones are listed too
    alice = out['Reservations'][0]['Instances'][0]
    assert alice['InstanceId'] == 'i-0a1b2c3d4e5f00001'
    assert alice['State'] == {'Code': 16, 'Name': 'running'}
    assert alice['InstanceType'] == 't3.large'
    assert alice['ImageId'] == 'ami-0aaaaaaaaaaaaaaa1'
    assert alice['PrivateIpAddress'] == '10.0.0.5'
    assert alice['PublicIpAddress'] == '203.0.113.5'
    assert alice['HibernationOptions'] == {'Configured': True}
    assert {t['Key']: t['Value'] for t in alice['Tags']} == {
        'devcloud:role': 'devbox', 'Name': 'alice'}
    assert alice['LaunchTime'] == datetime.datetime(2026, 11, 26, 8, tzinfo=datetime.timezone.utc)
    eni = alice['NetworkInterfaces'][0]
    assert eni['Attachment']['DeviceIndex'] == 0
    assert eni['Attachment']['Status'] == 'attached'
    assert eni['Attachment']['AttachTime'] == datetime.datetime(
        2026, 11, 20, 8, tzinfo=datetime.timezone.utc)
    bob = out['Reservations'][1]['Instances'][0]
    assert 'PublicIpAddress' not in bob
    assert out['ResponseMetadata']['RequestId']


def test_instance_without_private_ip_has_no_private_members(awsemu, ec2):
    awsemu.set_state({'instances': [{'id': 'i-0a1b2c3d4e5f00009', 'private_ip': None}]})
    inst = ec2.describe_instances()['Reservations'][0]['Instances'][0]
    assert 'PrivateIpAddress' not in inst
    assert 'PrivateIpAddress' not in inst['NetworkInterfaces'][0]
    assert ec2.describe_instances(Filters=[{'Name': 'private-ip-address', 'Values': ['*']}])[
        'Reservations'] == []

def test_describe_response_xml_namespace_and_request_id(awsemu):
    status, _, text = raw_call(awsemu, {'Action': 'DescribeInstances', 'Version': '2016-11-15',
                                        'InstanceId.1': 'i-0a1b2c3d4e5f00001'})
    assert status == 200
    assert '<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text
    assert '<requestId>' in text and '<reservationSet><item>' in text
    assert '<instancesSet><item><amiLaunchIndex>0</amiLaunchIndex>' in text
    assert '<instanceId>i-0a1b2c3d4e5f00001</instanceId>' in text


@pytest.mark.parametrize('filters, expected', [
    ([{'Name': 'tag:devcloud:role', 'Values': ['devbox']}], [1, 2, 3, 4]),
    ([{'Name': 'instance-state-name', 'Values': ['running']}], [1, 2, 5]),
    ([{'Name': 'instance-state-name', 'Values': ['stopped', 'pending']}], [3, 4]),
    ([{'Name': 'tag:devcloud:role', 'Values': ['devbox']},
      {'Name': 'instance-state-name', 'Values': ['running']}], [1, 2]),
    ([{'Name': 'tag:Name', 'Values': ['a*']}], [1]),
    ([{'Name': 'tag:Name', 'Values': ['?o?']}], [2]),
    ([{'Name': 'tag:Name', 'Values': ['*']}], [1, 2, 3, 4]),
    ([{'Name': 'tag:Name', 'Values': ['ALICE']}], []),           # case-sensitive
    ([{'Name': 'tag-key', 'Values': ['devcloud:*']}], [1, 2, 3, 4, 5]),
    ([{'Name': 'instance-type', 'Values': ['t3.large', 't3.medium']}], [1, 2]),
    ([{'Name': 'image-id', 'Values': ['ami-0aaaaaaaaaaaaaaa1']}], [1, 2]),
    ([{'Name': 'instance-id', 'Values': ['i-0a1b2c3d4e5f00004', 'i-0000000000000000f']}], [4]),
])
def test_describe_filters(ec2, filters, expected):
    out = ec2.describe_instances(Filters=filters)
    assert ids_of(out) == [f'i-0a1b2c3d4e5f0000{n}' for n in expected]


def test_describe_unknown_filter_is_refused(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(Filters=[{'Name': 'tag-name', 'Values': ['x']}])
    assert client_error(e) == ('InvalidParameterValue', 400)


def test_describe_by_ids(ec2):
    out = ec2.describe_instances(InstanceIds=['i-0a1b2c3d4e5f00002', 'i-0a1b2c3d4e5f00001'])
    assert sorted(ids_of(out)) == ['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f00002']
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(InstanceIds=['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f0000f'])
    assert client_error(e) == ('InvalidInstanceID.NotFound', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(InstanceIds=['i-123'])
    assert client_error(e) == ('InvalidInstanceID.Malformed', 400)


def test_describe_max_results_rules(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(InstanceIds=['i-0a1b2c3d4e5f00001'], MaxResults=5)
    assert client_error(e) == ('InvalidParameterCombination', 400)
    for bad in (4, 1001):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.describe_instances(MaxResults=bad)
        assert client_error(e) == ('InvalidParameterValue', 400)


def _many_instances(n):
    return {'instances': [{'id': f'i-{k:017x}', 'state': 'running',
                           'tags': {'devcloud:role': 'devbox'}} for k in range(1, n + 1)]}


def test_paginator_walks_all_pages(awsemu, ec2):
    awsemu.set_state(_many_instances(12))
    pages = list(ec2.get_paginator('describe_instances').paginate(
        Filters=[{'Name': 'tag:devcloud:role', 'Values': ['devbox']}],
        PaginationConfig={'PageSize': 5}))
    assert [len(ids_of(p)) for p in pages] == [5, 5, 2]
    assert ids_of({'Reservations': [r for p in pages for r in p['Reservations']]}) == \
        [f'i-{k:017x}' for k in range(1, 13)]
    tokens = [c['params'].get('NextToken') for c in awsemu.calls('DescribeInstances')]
    assert tokens[0] is None and all(tokens[1:])


def test_server_page_size_forces_paging_without_max_results(awsemu, ec2):
    awsemu.set_state(_many_instances(7))
    awsemu.config(page_size=3)
    first = ec2.describe_instances()
    assert len(ids_of(first)) == 3 and first['NextToken']
    # min(MaxResults, page size)
    assert len(ids_of(ec2.describe_instances(MaxResults=10))) == 3
    awsemu.config(page_size=None)
    assert len(ids_of(ec2.describe_instances(MaxResults=5))) == 5
    assert 'NextToken' not in ec2.describe_instances()


def test_next_token_must_be_genuine_and_for_the_same_query(awsemu, ec2):
    awsemu.set_state(_many_instances(7))
    first = ec2.describe_instances(MaxResults=5)
    token = first['NextToken']
    assert len(ids_of(ec2.describe_instances(MaxResults=5, NextToken=token))) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(MaxResults=5, NextToken='bogus')
    assert client_error(e) == ('InvalidParameterValue', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances(MaxResults=5, NextToken=token,
                               Filters=[{'Name': 'instance-state-name', 'Values': ['running']}])
    assert client_error(e) == ('InvalidParameterValue', 400)


def test_pending_turns_running_after_n_describes(ec2):
    carol = 'i-0a1b2c3d4e5f00003'
    assert states(ec2)[carol] == 'pending'
    # Describes that do not return it do not count.
    ec2.describe_instances(InstanceIds=['i-0a1b2c3d4e5f00001'])
    assert states(ec2)[carol] == 'pending'
    assert states(ec2)[carol] == 'running'


# --------------------------------------------------------------------------
# Stop / Start / Terminate
# --------------------------------------------------------------------------

def test_stop_moves_running_to_stopping_then_stopped(awsemu, ec2):
    out = ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f00004'])
    changes = {c['InstanceId']: (c['PreviousState']['Name'], c['CurrentState']['Name'])
               for c in out['StoppingInstances']}
    assert changes == {'i-0a1b2c3d4e5f00001': ('running', 'stopping'),
                       'i-0a1b2c3d4e5f00004': ('stopped', 'stopped')}
    assert out['StoppingInstances'][0]['CurrentState']['Code'] == 64
    assert states(ec2)['i-0a1b2c3d4e5f00001'] == 'stopped'
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['hibernated'] is False
    call = awsemu.calls('StopInstances')[0]
    assert call['params'] == {'InstanceIds': ['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f00004']}
    assert call['raw']['InstanceId.2'] == 'i-0a1b2c3d4e5f00004'
    assert (call['status'], call['error_code']) == (200, None)


def test_stop_with_a_pending_instance_stops_nothing(awsemu, ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f00003'])
    assert client_error(e) == ('IncorrectInstanceState', 400)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'
    assert awsemu.calls('StopInstances')[0]['error_code'] == 'IncorrectInstanceState'


def test_stop_with_an_unknown_instance_stops_nothing(awsemu, ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f0000f'])
    assert client_error(e) == ('InvalidInstanceID.NotFound', 400)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_stop_dry_run(awsemu, ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'], DryRun=True)
    assert client_error(e) == ('DryRunOperation', 412)
    assert 'DryRun flag is set' in e.value.response['Error']['Message']
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_denied_action_is_unauthorized_even_in_a_dry_run(awsemu, ec2):
    state = awsemu.state()
    state['denied_actions'] = ['ec2:StopInstances']
    awsemu.set_state(state)
    for dry_run in (True, False):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'], DryRun=dry_run)
        assert client_error(e) == ('UnauthorizedOperation', 403)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'
    assert ec2.describe_instances()['Reservations']   # other actions still allowed


def test_stop_hibernate(awsemu, ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001', 'i-0a1b2c3d4e5f00002'],
                           Hibernate=True)
    assert client_error(e) == ('UnsupportedHibernationConfiguration', 400)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'
    ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'], Hibernate=True)
    inst = awsemu.instance('i-0a1b2c3d4e5f00001')
    assert (inst['state'], inst['hibernated']) == ('stopping', True)
    assert awsemu.calls('StopInstances')[-1]['raw']['Hibernate'] == 'true'


def test_start_resets_launch_time_not_attach_time(awsemu, ec2):
    out = ec2.start_instances(InstanceIds=['i-0a1b2c3d4e5f00004'])
    assert out['StartingInstances'][0]['CurrentState']['Name'] == 'pending'
    before = awsemu.instance('i-0a1b2c3d4e5f00004')
    assert states(ec2)['i-0a1b2c3d4e5f00004'] == 'pending'
    assert states(ec2)['i-0a1b2c3d4e5f00004'] == 'running'
    dave = ec2.describe_instances(InstanceIds=['i-0a1b2c3d4e5f00004'])['Reservations'][0]['Instances'][0]
    age = datetime.datetime.now(datetime.timezone.utc) - dave['LaunchTime']
    assert age.total_seconds() < 60
    assert dave['NetworkInterfaces'][0]['Attachment']['AttachTime'] == \
        datetime.datetime.fromisoformat(before['attach_time'].replace('Z', '+00:00'))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.start_instances(InstanceIds=['i-0a1b2c3d4e5f00006'])   # terminated
    assert client_error(e) == ('IncorrectInstanceState', 400)


def test_terminate_and_termination_protection(awsemu, ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.terminate_instances(InstanceIds=['i-0a1b2c3d4e5f00002', 'i-0a1b2c3d4e5f00005'])
    assert client_error(e) == ('OperationNotPermitted', 400)
    assert awsemu.instance('i-0a1b2c3d4e5f00002')['state'] == 'running'
    out = ec2.terminate_instances(InstanceIds=['i-0a1b2c3d4e5f00002'])
    assert out['TerminatingInstances'][0]['CurrentState']['Name'] == 'shutting-down'
    assert states(ec2)['i-0a1b2c3d4e5f00002'] == 'terminated'


# --------------------------------------------------------------------------
# Parameter strictness (hand-made, correctly signed requests)
# --------------------------------------------------------------------------

DESCRIBE = {'Action': 'DescribeInstances', 'Version': '2016-11-15'}


@pytest.mark.parametrize('params, code', [
    ({'InstanceIds.1': 'i-0a1b2c3d4e5f00001'}, 'UnknownParameter'),   # botocore name, not wire name
    ({'instanceId.1': 'i-0a1b2c3d4e5f00001'}, 'UnknownParameter'),    # lower-case locationName
    ({'InstanceId': 'i-0a1b2c3d4e5f00001'}, 'UnknownParameter'),      # list without index
    ({'InstanceId.0': 'i-0a1b2c3d4e5f00001'}, 'UnknownParameter'),    # 0-based
    ({'InstanceId.1': 'i-0a1b2c3d4e5f00001', 'InstanceId.3': 'i-0a1b2c3d4e5f00002'},
     'InvalidParameterValue'),                                         # gap
    ({'Filter.1.Name': 'tag:Name', 'Filter.1.Values.1': 'x'}, 'UnknownParameter'),
    ({'Filter.1.Name': 'tag:Name', 'Filter.1.Value': 'x'}, 'UnknownParameter'),
    ({'MaxResults': 'ten'}, 'InvalidParameterValue'),
    ({'DryRun': 'True'}, 'InvalidParameterValue'),                    # booleans are true/false
    ({'Bogus': '1'}, 'UnknownParameter'),
])
def test_bad_parameters_are_refused(awsemu, params, code):
    status, _, text = raw_call(awsemu, {**DESCRIBE, **params})
    assert (status, ec2_error_code(text)) == (400, code)
    assert awsemu.calls()[-1]['error_code'] == code


def test_duplicate_parameter_is_refused(awsemu):
    body = 'Action=DescribeInstances&Version=2016-11-15&MaxResults=5&MaxResults=6'
    status, _, text = raw_call(awsemu, body)
    assert (status, ec2_error_code(text)) == (400, 'InvalidParameterValue')


def test_action_version_and_required_params(awsemu):
    cases = [
        ({'Action': 'DescribeInstance', 'Version': '2016-11-15'}, 'InvalidAction'),
        ({'Action': 'DescribeInstances', 'Version': '2015-10-01'}, 'NoSuchVersion'),
        ({'Action': 'DescribeInstances'}, 'MissingParameter'),
        ({'Version': '2016-11-15'}, 'MissingAction'),
        ({'Action': 'StopInstances', 'Version': '2016-11-15'}, 'MissingParameter'),
        ({'Action': 'StopInstances', 'Version': '2016-11-15', 'InstanceId.1': 'i-0a1b2c3d4e5f00001',
          'Hibernate': '1'}, 'InvalidParameterValue'),
    ]
    for params, code in cases:
        status, _, text = raw_call(awsemu, params)
        assert (status, ec2_error_code(text)) == (400, code), params
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_form_content_type_is_required(awsemu):
    status, _, text = raw_call(awsemu, DESCRIBE, content_type='application/json')
    assert (status, ec2_error_code(text)) == (400, 'InvalidParameterValue')


def test_correct_raw_request_passes(awsemu):
    status, headers, text = raw_call(awsemu, {
        'Action': 'StopInstances', 'Version': '2016-11-15',
        'InstanceId.1': 'i-0a1b2c3d4e5f00001', 'Force': 'false'})
    assert status == 200, text
    assert '<StopInstancesResponse' in text and '<instancesSet><item>' in text
    assert '<currentState><code>64</code><name>stopping</name></currentState>' in text
    assert int(headers['Content-Length']) == len(text.encode())


# --------------------------------------------------------------------------
# Signature strictness
# --------------------------------------------------------------------------

def test_bad_secret_and_unknown_key(awsemu):
    status, _, text = raw_call(awsemu, DESCRIBE, secret='wrong-secret')
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')
    assert 'CanonicalRequest' in awsemu.calls()[-1]['detail']
    status, _, text = raw_call(awsemu, DESCRIBE, akid='AKIDUNKNOWN')
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')


def test_botocore_client_with_wrong_secret(awsemu):
    awsemu_bad = awsemu.client('ec2')
    awsemu_bad._request_signer._credentials = botocore.credentials.Credentials(
        awsemu.access_key, 'not-the-secret')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        awsemu_bad.describe_instances()
    assert client_error(e) == ('AuthFailure', 401)


def test_expired_and_future_dates(awsemu):
    now = datetime.datetime.now(datetime.timezone.utc)
    for delta in (-16, +16):
        status, _, text = raw_call(awsemu, DESCRIBE, when=now + datetime.timedelta(minutes=delta))
        assert (status, ec2_error_code(text)) == (400, 'RequestExpired')
    status, _, _ = raw_call(awsemu, DESCRIBE, when=now - datetime.timedelta(minutes=14))
    assert status == 200


def test_scope_region_must_match(awsemu):
    status, _, text = raw_call(awsemu, DESCRIBE, region='us-east-1')
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')
    assert 'region' in awsemu.calls()[-1]['error_message']


def test_host_must_be_signed(awsemu):
    status, _, text = raw_call(awsemu, DESCRIBE, only_sign={'x-amz-date', 'content-type'})
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')
    assert "'host'" in awsemu.calls()[-1]['error_message']
    status, _, _ = raw_call(awsemu, DESCRIBE, only_sign={'host', 'x-amz-date'})
    assert status == 200


def test_tampered_body_and_payload_hash(awsemu):
    def swap_body(headers, body):
        return headers, body.replace(b'DescribeInstances', b'DescribeInstanceS')
    status, _, text = raw_call(awsemu, DESCRIBE, tamper=swap_body)
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')

    status, _, text = raw_call(awsemu, DESCRIBE,
                               extra_headers={'X-Amz-Content-Sha256': '0' * 64})
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')
    assert 'X-Amz-Content-Sha256' in awsemu.calls()[-1]['error_message']


def test_session_token_must_be_signed(awsemu):
    status, _, _ = raw_call(awsemu, DESCRIBE, token='session-token')
    assert status == 200
    status, _, text = raw_call(awsemu, DESCRIBE, token='session-token',
                               only_sign={'host', 'x-amz-date', 'content-type'})
    assert (status, ec2_error_code(text)) == (401, 'AuthFailure')
    # A state can pin the token of a key.
    awsemu.set_state({'credentials': {'AKIDPINNED': {'secret': 's', 'session_token': 'good'}}})
    assert raw_call(awsemu, DESCRIBE, akid='AKIDPINNED', secret='s', token='good')[0] == 200
    assert raw_call(awsemu, DESCRIBE, akid='AKIDPINNED', secret='s', token='bad')[0] == 401


def test_missing_authorization(awsemu):
    conn = http.client.HTTPConnection('127.0.0.1', awsemu.port, timeout=5)
    conn.request('POST', '/', body=urlencode(DESCRIBE),
                 headers={'Content-Type': EC2_FORM})
    resp = conn.getresponse()
    assert (resp.status, ec2_error_code(resp.read().decode())) == (401, 'MissingAuthenticationToken')
    conn.close()


# --------------------------------------------------------------------------
# Query (Auto Scaling) and JSON (SSM) protocols: validation and auth
# --------------------------------------------------------------------------

def test_query_protocol(awsemu):
    asg = awsemu.client('autoscaling')
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=['devboxes'])[
        'AutoScalingGroups'] == []
    call = awsemu.calls('DescribeAutoScalingGroups')[0]
    assert call['params'] == {'AutoScalingGroupNames': ['devboxes']}
    assert call['raw']['AutoScalingGroupNames.member.1'] == 'devboxes'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_tags(Filters=[{'Name': 'key', 'Values': ['x']}])
    assert client_error(e) == ('EmulatorNotImplemented', 501)   # got past validation
    assert awsemu.calls('DescribeTags')[0]['params'] == {
        'Filters': [{'Name': 'key', 'Values': ['x']}]}

    base = {'Action': 'DescribeAutoScalingGroups', 'Version': '2011-01-01'}
    for params, code in [({'AutoScalingGroupNames.1': 'x'}, 'UnknownParameter'),
                         ({'MaxRecords': 'x'}, 'ValidationError'),
                         ({'Bogus': 'x'}, 'UnknownParameter')]:
        status, _, text = raw_call(awsemu, {**base, **params}, service='autoscaling')
        assert (status, query_error_code(text)) == (400, code)
    status, _, text = raw_call(awsemu, base, service='autoscaling', secret='bad')
    assert (status, query_error_code(text)) == (403, 'SignatureDoesNotMatch')
    assert 'The Canonical String for this request should have been' in text
    status, _, text = raw_call(awsemu, base, service='autoscaling', akid='AKIDNOPE')
    assert (status, query_error_code(text)) == (403, 'InvalidClientTokenId')
    status, _, text = raw_call(awsemu, {'Action': 'DetachInstances', 'Version': '2011-01-01'},
                               service='autoscaling')
    assert (status, query_error_code(text)) == (400, 'ValidationError')   # required member


SSM_JSON = 'application/x-amz-json-1.1'


def test_json_protocol(awsemu):
    ssm = awsemu.client('ssm')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameter(Name='/devcloud/x', WithDecryption=True)
    assert client_error(e) == ('ParameterNotFound', 400)
    assert awsemu.calls('GetParameter')[0]['params'] == {'Name': '/devcloud/x', 'WithDecryption': True}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.get_parameters(Names=['/devcloud/x'], WithDecryption=True)
    assert client_error(e) == ('EmulatorNotImplemented', 501)   # got past validation
    assert awsemu.calls('GetParameters')[0]['params'] == {'Names': ['/devcloud/x'],
                                                          'WithDecryption': True}

    def call(body, target='AmazonSSM.GetParameter', **kw):
        status, headers, text = raw_call(awsemu, json.dumps(body), service='ssm',
                                         content_type=SSM_JSON,
                                         extra_headers={'X-Amz-Target': target}, **kw)
        return status, headers.get('x-amzn-ErrorType'), json.loads(text)

    status, etype, body = call({'Name': 'x', 'Bogus': 1})
    assert (status, etype, body['__type']) == (400, 'SerializationException', 'SerializationException')
    assert call({'Name': 5})[:2] == (400, 'SerializationException')
    assert call({'Name': 'x', 'WithDecryption': 'true'})[:2] == (400, 'SerializationException')
    assert call({})[:2] == (400, 'ValidationException')
    assert call({'Name': 'x'}, target='AmazonSSM.GetParameterz')[:2] == (400, 'UnknownOperationException')
    assert call({'Name': 'x'}, akid='AKIDNOPE')[:2] == (400, 'UnrecognizedClientException')
    assert call({'Name': 'x'}, secret='bad')[:2] == (403, 'SignatureDoesNotMatch')


# --------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------

def test_fault_throttle_then_recovers(awsemu, ec2):
    awsemu.fault('DescribeInstances', 'throttle', count=1)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_instances()
    assert client_error(e) == ('RequestLimitExceeded', 503)
    ec2.describe_instances()
    calls = awsemu.calls('DescribeInstances')
    assert [(c['fault'], c['status']) for c in calls] == [('throttle', 503), (None, 200)]


def test_fault_throttle_is_retried_by_botocore(awsemu):
    awsemu.fault('DescribeInstances', 'throttle', count=1)
    ec2 = awsemu.client('ec2', retries={'total_max_attempts': 2, 'mode': 'standard'})
    t0 = time.monotonic()
    ec2.describe_instances()
    assert [c['fault'] for c in awsemu.calls('DescribeInstances')] == ['throttle', None]
    assert time.monotonic() - t0 < 10


def test_fault_only_hits_the_named_action(awsemu, ec2):
    awsemu.fault('StopInstances', 'error500')
    ec2.describe_instances()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'])
    assert client_error(e) == ('InternalError', 500)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_fault_throttle_other_protocols(awsemu):
    awsemu.fault('*', 'throttle', count=2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        awsemu.client('autoscaling').describe_auto_scaling_groups()
    assert client_error(e) == ('Throttling', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        awsemu.client('ssm').get_parameter(Name='x')
    assert client_error(e) == ('ThrottlingException', 400)


def test_fault_slow(awsemu):
    awsemu.fault('DescribeInstances', 'slow', delay_s=0.6)
    t0 = time.monotonic()
    awsemu.client('ec2').describe_instances()
    assert time.monotonic() - t0 >= 0.6
    awsemu.fault('DescribeInstances', 'slow', delay_s=1.5)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        awsemu.client('ec2', read_timeout=0.3).describe_instances()



def test_slow_call_outliving_its_test_is_dropped(awsemu):
    """A call still sleeping in a 'slow' fault when the account is reset
    belongs to a finished test: it neither runs nor lands in the call log."""
    awsemu.fault('DescribeInstances', 'slow', delay_s=0.8)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        awsemu.client('ec2', read_timeout=0.2).describe_instances()
    awsemu.set_state({'instances': [{'id': 'i-0a1b2c3d4e5f0000a', 'state': 'stopping'}]})
    awsemu.clear_calls()
    time.sleep(1.0)
    assert awsemu.calls() == []
    # had it run, DescribeInstances would have settled the instance to stopped
    assert awsemu.instance('i-0a1b2c3d4e5f0000a')['state'] == 'stopping'


def test_fault_reset(awsemu, ec2):
    awsemu.fault('DescribeInstances', 'reset')
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.EndpointConnectionError)):
        ec2.describe_instances()
    assert awsemu.calls()[-1]['fault'] == 'reset'
    ec2.describe_instances()   # the next one is fine (new connection)


def test_fault_reset_sends_rst(awsemu):
    awsemu.fault('DescribeInstances', 'reset')
    conn = http.client.HTTPConnection('127.0.0.1', awsemu.port, timeout=5)
    with pytest.raises(ConnectionResetError):
        # Unsigned is fine: the fault fires before authentication.
        conn.request('POST', '/', body=urlencode(DESCRIBE), headers={'Content-Type': EC2_FORM})
        conn.getresponse()
    conn.close()


def test_fault_truncate(awsemu, ec2):
    awsemu.fault('StopInstances', 'truncate')
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ResponseStreamingError,
                        botocore.exceptions.IncompleteReadError,
                        ResponseParserError)):
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'])
    # The action itself happened: only the answer was lost.
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'stopping'


def test_fault_malformed(awsemu, ec2):
    awsemu.fault('DescribeInstances', 'malformed')
    with pytest.raises(ResponseParserError):
        ec2.describe_instances()
    # botocore's JSON parser is lenient (it returns what it can), so look at
    # the wire: a 200 whose body is not JSON.
    awsemu.fault('GetParameter', 'malformed')
    status, _, text = raw_call(awsemu, '{"Name": "x"}', service='ssm', content_type=SSM_JSON,
                               extra_headers={'X-Amz-Target': 'AmazonSSM.GetParameter'})
    assert status == 200
    with pytest.raises(ValueError):
        json.loads(text)


def test_fault_html_is_a_proxys_page_and_does_not_act(awsemu, ec2):
    awsemu.fault('StopInstances', 'html')
    status, headers, text = raw_call(awsemu, urlencode(
        {'Action': 'StopInstances', 'Version': '2016-11-15', 'InstanceId.1': 'i-0a1b2c3d4e5f00001'}))
    assert status == 502
    assert {k.lower(): v for k, v in headers.items()}['content-type'] == 'text/html'
    assert text.startswith('<html>') and 'Bad Gateway' in text
    assert awsemu.calls()[-1]['fault'] == 'html' and awsemu.calls()[-1]['status'] == 502
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_fault_expired_token_in_each_services_document(awsemu, ec2):
    awsemu.fault('*', 'expired_token', count=3)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.stop_instances(InstanceIds=['i-0a1b2c3d4e5f00001'])
    assert client_error(e) == ('ExpiredToken', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        awsemu.client('autoscaling').describe_auto_scaling_groups()
    assert client_error(e) == ('ExpiredToken', 403)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        awsemu.client('ssm').get_parameter(Name='x')
    assert client_error(e) == ('ExpiredTokenException', 400)
    assert awsemu.instance('i-0a1b2c3d4e5f00001')['state'] == 'running'


def test_fault_rules_are_validated(awsemu):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        awsemu.fault('DescribeInstances', 'explode')
    assert e.value.code == 400


# --------------------------------------------------------------------------
# HTTP behaviour, control API, TLS
# --------------------------------------------------------------------------

def test_keep_alive_reuses_the_connection(awsemu):
    conn = http.client.HTTPConnection('127.0.0.1', awsemu.port, timeout=5)
    for _ in range(3):
        conn.request('GET', '/_emu/health')
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader('Content-Length')
        resp.read()
    # An AWS error reply on the same connection keeps it usable too.
    conn.request('POST', '/', body=urlencode(DESCRIBE), headers={'Content-Type': EC2_FORM})
    resp = conn.getresponse()
    assert resp.status == 401 and resp.getheader('Connection') != 'close'
    resp.read()
    conn.request('GET', '/_emu/health')
    assert conn.getresponse().status == 200
    conn.close()


def test_state_round_trip_and_defaults(awsemu):
    awsemu.set_state({'instances': [{'id': 'i-0123456789abcdef0'}]})
    state = awsemu.state()
    inst = state['instances'][0]
    assert state['region'] == 'eu-west-1'
    assert state['credentials'] == {'AKIDEMULATOR': 'emulator-secret-key'}
    assert (inst['state'], inst['hibernation'], inst['public_ip']) == ('running', False, None)
    awsemu.set_state(state)
    assert awsemu.state() == state
    awsemu.clear_calls()
    assert awsemu.calls() == []


def test_bad_state_is_refused(awsemu):
    import urllib.error
    for bad in ({'instances': [{'id': 'x-1'}]},
                {'instances': [{'id': 'i-0123456789abcdef0', 'state': 'asleep'}]}):
        with pytest.raises(urllib.error.HTTPError) as e:
            awsemu.set_state(bad)
        assert e.value.code == 400


def test_seed_file_log_and_tls(tmp_path):
    openssl = shutil.which('openssl')
    if not openssl:
        pytest.skip('openssl not installed')
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run([openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', str(key), '-out', str(cert)],
                   check=True, capture_output=True)
    log = tmp_path / 'calls.jsonl'
    with AwsEmu(tls_cert=cert, tls_key=key, log=log, page_size=1,
                state={'instances': [{'id': 'i-0123456789abcdef0'},
                                     {'id': 'i-0123456789abcdef1'}]}) as emu:
        assert emu.url.startswith('https://')
        ec2 = emu.client('ec2', verify=str(cert))
        first = ec2.describe_instances()
        assert len(ids_of(first)) == 1 and first['NextToken']
        with pytest.raises(botocore.exceptions.ClientError):
            emu.client('ec2', verify=str(cert)).describe_instances(InstanceIds=['i-1'])
        emu.fault('DescribeInstances', 'reset')
        with pytest.raises((botocore.exceptions.ConnectionClosedError,
                            botocore.exceptions.EndpointConnectionError,
                            botocore.exceptions.SSLError)):
            ec2.describe_instances()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c['action'] for c in lines] == ['DescribeInstances'] * 3


def test_independent_signer_curl_keep_alive_and_expect(awsemu):
    """libcurl's own SigV4 (--aws-sigv4) must be accepted, the connection
    reused, and Expect: 100-continue honoured (libcurl sends it for big bodies)."""
    curl = shutil.which('curl')
    if not curl:
        pytest.skip('curl not installed')
    values = '&'.join(f'Filter.1.Value.{n}=name{n:04d}' for n in range(1, 201))
    bodies = ['Action=DescribeInstances&Version=2016-11-15',
              f'Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName&{values}',
              'Action=StopInstances&Version=2016-11-15&InstanceId.1=i-0a1b2c3d4e5f00002']
    args = [curl, '-sS', '-v']
    for i, body in enumerate(bodies):
        if i:
            args.append('--next')
        args += ['--aws-sigv4', f'aws:amz:{awsemu.region}:ec2',
                 '--user', f'{awsemu.access_key}:{awsemu.secret_key}',
                 '-H', 'Expect: 100-continue', '-o', '/dev/null',
                 '--data-binary', body, f'{awsemu.url}/']
    proc = subprocess.run(args, capture_output=True, text=True, timeout=20)
    if 'aws-sigv4' in proc.stderr and proc.returncode == 2:
        pytest.skip('curl without --aws-sigv4')
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count('Re-using existing connection') == 2, proc.stderr
    assert 'HTTP/1.1 100 Continue' in proc.stderr
    calls = awsemu.calls()
    assert [(c['action'], c['status']) for c in calls] == [
        ('DescribeInstances', 200), ('DescribeInstances', 200), ('StopInstances', 200)]
    assert len(calls[1]['params']['Filters'][0]['Values']) == 200
    assert awsemu.instance('i-0a1b2c3d4e5f00002')['state'] == 'stopping'
