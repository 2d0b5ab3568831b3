"""Self-tests of awsemu.py's "lost answer" faults (the action takes effect,
the client never hears of it) on every destructive action, and of the
snapshot calls the image pruner's marker needs (CreateTags, DescribeSnapshots),
through a real botocore client."""

import time

import botocore.exceptions
import pytest
from botocore.parsers import ResponseParserError

INSTANCE = 'i-0a1b2c3d4e5f0000a'
PROTECTED = 'i-0a1b2c3d4e5f0000b'
IMAGE, OTHER_IMAGE = 'ami-0a000000000000001', 'ami-0a000000000000002'
SNAP, SHARED, LOOSE = ('snap-0a000000000000001', 'snap-0a0000000000000ff',
                       'snap-0a000000000000003')
FOREIGN_SNAP = 'snap-0f000000000000001'
OTHER_ACCOUNT = '210987654321'
MARKER = 'devcloud:deregistered-image'


def account():
    return {
        'instances': [{'id': INSTANCE, 'state': 'running'},
                      {'id': PROTECTED, 'state': 'running', 'disable_api_termination': True}],
        'images': [{'id': IMAGE, 'snapshots': [SNAP, SHARED]},
                   {'id': OTHER_IMAGE, 'snapshots': [SHARED]}],
        'snapshots': [{'id': LOOSE, 'tags': {MARKER: 'ami-0a0000000000000aa'}},
                      {'id': FOREIGN_SNAP, 'owner_id': OTHER_ACCOUNT,
                       'tags': {MARKER: 'ami-0a0000000000000bb'}}],
    }


@pytest.fixture
def emu(awsemu):
    awsemu.set_state(account())
    return awsemu


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


# Each destructive action: the call, and what the account shows once it acted.
DESTRUCTIVE = {
    'StopInstances': (lambda ec2: ec2.stop_instances(InstanceIds=[INSTANCE]),
                      lambda emu: emu.instance(INSTANCE)['state'] == 'stopping'),
    'TerminateInstances': (lambda ec2: ec2.terminate_instances(InstanceIds=[INSTANCE]),
                           lambda emu: emu.instance(INSTANCE)['state'] == 'shutting-down'),
    'DeregisterImage': (lambda ec2: ec2.deregister_image(ImageId=IMAGE),
                        lambda emu: emu.image(IMAGE) is None),
    'DeleteSnapshot': (lambda ec2: ec2.delete_snapshot(SnapshotId=LOOSE),
                       lambda emu: LOOSE not in emu.snapshot_ids()),
    'CreateTags': (lambda ec2: ec2.create_tags(Resources=[SNAP], Tags=[{'Key': MARKER,
                                                                        'Value': IMAGE}]),
                   lambda emu: next(s for s in emu.state()['snapshots']
                                    if s['id'] == SNAP)['tags'] == {MARKER: IMAGE}),
}


@pytest.mark.parametrize('action', sorted(DESTRUCTIVE))
@pytest.mark.parametrize('kind', ['lost_reset', 'lost_500', 'lost_timeout'])
def test_the_action_takes_effect_and_the_answer_is_lost(emu, action, kind):
    call, acted = DESTRUCTIVE[action]
    emu.fault(action, kind, delay_s=1.0 if kind == 'lost_timeout' else 0)
    ec2 = emu.client('ec2', read_timeout=0.3)
    assert not acted(emu)
    if kind == 'lost_500':
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(ec2)
        assert client_error(e) == ('InternalError', 500)
    elif kind == 'lost_reset':
        with pytest.raises((botocore.exceptions.ConnectionClosedError,
                            botocore.exceptions.EndpointConnectionError)):
            call(ec2)
    else:
        t0 = time.monotonic()
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            call(ec2)
        assert time.monotonic() - t0 < 1.0
    assert acted(emu)
    # the call log says what really happened, and which fault hid it
    logged = emu.calls(action)
    assert [(c['status'], c['fault']) for c in logged] == [(200, kind)]
    # only that one answer is lost: the next call of the action is answered
    # (a retry, as a client makes after a lost answer)
    if action == 'DeregisterImage':
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(emu.client('ec2'))
        assert client_error(e) == ('InvalidAMIID.NotFound', 400)
    elif action == 'DeleteSnapshot':
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(emu.client('ec2'))
        assert client_error(e) == ('InvalidSnapshot.NotFound', 400)
    else:
        call(emu.client('ec2'))


def test_a_lost_timeout_withholds_the_answer_for_its_delay(emu):
    emu.fault('StopInstances', 'lost_timeout', delay_s=0.8)
    t0 = time.monotonic()
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.EndpointConnectionError)):
        emu.client('ec2', read_timeout=5).stop_instances(InstanceIds=[INSTANCE])
    assert 0.8 <= time.monotonic() - t0 < 5
    assert emu.instance(INSTANCE)['state'] == 'stopping'


def test_a_refused_action_under_a_lost_answer_changes_nothing(emu):
    """The fault hides the answer, whatever it was: a refusal stays a refusal."""
    emu.fault('TerminateInstances', 'lost_500')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client('ec2').terminate_instances(InstanceIds=[PROTECTED])
    assert client_error(e) == ('InternalError', 500)
    assert emu.instance(PROTECTED)['state'] == 'running'
    assert [(c['status'], c['error_code'], c['fault']) for c in emu.calls()] == [
        (400, 'OperationNotPermitted', 'lost_500')]


@pytest.mark.parametrize('service,code', [('autoscaling', 'InternalFailure'),
                                          ('ssm', 'InternalServerError')])
def test_lost_answers_apply_to_every_service(emu, service, code):
    """Generic: any action of any service (the scaler's later ones included)."""
    state = account()
    state['parameters'] = [{'name': '/x', 'value': 'y'}]
    emu.set_state(state)
    emu.fault('*', 'lost_500', service=service)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        if service == 'ssm':
            emu.client('ssm').get_parameter(Name='/x')
        else:
            emu.client('autoscaling').describe_auto_scaling_groups()
    assert client_error(e) == (code, 500)
    assert [(c['status'], c['fault']) for c in emu.calls()] == [(200, 'lost_500')]


def test_lost_answer_rules_round_trip(emu):
    emu.fault('DeleteSnapshot', 'lost_timeout')
    emu.fault('DeleteSnapshot', 'lost_reset', count=2)
    rules = emu._control('GET', '/_emu/faults')
    assert [(r['kind'], r['count'], r['delay_s']) for r in rules] == [
        ('lost_timeout', 1, 0.0), ('lost_reset', 2, 0.0)]
    emu._control('POST', '/_emu/faults', [{'action': 'X', 'kind': 'lost_timeout'}])
    assert emu._control('GET', '/_emu/faults')[0]['delay_s'] == 60.0


def test_truncate_still_acts_and_loses_the_answer(emu):
    emu.fault('DeleteSnapshot', 'truncate')
    with pytest.raises((botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.IncompleteReadError,
                        botocore.exceptions.ResponseStreamingError, ResponseParserError)):
        emu.client('ec2').delete_snapshot(SnapshotId=LOOSE)
    assert LOOSE not in emu.snapshot_ids()


# --------------------------------------------------------------------------
# Deregistering and deleting twice, snapshots in use
# --------------------------------------------------------------------------

def test_second_deregistration_and_deletion_are_not_found(emu):
    ec2 = emu.client('ec2')
    ec2.deregister_image(ImageId=IMAGE)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.deregister_image(ImageId=IMAGE)
    assert client_error(e) == ('InvalidAMIID.NotFound', 400)
    ec2.delete_snapshot(SnapshotId=SNAP)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_snapshot(SnapshotId=SNAP)
    assert client_error(e) == ('InvalidSnapshot.NotFound', 400)
    # the other image still uses the shared one
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_snapshot(SnapshotId=SHARED)
    assert client_error(e) == ('InvalidSnapshot.InUse', 400)
    assert OTHER_IMAGE in str(e.value)


# --------------------------------------------------------------------------
# CreateTags
# --------------------------------------------------------------------------

def tags_of(emu, kind, rid):
    return next(r for r in emu.state()[kind] if r['id'] == rid)['tags']


def test_create_tags_on_snapshots_images_and_instances(emu):
    ec2 = emu.client('ec2')
    ec2.create_tags(Resources=[SNAP, SHARED], Tags=[{'Key': MARKER, 'Value': IMAGE},
                                                    {'Key': 'empty', 'Value': ''}])
    assert tags_of(emu, 'snapshots', SNAP) == {MARKER: IMAGE, 'empty': ''}
    assert tags_of(emu, 'snapshots', SHARED) == {MARKER: IMAGE, 'empty': ''}
    ec2.create_tags(Resources=[SNAP], Tags=[{'Key': MARKER, 'Value': OTHER_IMAGE}])
    assert tags_of(emu, 'snapshots', SNAP)[MARKER] == OTHER_IMAGE     # overwritten
    ec2.create_tags(Resources=[IMAGE, INSTANCE], Tags=[{'Key': 'k', 'Value': 'v'}])
    assert tags_of(emu, 'images', IMAGE) == {'k': 'v'}
    assert tags_of(emu, 'instances', INSTANCE) == {'k': 'v'}
    call = emu.calls('CreateTags')[0]
    assert call['params']['Resources'] == [SNAP, SHARED]
    assert call['raw']['ResourceId.1'] == SNAP and call['raw']['Tag.1.Key'] == MARKER


@pytest.mark.parametrize('resources,tags,code', [
    ([SNAP, 'snap-0a0000000000000ee'], [{'Key': 'k', 'Value': 'v'}], 'InvalidSnapshot.NotFound'),
    (['ami-0a0000000000000ee'], [{'Key': 'k', 'Value': 'v'}], 'InvalidAMIID.NotFound'),
    (['i-0a0000000000000ee'], [{'Key': 'k', 'Value': 'v'}], 'InvalidInstanceID.NotFound'),
    (['vol-0a0000000000000ee'], [{'Key': 'k', 'Value': 'v'}], 'InvalidID'),
    ([SNAP], [{'Key': 'aws:x', 'Value': 'v'}], 'InvalidParameterValue'),
    ([SNAP], [{'Key': 'k' * 129, 'Value': 'v'}], 'InvalidParameterValue'),
    ([SNAP], [], 'MissingParameter'),
    ([FOREIGN_SNAP], [{'Key': 'k', 'Value': 'v'}], 'UnauthorizedOperation'),
])
def test_create_tags_refusals_change_nothing(emu, resources, tags, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client('ec2').create_tags(Resources=resources, Tags=tags)
    assert client_error(e)[0] == code
    assert tags_of(emu, 'snapshots', SNAP) == {}


def test_create_tags_dry_run_and_denied(emu):
    ec2 = emu.client('ec2')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.create_tags(Resources=[SNAP], Tags=[{'Key': 'k', 'Value': 'v'}], DryRun=True)
    assert client_error(e) == ('DryRunOperation', 412)
    state = account()
    state['denied_actions'] = ['ec2:CreateTags']
    emu.set_state(state)
    for dry_run in (True, False):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.create_tags(Resources=[SNAP], Tags=[{'Key': 'k', 'Value': 'v'}], DryRun=dry_run)
        assert client_error(e) == ('UnauthorizedOperation', 403)
    assert tags_of(emu, 'snapshots', SNAP) == {}


# --------------------------------------------------------------------------
# DescribeSnapshots
# --------------------------------------------------------------------------

def snapshot_ids(response):
    return [s['SnapshotId'] for s in response['Snapshots']]


def test_describe_snapshots_owners_and_tag_filters(emu):
    ec2 = emu.client('ec2')
    assert snapshot_ids(ec2.describe_snapshots()) == [LOOSE, SNAP, SHARED]
    assert snapshot_ids(ec2.describe_snapshots(OwnerIds=['self'])) == [LOOSE, SNAP, SHARED]
    assert snapshot_ids(ec2.describe_snapshots(OwnerIds=[OTHER_ACCOUNT])) == [FOREIGN_SNAP]
    marked = ec2.describe_snapshots(OwnerIds=['self'],
                                    Filters=[{'Name': 'tag-key', 'Values': [MARKER]}])
    assert snapshot_ids(marked) == [LOOSE]
    one = marked['Snapshots'][0]
    assert one['Tags'] == [{'Key': MARKER, 'Value': 'ami-0a0000000000000aa'}]
    assert (one['OwnerId'], one['State'], one['VolumeSize']) == ('123456789012', 'completed', 8)
    by_value = ec2.describe_snapshots(
        Filters=[{'Name': f'tag:{MARKER}', 'Values': ['ami-0a0000000000000a*']}])
    assert snapshot_ids(by_value) == [LOOSE]
    assert snapshot_ids(ec2.describe_snapshots(
        Filters=[{'Name': 'tag-key', 'Values': ['nothing']}])) == []
    assert snapshot_ids(ec2.describe_snapshots(SnapshotIds=[SHARED])) == [SHARED]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_snapshots(Filters=[{'Name': 'no-such-filter', 'Values': ['x']}])
    assert client_error(e)[0] == 'InvalidParameterValue'


def test_describe_snapshots_pages(emu):
    state = account()
    state['snapshots'] = [{'id': f'snap-0b{n:015x}', 'tags': {MARKER: IMAGE}} for n in range(12)]
    emu.set_state(state)
    ec2 = emu.client('ec2')
    pages = list(ec2.get_paginator('describe_snapshots').paginate(
        OwnerIds=['self'], Filters=[{'Name': 'tag-key', 'Values': [MARKER]}],
        PaginationConfig={'PageSize': 5}))
    assert [len(p['Snapshots']) for p in pages] == [5, 5, 2]
    assert sum((snapshot_ids(p) for p in pages), []) == [f'snap-0b{n:015x}' for n in range(12)]
    # the server's own page size applies once MaxResults asks for pages
    emu.config(page_size=4)
    assert len(ec2.describe_snapshots(MaxResults=1000)['Snapshots']) == 4
    assert len(ec2.describe_snapshots()["Snapshots"]) == 12 + 2    # and the images' two
    # a token only serves the query it came from
    token = ec2.describe_snapshots(MaxResults=5)['NextToken']
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_snapshots(MaxResults=5, NextToken=token, OwnerIds=['self'])
    assert client_error(e)[0] == 'InvalidParameterValue'


@pytest.mark.parametrize('kwargs,code', [
    ({'MaxResults': 4}, 'InvalidParameterValue'),
    ({'MaxResults': 1001}, 'InvalidParameterValue'),
    ({'MaxResults': 5, 'SnapshotIds': [SNAP]}, 'InvalidParameterCombination'),
    ({'SnapshotIds': ['snap-0a0000000000000ee']}, 'InvalidSnapshot.NotFound'),
    ({'SnapshotIds': ['snap-x']}, 'InvalidSnapshot.Malformed'),
    ({'OwnerIds': ['nobody']}, 'InvalidUserID.Malformed'),
    ({'DryRun': True}, 'DryRunOperation'),
])
def test_describe_snapshots_refusals(emu, kwargs, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client('ec2').describe_snapshots(**kwargs)
    assert client_error(e)[0] == code


def test_describe_snapshots_denied(emu):
    state = account()
    state['denied_actions'] = ['ec2:DescribeSnapshots']
    emu.set_state(state)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client('ec2').describe_snapshots(OwnerIds=['self'])
    assert client_error(e) == ('UnauthorizedOperation', 403)


# --------------------------------------------------------------------------
# DeleteTags
# --------------------------------------------------------------------------

def test_delete_tags_by_key_or_by_key_and_value(emu):
    ec2 = emu.client('ec2')
    ec2.create_tags(Resources=[INSTANCE], Tags=[{'Key': 'a', 'Value': '1'},
                                                {'Key': 'b', 'Value': '2'},
                                                {'Key': 'c', 'Value': '3'}])
    ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'a'}])          # whatever its value
    ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'b', 'Value': 'other'}])  # no match
    ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'missing'}])    # no error
    assert tags_of(emu, 'instances', INSTANCE) == {'b': '2', 'c': '3'}
    ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'c', 'Value': '3'}])
    assert tags_of(emu, 'instances', INSTANCE) == {'b': '2'}
    # a retry after a lost answer is harmless
    ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'c'}])
    assert tags_of(emu, 'instances', INSTANCE) == {'b': '2'}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_tags(Resources=[INSTANCE], Tags=[{'Key': 'b'}], DryRun=True)
    assert client_error(e)[0] == 'DryRunOperation'
    assert tags_of(emu, 'instances', INSTANCE) == {'b': '2'}


@pytest.mark.parametrize('resources,tags,code', [
    (['i-0a0000000000000ee'], [{'Key': 'k'}], 'InvalidInstanceID.NotFound'),
    ([INSTANCE], [{'Key': 'aws:autoscaling:groupName'}], 'InvalidParameterValue'),
])
def test_delete_tags_refusals_change_nothing(emu, resources, tags, code):
    emu.client('ec2').create_tags(Resources=[INSTANCE], Tags=[{'Key': 'k', 'Value': 'v'}])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        emu.client('ec2').delete_tags(Resources=resources, Tags=tags)
    assert client_error(e)[0] == code
    assert tags_of(emu, 'instances', INSTANCE) == {'k': 'v'}
