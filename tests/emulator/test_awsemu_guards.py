"""The new actions go through the same guards as the old ones: DryRun,
denied_actions (IAM) and injected faults."""

import time

import botocore.exceptions
import pytest
from botocore.parsers import ResponseParserError

from harness import A1, LT_DEVBOX, ORPHAN_SNAPSHOT


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


# (service, botocore method, kwargs) of every action added for the
# housekeeping functions.
NEW_ACTIONS = {
    'DescribeImages': ('ec2', 'describe_images', {'Owners': ['self']}),
    'DeregisterImage': ('ec2', 'deregister_image', {'ImageId': A1}),
    'DeleteSnapshot': ('ec2', 'delete_snapshot', {'SnapshotId': ORPHAN_SNAPSHOT}),
    'DescribeLaunchTemplateVersions': ('ec2', 'describe_launch_template_versions',
                                       {'LaunchTemplateId': LT_DEVBOX}),
    'DescribeLaunchTemplates': ('ec2', 'describe_launch_templates', {}),
    'DescribeAutoScalingGroups': ('autoscaling', 'describe_auto_scaling_groups', {}),
    'DescribeLaunchConfigurations': ('autoscaling', 'describe_launch_configurations', {}),
    'GetParameter': ('ssm', 'get_parameter', {'Name': '/devcloud/teams'}),
}
EC2_ACTIONS = [a for a, (service, _, _) in NEW_ACTIONS.items() if service == 'ec2']


def call(emu, action, **extra):
    service, method, kwargs = NEW_ACTIONS[action]
    return getattr(emu.client(service), method)(**kwargs, **extra)


def resources(emu):
    return emu.image_ids(), emu.snapshot_ids()


@pytest.mark.parametrize('action', NEW_ACTIONS)
def test_each_new_action_answers(housekeeping, action):
    out = call(housekeeping, action)
    assert out['ResponseMetadata']['HTTPStatusCode'] == 200
    assert [(c['action'], c['status']) for c in housekeeping.calls()] == [(action, 200)]


@pytest.mark.parametrize('action', EC2_ACTIONS)
def test_dry_run(housekeeping, action):
    before = resources(housekeeping)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, action, DryRun=True)
    assert client_error(e) == ('DryRunOperation', 412)
    assert resources(housekeeping) == before
    assert housekeeping.calls(action)[0]['raw']['DryRun'] == 'true'


@pytest.mark.parametrize('action, code, status', [
    (a, 'UnauthorizedOperation', 403) for a in EC2_ACTIONS] + [
    ('DescribeAutoScalingGroups', 'AccessDenied', 403),
    ('DescribeLaunchConfigurations', 'AccessDenied', 403),
    ('GetParameter', 'AccessDeniedException', 400),
])
def test_denied_actions(housekeeping, action, code, status):
    service = NEW_ACTIONS[action][0]
    state = housekeeping.state()
    state['denied_actions'] = [f'{service}:{action}']
    housekeeping.set_state(state)
    before = resources(housekeeping)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, action)
    assert client_error(e) == (code, status)
    assert resources(housekeeping) == before
    # the others are still allowed
    other = 'GetParameter' if action != 'GetParameter' else 'DescribeImages'
    call(housekeeping, other)


def test_denied_even_in_a_dry_run(housekeeping):
    state = housekeeping.state()
    state['denied_actions'] = ['ec2:DeregisterImage']
    housekeeping.set_state(state)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, 'DeregisterImage', DryRun=True)
    assert client_error(e) == ('UnauthorizedOperation', 403)


@pytest.mark.parametrize('action, code, status', [
    ('DescribeImages', 'RequestLimitExceeded', 503),
    ('DescribeAutoScalingGroups', 'Throttling', 400),
    ('GetParameter', 'ThrottlingException', 400),
])
def test_fault_throttle(housekeeping, action, code, status):
    housekeeping.fault(action, 'throttle')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, action)
    assert client_error(e) == (code, status)
    call(housekeeping, action)      # once only
    assert [c['fault'] for c in housekeeping.calls(action)] == ['throttle', None]


@pytest.mark.parametrize('action, code', [
    ('DescribeLaunchTemplateVersions', 'InternalError'),
    ('DescribeLaunchConfigurations', 'InternalFailure'),
    ('GetParameter', 'InternalServerError'),
])
def test_fault_error500(housekeeping, action, code):
    housekeeping.fault(action, 'error500')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, action)
    assert client_error(e) == (code, 500)


def test_fault_slow(housekeeping):
    housekeeping.fault('DescribeLaunchTemplates', 'slow', delay_s=0.5)
    t0 = time.monotonic()
    call(housekeeping, 'DescribeLaunchTemplates')
    assert time.monotonic() - t0 >= 0.5


def test_fault_reset_does_not_delete(housekeeping):
    housekeeping.fault('DeleteSnapshot', 'reset')
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.EndpointConnectionError)):
        call(housekeeping, 'DeleteSnapshot')
    assert ORPHAN_SNAPSHOT in housekeeping.snapshot_ids()
    call(housekeeping, 'DeleteSnapshot')
    assert ORPHAN_SNAPSHOT not in housekeeping.snapshot_ids()


def test_fault_truncate_deregisters_but_loses_the_answer(housekeeping):
    housekeeping.fault('DeregisterImage', 'truncate')
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ResponseStreamingError,
                        botocore.exceptions.IncompleteReadError,
                        ResponseParserError)):
        call(housekeeping, 'DeregisterImage')
    assert housekeeping.image(A1) is None
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(housekeeping, 'DeregisterImage')      # a retry finds it gone
    assert client_error(e) == ('InvalidAMIID.NotFound', 400)


@pytest.mark.parametrize('action', ['DescribeImages', 'DescribeAutoScalingGroups'])
def test_fault_malformed(housekeeping, action):
    housekeeping.fault(action, 'malformed')
    with pytest.raises(ResponseParserError):
        call(housekeeping, action)
