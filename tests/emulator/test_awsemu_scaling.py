"""Self-tests of awsemu_scaling.py (through awsemu.py): an Auto Scaling group
that launches, terminates, detaches and replaces like AWS's, Run Command and
the managed-instance list, driven by real botocore clients."""

import copy

import botocore.exceptions
import pytest

GROUP = 'drone-agents'
# two agents in service, one of them protected, and one instance of nobody's
AGENT1, AGENT2, LONER, UNMANAGED = ('i-0e000000000000001', 'i-0e000000000000002',
                                    'i-0e000000000000003', 'i-0e000000000000004')
SCALING_STATE = {
    'launch_configurations': [{'name': 'agents', 'image_id': 'ami-0a000000000000001',
                               'instance_type': 'c5.xlarge'}],
    'instances': [
        {'id': AGENT1, 'tags': {'aws:autoscaling:groupName': GROUP}, 'ssm': {}},
        {'id': AGENT2, 'tags': {'aws:autoscaling:groupName': GROUP},
         'ssm': {'command': 'in_progress'}},
        {'id': LONER, 'ssm': {'command': 'failed', 'command_ticks': 0},
         'shutdown_behavior': 'terminate'},
        {'id': UNMANAGED},
    ],
    'auto_scaling_groups': [{
        'name': GROUP, 'launch_configuration': 'agents', 'active': True,
        'min_size': 1, 'max_size': 5, 'desired_capacity': 2,
        'new_instances_protected_from_scale_in': True, 'launch_describes': 2,
        'tags': {'devcloud:role': 'drone-agent'},
        'instances': [{'id': AGENT1}, {'id': AGENT2, 'protected_from_scale_in': True}],
    }],
}


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['Error']['Message']


@pytest.fixture
def scaling(awsemu):
    awsemu.set_state(copy.deepcopy(SCALING_STATE))
    return awsemu


@pytest.fixture
def asg(scaling):
    return scaling.client('autoscaling')


@pytest.fixture
def ssm(scaling):
    return scaling.client('ssm')


def group(asg):
    return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[GROUP])['AutoScalingGroups'][0]


def members(g):
    return {m['InstanceId']: (m['LifecycleState'], m['ProtectedFromScaleIn']) for m in g['Instances']}


# --------------------------------------------------------------------------
# the group
# --------------------------------------------------------------------------

def test_tags_and_new_instance_protection_are_described(asg):
    g = group(asg)
    assert g['NewInstancesProtectedFromScaleIn'] is True
    assert g['Tags'] == [{'ResourceId': GROUP, 'ResourceType': 'auto-scaling-group',
                          'Key': 'devcloud:role', 'Value': 'drone-agent',
                          'PropagateAtLaunch': True}]
    assert members(g) == {AGENT1: ('InService', False), AGENT2: ('InService', True)}


def test_create_or_update_tags(asg, scaling):
    asg.create_or_update_tags(Tags=[
        {'ResourceId': GROUP, 'ResourceType': 'auto-scaling-group',
         'Key': 'devcloud:scaler:last-scale-out', 'Value': '2026-12-01T10:00:00Z',
         'PropagateAtLaunch': False}])
    asg.create_or_update_tags(Tags=[
        {'ResourceId': GROUP, 'ResourceType': 'auto-scaling-group',
         'Key': 'devcloud:scaler:last-scale-out', 'Value': '2026-12-01T11:00:00Z',
         'PropagateAtLaunch': False}])
    tags = {t['Key']: (t['Value'], t['PropagateAtLaunch']) for t in group(asg)['Tags']}
    assert tags == {'devcloud:role': ('drone-agent', True),
                    'devcloud:scaler:last-scale-out': ('2026-12-01T11:00:00Z', False)}
    # a tag that does not propagate is not copied onto the instances it launches
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    new = [i for i in members(group(asg)) if i not in (AGENT1, AGENT2)][0]
    assert scaling.instance(new)['tags'] == {'devcloud:role': 'drone-agent',
                                             'aws:autoscaling:groupName': GROUP}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.create_or_update_tags(Tags=[{'ResourceId': 'nobody', 'ResourceType':
                                         'auto-scaling-group', 'Key': 'k', 'Value': 'v'}])
    assert client_error(e) == ('ValidationError', 'AutoScalingGroup name not found - nobody')


def test_scale_out_launches_protected_pending_instances_that_come_into_service(asg, scaling):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=4, HonorCooldown=False)
    state = scaling.state()
    g = state['auto_scaling_groups'][0]
    new = [m for m in g['instances'] if m['id'] not in (AGENT1, AGENT2)]
    assert len(new) == 2 and g['desired_capacity'] == 4
    for m in new:
        assert (m['lifecycle_state'], m['protected_from_scale_in']) == ('Pending', True)
        inst = scaling.instance(m['id'])
        assert inst['state'] == 'pending' and inst['type'] == 'c5.xlarge'
        assert inst['image_id'] == 'ami-0a000000000000001'
        assert inst['tags']['aws:autoscaling:groupName'] == GROUP
    # launch_describes = 2: Pending at the first describe, InService at the second
    first, second = members(group(asg)), members(group(asg))
    assert {first[m['id']][0] for m in new} == {'Pending'}
    assert {second[m['id']][0] for m in new} == {'InService'}
    assert {scaling.instance(m['id'])['state'] for m in new} == {'running'}


def test_scale_in_terminates_unprotected_members_only(asg, scaling):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    assert members(group(asg))[AGENT1] == ('Terminating', False)
    assert scaling.instance(AGENT1)['state'] in ('shutting-down', 'terminated')
    assert members(group(asg)) == {AGENT2: ('InService', True)}
    # nothing unprotected is left: the group stays above desired, as AWS's does
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=1)
    state = scaling.state()['auto_scaling_groups'][0]
    assert state['desired_capacity'] == 1
    assert [m['id'] for m in state['instances']] == [AGENT2]
    assert scaling.instance(AGENT2)['state'] == 'running'


@pytest.mark.parametrize('desired, word, limit', [(6, 'above max', 5), (0, 'below min', 1)])
def test_set_desired_capacity_outside_min_max_is_refused(asg, scaling, desired, word, limit):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=desired)
    assert client_error(e) == ('ValidationError', f'New SetDesiredCapacity value {desired} is '
                                                  f'{word} value {limit} for the AutoScalingGroup.')
    assert scaling.auto_scaling_group(GROUP)['desired_capacity'] == 2


def test_detach_decrements_and_leaves_the_instance_running_untagged(asg, scaling):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    out = asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=[AGENT1],
                               ShouldDecrementDesiredCapacity=True)
    assert out['Activities'][0]['StatusCode'] == 'InProgress'
    assert AGENT1 in out['Activities'][0]['Cause']
    g = scaling.auto_scaling_group(GROUP)
    assert g['desired_capacity'] == 2
    assert AGENT1 not in [m['id'] for m in g['instances']]
    inst = scaling.instance(AGENT1)
    assert inst['state'] == 'running'
    assert 'aws:autoscaling:groupName' not in inst['tags']
    # no replacement: two members for two desired
    assert len(group(asg)['Instances']) == 2


def test_detach_without_decrement_is_replaced(asg, scaling):
    asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=[AGENT1],
                         ShouldDecrementDesiredCapacity=False)
    g = scaling.auto_scaling_group(GROUP)
    assert g['desired_capacity'] == 2 and len(g['instances']) == 2
    assert AGENT1 not in [m['id'] for m in g['instances']]


def test_detach_refusals(asg, scaling):
    def refused(ids, decrement=True):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=ids,
                                 ShouldDecrementDesiredCapacity=decrement)
        return client_error(e)

    assert refused([LONER]) == ('ValidationError',
                                f'The instance {LONER} is not part of Auto Scaling group {GROUP}.')
    # desired 2, min 1: detaching both would go below the minimum
    assert refused([AGENT1, AGENT2]) == (
        'ValidationError', 'Detaching 2 instances would decrease desiredSize (2) below minSize (1).')
    asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=[AGENT1],
                         ShouldDecrementDesiredCapacity=True)
    assert refused([AGENT2]) == (
        'ValidationError', 'Currently, desiredSize equals minSize (1). Detaching instance would '
                           'decrease desiredSize below minSize.')
    # a member still launching cannot be detached
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=2)
    pending = [m['id'] for m in scaling.auto_scaling_group(GROUP)['instances']
               if m['lifecycle_state'] == 'Pending'][0]
    assert refused([pending]) == ('ValidationError',
                                  f'The instance {pending} is not in InService or Standby.')
    assert refused([f'i-0f00000000000{n:04d}' for n in range(21)])[0] == 'ValidationError'
    assert scaling.auto_scaling_group(GROUP)['desired_capacity'] == 2


def test_unhealthy_member_is_terminated_and_replaced(asg, scaling):
    asg.set_instance_health(InstanceId=AGENT2, HealthStatus='Unhealthy',
                            ShouldRespectGracePeriod=False)
    assert scaling.instance(AGENT2)['state'] in ('shutting-down', 'terminated')
    g = scaling.auto_scaling_group(GROUP)
    live = [m for m in g['instances'] if m['lifecycle_state'] in ('Pending', 'InService')]
    assert len(live) == 2 and AGENT2 not in [m['id'] for m in live]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.set_instance_health(InstanceId=LONER, HealthStatus='Unhealthy')
    assert client_error(e)[0] == 'ValidationError'


def test_a_member_that_stopped_is_replaced(asg, scaling):
    scaling.client('ec2').stop_instances(InstanceIds=[AGENT1])
    g = group(asg)
    assert members(g)[AGENT1][0] == 'Terminating'
    assert len([m for m in g['Instances'] if m['LifecycleState'] != 'Terminating']) == 2


def test_a_group_not_active_stays_as_seeded(awsemu):
    state = copy.deepcopy(SCALING_STATE)
    state['auto_scaling_groups'][0]['active'] = False
    awsemu.set_state(state)
    asg = awsemu.client('autoscaling')
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=4)
    assert len(group(asg)['Instances']) == 2
    assert awsemu.auto_scaling_group(GROUP)['desired_capacity'] == 4


def test_denied_actions_are_refused(scaling, asg):
    state = scaling.state()
    state['denied_actions'] = ['autoscaling:DetachInstances', 'ssm:SendCommand']
    scaling.set_state(state)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.detach_instances(AutoScalingGroupName=GROUP, InstanceIds=[AGENT1],
                             ShouldDecrementDesiredCapacity=True)
    assert client_error(e)[0] == 'AccessDenied'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        scaling.client('ssm').send_command(DocumentName='AWS-RunShellScript',
                                           InstanceIds=[AGENT1],
                                           Parameters={'commands': ['true']})
    assert client_error(e)[0] == 'AccessDeniedException'


def test_state_survives_a_round_trip(asg, scaling):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    scaling.client('ssm').send_command(DocumentName='AWS-RunShellScript', InstanceIds=[AGENT1],
                                       Parameters={'commands': ['true']})
    state = scaling.state()
    scaling.set_state(state)
    assert scaling.state() == state


# --------------------------------------------------------------------------
# Run Command
# --------------------------------------------------------------------------

DRAIN = ['pkill -INT drone-runner-docker', 'while pgrep drone-runner; do sleep 5; done',
         'poweroff']


def invocations(ssm, **kw):
    return [(i['InstanceId'], i['Status'])
            for i in ssm.list_command_invocations(**kw)['CommandInvocations']]


def test_a_drain_runs_then_powers_the_instance_off(ssm, scaling):
    cmd = ssm.send_command(DocumentName='AWS-RunShellScript', InstanceIds=[AGENT1],
                           Parameters={'commands': DRAIN, 'executionTimeout': ['900']},
                           TimeoutSeconds=60, Comment='devcloud scaler: drain')['Command']
    assert len(cmd['CommandId']) == 36 and cmd['Status'] == 'Pending'
    assert cmd['Parameters'] == {'commands': DRAIN, 'executionTimeout': ['900']}
    sent = scaling.calls('SendCommand')[0]['params']
    assert sent['Parameters']['commands'] == DRAIN and sent['InstanceIds'] == [AGENT1]
    # command_ticks = 1: in progress at the first look, done at the second
    assert invocations(ssm, CommandId=cmd['CommandId']) == [(AGENT1, 'InProgress')]
    assert scaling.instance(AGENT1)['state'] == 'running'
    assert invocations(ssm, CommandId=cmd['CommandId']) == [(AGENT1, 'Success')]
    assert scaling.instance(AGENT1)['state'] in ('stopping', 'stopped')
    info = ssm.describe_instance_information(
        Filters=[{'Key': 'InstanceIds', 'Values': [AGENT1]}])['InstanceInformationList']
    assert [(i['InstanceId'], i['PingStatus']) for i in info] == [(AGENT1, 'ConnectionLost')]


def test_outcomes_per_instance_and_terminate_on_shutdown(ssm, scaling):
    cmd = ssm.send_command(DocumentName='AWS-RunShellScript', InstanceIds=[AGENT2, LONER],
                           Parameters={'commands': ['shutdown -h now']})['Command']
    assert sorted(invocations(ssm, CommandId=cmd['CommandId'])) == [(AGENT2, 'InProgress'),
                                                                    (LONER, 'Failed')]
    assert invocations(ssm, InstanceId=LONER) == [(LONER, 'Failed')]
    # LONER's shutdown behaviour is terminate; AGENT2's command never ends
    assert scaling.instance(LONER)['state'] in ('shutting-down', 'terminated')
    for _ in range(3):
        assert (AGENT2, 'InProgress') in invocations(ssm, CommandId=cmd['CommandId'])
    assert scaling.instance(AGENT2)['state'] == 'running'


def test_send_command_refusals(ssm):
    def refused(**kw):
        kw.setdefault('DocumentName', 'AWS-RunShellScript')
        kw.setdefault('InstanceIds', [AGENT1])
        kw.setdefault('Parameters', {'commands': ['true']})
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.send_command(**kw)
        return client_error(e)

    assert refused(DocumentName='AWS-RunPowerShellScript')[0] == 'InvalidDocument'
    assert refused(InstanceIds=[UNMANAGED]) == (
        'InvalidInstanceId', f'Instances [[{UNMANAGED}]] not in a valid state for account '
                             f'123456789012')
    assert refused(InstanceIds=['i-0fffffffffffffff0'])[0] == 'InvalidInstanceId'
    assert refused(InstanceIds=[AGENT1, AGENT1])[0] == 'DuplicateInstanceId'
    assert refused(Parameters={'commands': []})[0] == 'InvalidParameters'
    assert refused(Parameters={'command': ['true']})[0] == 'InvalidParameters'
    assert refused(Parameters={'commands': ['true'], 'executionTimeout': ['0']})[0] == \
        'InvalidParameters'


def test_offline_instance_gets_a_pending_invocation(ssm, scaling):
    state = scaling.state()
    state['instances'][0]['ssm']['online'] = False
    scaling.set_state(state)
    cmd = ssm.send_command(DocumentName='AWS-RunShellScript', InstanceIds=[AGENT1],
                           Parameters={'commands': ['poweroff']})['Command']
    for _ in range(2):
        assert invocations(ssm, CommandId=cmd['CommandId']) == [(AGENT1, 'Pending')]
    assert scaling.instance(AGENT1)['state'] == 'running'


def test_list_command_invocations_pages_and_refusals(ssm, scaling):
    ids = []
    for _ in range(3):
        ids.append(ssm.send_command(DocumentName='AWS-RunShellScript', InstanceIds=[AGENT2],
                                    Parameters={'commands': ['true']})['Command']['CommandId'])
    page = ssm.list_command_invocations(InstanceId=AGENT2, MaxResults=2)
    assert len(page['CommandInvocations']) == 2 and page['NextToken']
    rest = ssm.list_command_invocations(InstanceId=AGENT2, MaxResults=2,
                                        NextToken=page['NextToken'])
    assert [i['CommandId'] for i in page['CommandInvocations'] + rest['CommandInvocations']] == ids
    assert 'NextToken' not in rest
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.list_command_invocations(CommandId='0' * 36)
    assert client_error(e)[0] == 'InvalidCommandId'


def test_describe_instance_information(ssm, scaling):
    info = ssm.describe_instance_information(
        Filters=[{'Key': 'InstanceIds', 'Values': [AGENT1, AGENT2, LONER, UNMANAGED]}],
        MaxResults=5)['InstanceInformationList']
    # UNMANAGED has no agent: absent, as SSM leaves it out
    assert [(i['InstanceId'], i['PingStatus']) for i in info] == [
        (AGENT1, 'Online'), (AGENT2, 'Online'), (LONER, 'Online')]
    scaling.client('ec2').stop_instances(InstanceIds=[AGENT2])
    info = ssm.describe_instance_information(
        Filters=[{'Key': 'PingStatus', 'Values': ['ConnectionLost']}])['InstanceInformationList']
    assert [i['InstanceId'] for i in info] == [AGENT2]
    for bad in ([{'Key': 'InstanceIds', 'Values': ['i-nope']}],
                [{'Key': 'tag:Name', 'Values': ['x']}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ssm.describe_instance_information(Filters=bad)
        assert client_error(e)[0] in ('InvalidInstanceInformationFilterValue', 'InvalidFilterKey')


def test_launched_instances_are_managed(asg, ssm, scaling):
    asg.set_desired_capacity(AutoScalingGroupName=GROUP, DesiredCapacity=3)
    group(asg)
    group(asg)
    new = [i for i in members(group(asg)) if i not in (AGENT1, AGENT2)][0]
    info = ssm.describe_instance_information(
        Filters=[{'Key': 'InstanceIds', 'Values': [new]}])['InstanceInformationList']
    assert [(i['InstanceId'], i['PingStatus']) for i in info] == [(new, 'Online')]
