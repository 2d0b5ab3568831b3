"""Self-tests of awsemu.py's Auto Scaling: DescribeAutoScalingGroups and
DescribeLaunchConfigurations, through a real botocore client and, where the
wire matters, hand-made signed requests."""

import datetime

import botocore.exceptions
import pytest

from harness import A3, LT_DEVBOX, LT_RUNNER, raw_call


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


def names_of(response):
    return [g['AutoScalingGroupName'] for g in response['AutoScalingGroups']]


def query_error(text):
    assert '<ErrorResponse' in text and '<Type>Sender</Type>' in text, text
    return text.split('<Code>')[1].split('</Code>')[0]


@pytest.fixture
def asg(housekeeping):
    return housekeeping.client('autoscaling')


def _many_groups(n, configs=0):
    return {'launch_configurations': [{'name': f'lc-{k:03d}'} for k in range(max(configs, 1))],
            'auto_scaling_groups': [{'name': f'group-{k:03d}', 'launch_configuration': 'lc-000'}
                                    for k in range(n)]}


# --------------------------------------------------------------------------
# DescribeAutoScalingGroups
# --------------------------------------------------------------------------

def test_groups_are_listed_by_name_with_every_required_member(asg):
    groups = asg.describe_auto_scaling_groups()['AutoScalingGroups']
    assert [g['AutoScalingGroupName'] for g in groups] == ['devboxes', 'drone-agents',
                                                           'mixed-runners']
    for g in groups:
        assert g['DefaultCooldown'] == 300
        assert g['AvailabilityZones'] == ['eu-west-1a']
        assert g['HealthCheckType'] == 'EC2'
        assert isinstance(g['CreatedTime'], datetime.datetime)
        assert g['AutoScalingGroupARN'].startswith(
            'arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:')
        assert g['AutoScalingGroupARN'].endswith(f':autoScalingGroupName/{g["AutoScalingGroupName"]}')


def test_a_group_on_a_launch_configuration(asg):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=['drone-agents'])['AutoScalingGroups'][0]
    assert (g['MinSize'], g['MaxSize'], g['DesiredCapacity']) == (0, 10, 2)
    assert g['LaunchConfigurationName'] == 'old-agents'
    assert 'LaunchTemplate' not in g and 'MixedInstancesPolicy' not in g
    assert g['Tags'] == [{'ResourceId': 'drone-agents', 'ResourceType': 'auto-scaling-group',
                          'Key': 'devcloud:role', 'Value': 'drone-agent', 'PropagateAtLaunch': True}]
    assert g['Instances'] == [
        {'InstanceId': 'i-0d000000000000001', 'InstanceType': 't3.micro',
         'AvailabilityZone': 'eu-west-1a', 'LifecycleState': 'InService',
         'HealthStatus': 'Healthy', 'LaunchConfigurationName': 'old-agents',
         'ProtectedFromScaleIn': False},
        {'InstanceId': 'i-0d000000000000002', 'InstanceType': 't3.micro',
         'AvailabilityZone': 'eu-west-1a', 'LifecycleState': 'Pending',
         'HealthStatus': 'Unhealthy', 'LaunchConfigurationName': 'old-agents',
         'ProtectedFromScaleIn': True}]


def test_a_group_on_a_launch_template(asg):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=['devboxes'])['AutoScalingGroups'][0]
    # named by name in the seed; AWS answers both, and the version as given
    assert g['LaunchTemplate'] == {'LaunchTemplateId': LT_DEVBOX, 'LaunchTemplateName': 'devbox',
                                   'Version': '$Latest'}
    assert 'LaunchConfigurationName' not in g
    # this instance was launched from version 1
    assert g['Instances'][0]['LaunchTemplate'] == {
        'LaunchTemplateId': LT_DEVBOX, 'LaunchTemplateName': 'devbox', 'Version': '1'}


def test_a_group_with_a_mixed_instances_policy(asg):
    g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=['mixed-runners'])['AutoScalingGroups'][0]
    policy = g['MixedInstancesPolicy']
    assert policy['LaunchTemplate']['LaunchTemplateSpecification'] == {
        'LaunchTemplateId': LT_RUNNER, 'LaunchTemplateName': 'runner', 'Version': '$Default'}
    assert policy['LaunchTemplate']['Overrides'] == [
        {'InstanceType': 't3.large'},
        {'InstanceType': 'm5.large',
         'LaunchTemplateSpecification': {'LaunchTemplateId': LT_DEVBOX,
                                         'LaunchTemplateName': 'devbox', 'Version': '2'}}]
    assert policy['InstancesDistribution']['OnDemandAllocationStrategy'] == 'prioritized'
    assert 'LaunchTemplate' not in g and g['Instances'] == []


def test_groups_wire_names(housekeeping):
    """The element names the C parser reads (autoscaling.h)."""
    status, _, text = raw_call(housekeeping, {
        'Action': 'DescribeAutoScalingGroups', 'Version': '2011-01-01',
        'AutoScalingGroupNames.member.1': 'mixed-runners',
        'AutoScalingGroupNames.member.2': 'drone-agents'}, service='autoscaling')
    assert status == 200, text
    for fragment in ('<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/'
                     'doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups><member>',
                     '<AutoScalingGroupName>drone-agents</AutoScalingGroupName>',
                     '<LaunchConfigurationName>old-agents</LaunchConfigurationName>',
                     '<MinSize>0</MinSize><MaxSize>10</MaxSize><DesiredCapacity>2</DesiredCapacity>',
                     '<MixedInstancesPolicy><LaunchTemplate><LaunchTemplateSpecification>'
                     f'<LaunchTemplateId>{LT_RUNNER}</LaunchTemplateId>',
                     '<Overrides><member><InstanceType>t3.large</InstanceType></member><member>',
                     '<Instances><member><InstanceId>i-0d000000000000001</InstanceId>',
                     '<ProtectedFromScaleIn>true</ProtectedFromScaleIn>',
                     '<ResponseMetadata><RequestId>'):
        assert fragment in text
    assert '<NextToken>' not in text


def test_names_it_does_not_know_are_left_out(asg):
    out = asg.describe_auto_scaling_groups(AutoScalingGroupNames=['nope', 'devboxes'])
    assert names_of(out) == ['devboxes']
    assert names_of(asg.describe_auto_scaling_groups(AutoScalingGroupNames=['nope'])) == []


@pytest.mark.parametrize('filters, expected', [
    ([{'Name': 'tag-key', 'Values': ['devcloud:role']}], ['drone-agents']),
    ([{'Name': 'tag-value', 'Values': ['drone-*']}], ['drone-agents']),
    ([{'Name': 'tag:devcloud:role', 'Values': ['devbox']}], []),
])
def test_tag_filters(asg, filters, expected):
    assert names_of(asg.describe_auto_scaling_groups(Filters=filters)) == expected


def test_unknown_filter_is_refused(asg):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_auto_scaling_groups(Filters=[{'Name': 'auto-scaling-group', 'Values': ['x']}])
    assert client_error(e) == ('ValidationError', 400)


@pytest.mark.parametrize('max_records', [0, 101])
def test_max_records_is_1_to_100(asg, max_records):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_auto_scaling_groups(MaxRecords=max_records)
    assert client_error(e) == ('ValidationError', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_launch_configurations(MaxRecords=max_records)
    assert client_error(e) == ('ValidationError', 400)


def test_paginator_walks_all_groups(housekeeping, asg):
    housekeeping.set_state(_many_groups(7))
    pages = list(asg.get_paginator('describe_auto_scaling_groups').paginate(
        PaginationConfig={'PageSize': 3}))
    assert [len(p['AutoScalingGroups']) for p in pages] == [3, 3, 1]
    assert [n for p in pages for n in names_of(p)] == [f'group-{k:03d}' for k in range(7)]


def test_default_page_is_50_records(housekeeping, asg):
    """A client that does not follow NextToken misses groups, as on AWS."""
    housekeeping.set_state(_many_groups(60))
    first = asg.describe_auto_scaling_groups()
    assert len(first['AutoScalingGroups']) == 50 and first['NextToken']
    rest = asg.describe_auto_scaling_groups(NextToken=first['NextToken'])
    assert names_of(rest) == [f'group-{k:03d}' for k in range(50, 60)]
    assert 'NextToken' not in rest
    assert len(asg.describe_auto_scaling_groups(MaxRecords=100)['AutoScalingGroups']) == 60
    housekeeping.config(page_size=25)        # min(MaxRecords, the server's page size)
    assert len(asg.describe_auto_scaling_groups(MaxRecords=100)['AutoScalingGroups']) == 25


def test_next_token_must_be_genuine(housekeeping, asg):
    housekeeping.set_state(_many_groups(3))
    token = asg.describe_auto_scaling_groups(MaxRecords=1)['NextToken']
    for kwargs in ({'NextToken': 'bogus'},
                   {'NextToken': token, 'AutoScalingGroupNames': ['group-001']}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            asg.describe_auto_scaling_groups(MaxRecords=1, **kwargs)
        assert client_error(e) == ('InvalidNextToken', 400)
    assert names_of(asg.describe_auto_scaling_groups(MaxRecords=1, NextToken=token)) == ['group-001']


def test_string_lengths_are_checked(housekeeping):
    base = {'Action': 'DescribeAutoScalingGroups', 'Version': '2011-01-01'}
    status, _, text = raw_call(housekeeping, {**base, 'AutoScalingGroupNames.member.1': 'x' * 256},
                               service='autoscaling')
    assert (status, query_error(text)) == (400, 'ValidationError')
    assert 'Member must have length less than or equal to 255' in text
    status, _, text = raw_call(housekeeping, {**base, 'AutoScalingGroupNames.member.1': 'x' * 255},
                               service='autoscaling')
    assert status == 200


# --------------------------------------------------------------------------
# DescribeLaunchConfigurations
# --------------------------------------------------------------------------

def test_launch_configurations(asg):
    out = asg.describe_launch_configurations()['LaunchConfigurations']
    assert len(out) == 1
    lc = out[0]
    assert (lc['LaunchConfigurationName'], lc['ImageId'], lc['InstanceType']) == (
        'old-agents', A3, 't3.micro')
    assert isinstance(lc['CreatedTime'], datetime.datetime)
    assert lc['LaunchConfigurationARN'].endswith(':launchConfigurationName/old-agents')
    assert asg.describe_launch_configurations(
        LaunchConfigurationNames=['nope'])['LaunchConfigurations'] == []


def test_launch_configurations_wire_names(housekeeping):
    status, _, text = raw_call(housekeeping, {'Action': 'DescribeLaunchConfigurations',
                                              'Version': '2011-01-01'}, service='autoscaling')
    assert status == 200, text
    assert ('<DescribeLaunchConfigurationsResult><LaunchConfigurations><member>'
            '<LaunchConfigurationName>old-agents</LaunchConfigurationName>') in text
    assert f'<ImageId>{A3}</ImageId>' in text


def test_launch_configurations_names_and_pages(housekeeping, asg):
    housekeeping.set_state(_many_groups(1, configs=60))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_launch_configurations(LaunchConfigurationNames=[f'lc-{k:03d}' for k in range(51)])
    assert client_error(e) == ('ValidationError', 400)
    fifty = asg.describe_launch_configurations(
        LaunchConfigurationNames=[f'lc-{k:03d}' for k in range(50)], MaxRecords=100)
    assert len(fifty['LaunchConfigurations']) == 50 and 'NextToken' not in fifty
    pages = list(asg.get_paginator('describe_launch_configurations').paginate())
    assert [len(p['LaunchConfigurations']) for p in pages] == [50, 10]   # the default page
    with pytest.raises(botocore.exceptions.ClientError) as e:
        asg.describe_launch_configurations(NextToken='bogus')
    assert client_error(e) == ('InvalidNextToken', 400)
