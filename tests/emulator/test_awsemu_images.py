"""Self-tests of awsemu.py's EC2 images, snapshots and launch templates,
through a real botocore client (with the emulator's model overlay) and,
where the wire matters, hand-made signed requests."""

import botocore.exceptions
import pytest

from awsemu import overlay_model
from harness import (A1, A2, A3, A4, A5, FOREIGN_AMI, LT_DEVBOX, LT_EMPTY, LT_RUNNER,
                     ORPHAN_SNAPSHOT, OTHER_ACCOUNT, PUBLIC_AMI, raw_call)


def client_error(excinfo):
    err = excinfo.value.response
    return err['Error']['Code'], err['ResponseMetadata']['HTTPStatusCode']


def image_ids(response):
    return [i['ImageId'] for i in response['Images']]


def ec2_error(text):
    return text.split('<Code>')[1].split('</Code>')[0], text.split('<Message>')[1].split('</Message>')[0]


@pytest.fixture
def ec2(housekeeping):
    return housekeeping.client('ec2')


def _many_images(n):
    return {'images': [{'id': f'ami-{k:017x}', 'name': f'devbox-{k:03d}'}
                       for k in range(1, n + 1)]}


# --------------------------------------------------------------------------
# DescribeImages
# --------------------------------------------------------------------------

def test_default_listing_is_own_and_public_images(ec2):
    # deprecated A3, disabled A4 and another account's private image are not listed
    assert image_ids(ec2.describe_images()) == [A1, A2, A5, PUBLIC_AMI]


@pytest.mark.parametrize('owners, expected', [
    (['self'], [A1, A2, A5]),
    (['123456789012'], [A1, A2, A5]),
    ([OTHER_ACCOUNT], [PUBLIC_AMI, FOREIGN_AMI]),     # named: its private image too
    (['amazon'], [PUBLIC_AMI]),
    (['self', 'amazon'], [A1, A2, A5, PUBLIC_AMI]),
    (['999999999999'], []),
])
def test_owners(ec2, owners, expected):
    assert image_ids(ec2.describe_images(Owners=owners)) == expected


@pytest.mark.parametrize('flags, expected', [
    ({'IncludeDeprecated': True}, [A1, A2, A3, A5]),
    ({'IncludeDisabled': True}, [A1, A2, A4, A5]),
    ({'IncludeDeprecated': True, 'IncludeDisabled': True}, [A1, A2, A3, A4, A5]),
    ({'IncludeDeprecated': False, 'IncludeDisabled': False}, [A1, A2, A5]),
])
def test_deprecated_and_disabled_only_when_asked(ec2, flags, expected):
    assert image_ids(ec2.describe_images(Owners=['self'], **flags)) == expected


def test_image_is_aws_shaped(ec2):
    out = ec2.describe_images(Owners=['self'], IncludeDeprecated=True, IncludeDisabled=True)
    images = {i['ImageId']: i for i in out['Images']}
    two = images[A2]
    assert two['Name'] == 'devbox-2026-11-10'
    assert two['CreationDate'] == '2026-11-10T03:00:00.000Z'     # a string, as given
    assert (two['State'], two['OwnerId'], two['Public']) == ('available', '123456789012', False)
    assert two['Tags'] == [{'Key': 'devcloud:role', 'Value': 'devbox-image'}]
    assert two['BlockDeviceMappings'] == [
        {'DeviceName': '/dev/xvda',
         'Ebs': {'DeleteOnTermination': True, 'SnapshotId': 'snap-0a000000000000002',
                 'VolumeSize': 8, 'VolumeType': 'gp3', 'Encrypted': False}},
        {'DeviceName': '/dev/xvdb',
         'Ebs': {'DeleteOnTermination': True, 'SnapshotId': 'snap-0b000000000000002',
                 'VolumeSize': 30, 'VolumeType': 'gp3', 'Encrypted': False}}]
    assert 'DeprecationTime' not in two
    assert images[A3]['DeprecationTime'] == '2026-11-20T03:00:00.000Z'
    assert images[A4]['State'] == 'disabled'
    assert images[A5]['State'] == 'pending'
    assert images[A1]['BlockDeviceMappings'][0]['Ebs']['SnapshotId'] == 'snap-0a000000000000001'


def test_describe_images_wire_names(housekeeping):
    """The element names the C parser reads (ec2.h)."""
    status, _, text = raw_call(housekeeping, {'Action': 'DescribeImages', 'Version': '2016-11-15',
                                              'ImageId.1': A1})
    assert status == 200, text
    assert '<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text
    for fragment in ('<imagesSet><item>', f'<imageId>{A1}</imageId>',
                     '<imageState>available</imageState>',
                     '<creationDate>2026-11-01T03:00:00.000Z</creationDate>',
                     '<imageOwnerId>123456789012</imageOwnerId>',
                     '<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs>',
                     '<snapshotId>snap-0a000000000000001</snapshotId>',
                     '<tagSet><item><key>devcloud:role</key><value>devbox-image</value>'):
        assert fragment in text
    assert '<nextToken>' not in text


@pytest.mark.parametrize('filters, expected', [
    ([{'Name': 'name', 'Values': ['devbox-*']}], [A1, A2, A5]),
    ([{'Name': 'name', 'Values': ['devbox-2026-11-?0']}], [A2]),
    ([{'Name': 'name', 'Values': ['DEVBOX-*']}], []),                # case-sensitive
    ([{'Name': 'tag:devcloud:role', 'Values': ['devbox-image']}], [A1, A2]),
    ([{'Name': 'tag-key', 'Values': ['devcloud:*']}], [A1, A2]),
    ([{'Name': 'tag-value', 'Values': ['*-image']}], [A1, A2]),
    ([{'Name': 'state', 'Values': ['pending']}], [A5]),
    ([{'Name': 'is-public', 'Values': ['true']}], [PUBLIC_AMI]),
    ([{'Name': 'owner-id', 'Values': [OTHER_ACCOUNT]}], [PUBLIC_AMI]),
    ([{'Name': 'image-id', 'Values': [A2, A5]}], [A2, A5]),
    ([{'Name': 'name', 'Values': ['devbox-*']},
      {'Name': 'state', 'Values': ['available']}], [A1, A2]),
])
def test_filters(ec2, filters, expected):
    assert image_ids(ec2.describe_images(Filters=filters)) == expected


def test_unknown_filter_is_refused(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(Filters=[{'Name': 'image-name', 'Values': ['x']}])
    assert client_error(e) == ('InvalidParameterValue', 400)


def test_image_ids(ec2):
    assert image_ids(ec2.describe_images(ImageIds=[A2, A1])) == [A2, A1]
    assert image_ids(ec2.describe_images(ImageIds=[FOREIGN_AMI], Owners=[OTHER_ACCOUNT])) == \
        [FOREIGN_AMI]
    cases = [
        ([A1, 'ami-0e000000000000001'], 'InvalidAMIID.NotFound',
         "The image id '[ami-0e000000000000001]' does not exist"),
        (['ami-0e000000000000001', 'ami-0e000000000000002'], 'InvalidAMIID.NotFound',
         "The image ids '[ami-0e000000000000001, ami-0e000000000000002]' do not exist"),
        ([FOREIGN_AMI], 'InvalidAMIID.NotFound', None),   # private and not asked for
        (['ami-12345'], 'InvalidAMIID.Malformed', 'Invalid id: "ami-12345" (expecting "ami-...")'),
    ]
    for ids, code, message in cases:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.describe_images(ImageIds=ids)
        assert client_error(e) == (code, 400), ids
        if message:
            assert e.value.response['Error']['Message'] == message


def test_owner_must_be_an_account_or_alias(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(Owners=['me'])
    assert client_error(e) == ('InvalidUserID.Malformed', 400)


def test_max_results_rules(ec2):
    for bad in (4, 1001):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.describe_images(MaxResults=bad)
        assert client_error(e) == ('InvalidParameterValue', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(ImageIds=[A1], MaxResults=5)
    assert client_error(e) == ('InvalidParameterCombination', 400)


def test_paginator_walks_all_pages(housekeeping, ec2):
    housekeeping.set_state(_many_images(12))
    pages = list(ec2.get_paginator('describe_images').paginate(
        Owners=['self'], PaginationConfig={'PageSize': 5}))
    assert [len(p['Images']) for p in pages] == [5, 5, 2]
    assert [i for p in pages for i in image_ids(p)] == [f'ami-{k:017x}' for k in range(1, 13)]
    calls = housekeeping.calls('DescribeImages')
    assert [c['raw'].get('MaxResults') for c in calls] == ['5', '5', '5']
    assert calls[0]['raw'].get('NextToken') is None and all(c['raw']['NextToken'] for c in calls[1:])


def test_pages_only_when_max_results_is_given(housekeeping, ec2):
    housekeeping.set_state(_many_images(7))
    housekeeping.config(page_size=3)
    everything = ec2.describe_images()
    assert len(everything['Images']) == 7 and 'NextToken' not in everything
    first = ec2.describe_images(MaxResults=10)            # min(MaxResults, page size)
    assert len(first['Images']) == 3 and first['NextToken']
    second = ec2.describe_images(MaxResults=10, NextToken=first['NextToken'])
    assert image_ids(second) == [f'ami-{k:017x}' for k in range(4, 7)]


def test_next_token_must_be_for_the_same_query(housekeeping, ec2):
    housekeeping.set_state(_many_images(7))
    token = ec2.describe_images(MaxResults=5)['NextToken']
    for bad in ({'NextToken': 'bogus'},
                {'NextToken': token, 'Filters': [{'Name': 'name', 'Values': ['*']}]},
                {'NextToken': token, 'IncludeDeprecated': True}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.describe_images(MaxResults=5, **bad)
        assert client_error(e) == ('InvalidParameterValue', 400)
    assert len(ec2.describe_images(MaxResults=5, NextToken=token)['Images']) == 2


def test_overlay_members_on_the_wire(housekeeping):
    base = {'Action': 'DescribeImages', 'Version': '2016-11-15', 'Owner.1': 'self'}
    status, _, text = raw_call(housekeeping, {**base, 'MaxResults': '5',
                                              'IncludeDisabled': 'true'})
    assert status == 200, text
    assert [f'<imageId>{i}</imageId>' in text for i in (A1, A2, A3, A4, A5)] == [
        True, True, False, True, True]
    assert '<nextToken>' not in text
    # Everything else stays as strict as the model.
    for extra, code in [({'maxResults': '5'}, 'UnknownParameter'),
                        ({'IncludeDisabled': 'yes'}, 'InvalidParameterValue'),
                        ({'MaxResults': 'five'}, 'InvalidParameterValue')]:
        status, _, text = raw_call(housekeeping, {**base, **extra})
        assert (status, ec2_error(text)[0]) == (400, code), extra


def test_overlay_adds_and_never_replaces():
    model = {'shapes': {
        'DescribeImagesRequest': {'type': 'structure', 'members': {
            'MaxResults': {'shape': 'SomethingNewer'}}},
        'DescribeImagesResult': {'type': 'structure', 'members': {}},
        'ImageState': {'type': 'string', 'enum': ['available']}}}
    overlay_model('ec2', 'service-2', model)
    overlay_model('ec2', 'service-2', model)       # loaders hand out cached dicts again
    members = model['shapes']['DescribeImagesRequest']['members']
    assert members['MaxResults'] == {'shape': 'SomethingNewer'}
    assert members['NextToken'] == {'shape': 'String'}
    assert members['IncludeDisabled'] == {'shape': 'Boolean'}
    assert model['shapes']['DescribeImagesResult']['members']['NextToken'] == {
        'shape': 'String', 'locationName': 'nextToken'}
    assert model['shapes']['ImageState']['enum'] == ['available', 'disabled']
    untouched = {'shapes': {}}
    assert overlay_model('autoscaling', 'service-2', untouched) == {'shapes': {}}


def test_executable_users_is_not_modelled(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(ExecutableUsers=['self'])
    assert client_error(e) == ('EmulatorNotImplemented', 501)


# --------------------------------------------------------------------------
# DeregisterImage
# --------------------------------------------------------------------------

def test_deregister_keeps_the_snapshots(housekeeping, ec2):
    ec2.deregister_image(ImageId=A2)
    assert housekeeping.image(A2) is None
    assert {'snap-0a000000000000002', 'snap-0b000000000000002'} <= set(housekeeping.snapshot_ids())
    assert A2 not in image_ids(ec2.describe_images())
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_images(ImageIds=[A2])
    assert client_error(e) == ('InvalidAMIID.NotFound', 400)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.deregister_image(ImageId=A2)              # already deregistered
    assert client_error(e) == ('InvalidAMIID.NotFound', 400)
    assert e.value.response['Error']['Message'] == f"The image id '[{A2}]' does not exist"


def test_deregister_deprecated_and_disabled_images(housekeeping, ec2):
    ec2.deregister_image(ImageId=A3)
    ec2.deregister_image(ImageId=A4)
    assert housekeeping.image_ids() == [A1, A2, A5, PUBLIC_AMI, FOREIGN_AMI]


def test_deregister_answer_on_the_wire(housekeeping):
    status, _, text = raw_call(housekeeping, {'Action': 'DeregisterImage', 'Version': '2016-11-15',
                                              'ImageId': A1})
    assert status == 200
    assert '<DeregisterImageResponse xmlns=' in text and '<return>true</return>' in text


@pytest.mark.parametrize('image_id, code, status', [
    ('ami-xyz', 'InvalidAMIID.Malformed', 400),
    ('ami-0e000000000000001', 'InvalidAMIID.NotFound', 400),
    (PUBLIC_AMI, 'UnauthorizedOperation', 403),       # another account's
])
def test_deregister_errors(housekeeping, ec2, image_id, code, status):
    before = housekeeping.image_ids()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.deregister_image(ImageId=image_id)
    assert client_error(e) == (code, status)
    assert housekeeping.image_ids() == before


# --------------------------------------------------------------------------
# DeleteSnapshot
# --------------------------------------------------------------------------

def test_delete_orphan_snapshot(housekeeping, ec2):
    ec2.delete_snapshot(SnapshotId=ORPHAN_SNAPSHOT)
    assert ORPHAN_SNAPSHOT not in housekeeping.snapshot_ids()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_snapshot(SnapshotId=ORPHAN_SNAPSHOT)
    assert client_error(e) == ('InvalidSnapshot.NotFound', 400)
    assert e.value.response['Error']['Message'] == \
        f"The snapshot '{ORPHAN_SNAPSHOT}' does not exist."


@pytest.mark.parametrize('snapshot_id, image_id', [
    ('snap-0a000000000000001', A1),
    ('snap-0b000000000000002', A2),     # the second of two
    ('snap-0a000000000000003', A3),     # deprecated images count
    ('snap-0a000000000000004', A4),     # so do disabled ones
])
def test_snapshot_in_use_until_its_image_is_deregistered(housekeeping, ec2, snapshot_id, image_id):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert client_error(e) == ('InvalidSnapshot.InUse', 400)
    assert e.value.response['Error']['Message'] == \
        f'The snapshot {snapshot_id} is currently in use by {image_id}'
    assert snapshot_id in housekeeping.snapshot_ids()
    ec2.deregister_image(ImageId=image_id)
    ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert snapshot_id not in housekeeping.snapshot_ids()


@pytest.mark.parametrize('snapshot_id, code, status', [
    ('snap-xyz', 'InvalidSnapshot.Malformed', 400),
    ('vol-0a000000000000001', 'InvalidSnapshot.Malformed', 400),
    ('snap-0e000000000000001', 'InvalidSnapshot.NotFound', 400),
    ('snap-0f000000000000001', 'UnauthorizedOperation', 403),   # the public image's
])
def test_delete_snapshot_errors(housekeeping, ec2, snapshot_id, code, status):
    before = housekeeping.snapshot_ids()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.delete_snapshot(SnapshotId=snapshot_id)
    assert client_error(e) == (code, status)
    assert housekeeping.snapshot_ids() == before


# --------------------------------------------------------------------------
# DescribeLaunchTemplateVersions
# --------------------------------------------------------------------------

def versions_of(response):
    return [(v['LaunchTemplateId'], v['VersionNumber']) for v in response['LaunchTemplateVersions']]


def test_latest_and_default_of_every_template(ec2):
    out = ec2.describe_launch_template_versions(Versions=['$Latest', '$Default'])
    # the runner's and no-image's $Latest is their $Default: listed once
    assert versions_of(out) == [(LT_DEVBOX, 3), (LT_DEVBOX, 1), (LT_RUNNER, 1), (LT_EMPTY, 2)]
    items = out['LaunchTemplateVersions']
    assert [v['DefaultVersion'] for v in items] == [False, True, True, True]
    assert [v['LaunchTemplateData'].get('ImageId') for v in items] == [
        'resolve:ssm:/devcloud/devbox-ami', A1, A4, A5]
    assert items[0]['LaunchTemplateName'] == 'devbox'
    assert items[0]['CreatedBy'] == 'arn:aws:iam::123456789012:root'
    assert items[0]['CreateTime'].year >= 2026
    assert versions_of(ec2.describe_launch_template_versions(Versions=['$Default'])) == [
        (LT_DEVBOX, 1), (LT_RUNNER, 1), (LT_EMPTY, 2)]


@pytest.mark.parametrize('kwargs, expected', [
    ({'LaunchTemplateId': LT_DEVBOX}, [3, 2, 1]),
    ({'LaunchTemplateName': 'devbox'}, [3, 2, 1]),
    ({'LaunchTemplateName': 'devbox', 'Versions': ['$Latest']}, [3]),
    ({'LaunchTemplateId': LT_DEVBOX, 'Versions': ['1', '$Default']}, [1]),
    ({'LaunchTemplateId': LT_DEVBOX, 'Versions': ['2', '$Latest']}, [3, 2]),
    ({'LaunchTemplateId': LT_DEVBOX, 'MinVersion': '2'}, [3, 2]),
    ({'LaunchTemplateId': LT_DEVBOX, 'MaxVersion': '2'}, [2, 1]),
    ({'LaunchTemplateId': LT_DEVBOX, 'Filters': [{'Name': 'image-id', 'Values': [A2]}]}, [2]),
    ({'LaunchTemplateId': LT_DEVBOX,
      'Filters': [{'Name': 'is-default-version', 'Values': ['false']}]}, [3, 2]),
    ({'LaunchTemplateId': LT_DEVBOX,
      'Filters': [{'Name': 'instance-type', 'Values': ['t3.*']}]}, [2]),
])
def test_versions_of_one_template(ec2, kwargs, expected):
    out = ec2.describe_launch_template_versions(**kwargs)
    assert [n for _, n in versions_of(out)] == expected


def test_a_version_without_image(ec2):
    out = ec2.describe_launch_template_versions(LaunchTemplateId=LT_EMPTY, Versions=['1'])
    assert out['LaunchTemplateVersions'][0]['LaunchTemplateData'] == {}


def test_launch_template_versions_wire_names(housekeeping):
    status, _, text = raw_call(housekeeping, {
        'Action': 'DescribeLaunchTemplateVersions', 'Version': '2016-11-15',
        'LaunchTemplateName': 'devbox', 'LaunchTemplateVersion.1': '2'})
    assert status == 200, text
    for fragment in ('<launchTemplateVersionSet><item>',
                     f'<launchTemplateId>{LT_DEVBOX}</launchTemplateId>',
                     '<launchTemplateName>devbox</launchTemplateName>',
                     '<versionNumber>2</versionNumber>', '<defaultVersion>false</defaultVersion>',
                     f'<launchTemplateData><imageId>{A2}</imageId>'):
        assert fragment in text


@pytest.mark.parametrize('kwargs, code', [
    ({'LaunchTemplateId': LT_DEVBOX, 'LaunchTemplateName': 'devbox'}, 'InvalidParameterCombination'),
    ({'LaunchTemplateId': 'lt-0e000000000000001'}, 'InvalidLaunchTemplateId.NotFound'),
    ({'LaunchTemplateId': 'lt-123'}, 'InvalidLaunchTemplateId.Malformed'),
    ({'LaunchTemplateName': 'nope'}, 'InvalidLaunchTemplateName.NotFoundException'),
    ({'LaunchTemplateName': 'a b'}, 'InvalidLaunchTemplateName.MalformedException'),
    ({'LaunchTemplateId': LT_DEVBOX, 'Versions': ['7']}, 'InvalidLaunchTemplateId.VersionNotFound'),
    ({'LaunchTemplateId': LT_DEVBOX, 'Versions': ['latest']}, 'InvalidParameterValue'),
    ({'LaunchTemplateId': LT_DEVBOX, 'MinVersion': 'one'}, 'InvalidParameterValue'),
    ({}, 'MissingParameter'),
    ({'Versions': ['1']}, 'MissingParameter'),
    ({'Versions': ['$Latest'], 'MinVersion': '1'}, 'MissingParameter'),
    ({'Versions': ['$Latest'], 'MaxResults': 0}, 'InvalidParameterValue'),
    ({'Versions': ['$Latest'], 'MaxResults': 201}, 'InvalidParameterValue'),
    ({'LaunchTemplateId': LT_DEVBOX, 'Filters': [{'Name': 'tag:x', 'Values': ['y']}]},
     'InvalidParameterValue'),
])
def test_launch_template_version_errors(ec2, kwargs, code):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_template_versions(**kwargs)
    assert client_error(e) == (code, 400)


def test_launch_template_version_messages(ec2):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_template_versions(LaunchTemplateName='devbox', Versions=['7'])
    assert e.value.response['Error']['Message'] == (
        f'Could not find the specified version 7 for the launch template with ID {LT_DEVBOX}.')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_template_versions(LaunchTemplateName='nope')
    assert e.value.response['Error']['Message'] == (
        'The specified launch template, with template name nope, does not exist.')


def test_launch_template_versions_paginate(housekeeping, ec2):
    pages = list(ec2.get_paginator('describe_launch_template_versions').paginate(
        Versions=['$Latest', '$Default'], PaginationConfig={'PageSize': 3}))
    assert [len(p['LaunchTemplateVersions']) for p in pages] == [3, 1]
    assert [v for p in pages for v in versions_of(p)] == [
        (LT_DEVBOX, 3), (LT_DEVBOX, 1), (LT_RUNNER, 1), (LT_EMPTY, 2)]
    housekeeping.config(page_size=2)        # the server's page size applies without MaxResults
    first = ec2.describe_launch_template_versions(LaunchTemplateId=LT_DEVBOX)
    assert [n for _, n in versions_of(first)] == [3, 2]
    rest = ec2.describe_launch_template_versions(LaunchTemplateId=LT_DEVBOX,
                                                 NextToken=first['NextToken'])
    assert [n for _, n in versions_of(rest)] == [1] and 'NextToken' not in rest
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ec2.describe_launch_template_versions(LaunchTemplateName='devbox',
                                              NextToken=first['NextToken'])
    assert client_error(e) == ('InvalidParameterValue', 400)


# --------------------------------------------------------------------------
# DescribeLaunchTemplates
# --------------------------------------------------------------------------

def test_describe_launch_templates(ec2):
    out = ec2.describe_launch_templates()['LaunchTemplates']
    assert [(t['LaunchTemplateId'], t['LaunchTemplateName'], t['DefaultVersionNumber'],
             t['LatestVersionNumber']) for t in out] == [
        (LT_DEVBOX, 'devbox', 1, 3), (LT_RUNNER, 'runner', 1, 1), (LT_EMPTY, 'no-image', 2, 2)]
    named = ec2.describe_launch_templates(LaunchTemplateNames=['runner'])['LaunchTemplates']
    assert [t['LaunchTemplateId'] for t in named] == [LT_RUNNER]
    by_id = ec2.describe_launch_templates(LaunchTemplateIds=[LT_EMPTY, LT_DEVBOX])
    assert [t['LaunchTemplateName'] for t in by_id['LaunchTemplates']] == ['devbox', 'no-image']
    filtered = ec2.describe_launch_templates(
        Filters=[{'Name': 'launch-template-name', 'Values': ['*n*']}])
    assert [t['LaunchTemplateName'] for t in filtered['LaunchTemplates']] == ['runner', 'no-image']


def test_describe_launch_templates_errors_and_pages(housekeeping, ec2):
    for kwargs, code in [({'LaunchTemplateNames': ['runner', 'nope']},
                          'InvalidLaunchTemplateName.NotFoundException'),
                         ({'LaunchTemplateIds': ['lt-0e000000000000001']},
                          'InvalidLaunchTemplateId.NotFound')]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            ec2.describe_launch_templates(**kwargs)
        assert client_error(e) == (code, 400), kwargs
    # botocore checks the model's 1-200 itself; so does the emulator
    for bad in ('0', '201'):
        status, _, text = raw_call(housekeeping, {'Action': 'DescribeLaunchTemplates',
                                                  'Version': '2016-11-15', 'MaxResults': bad})
        assert (status, ec2_error(text)[0]) == (400, 'InvalidParameterValue')
    pages = list(ec2.get_paginator('describe_launch_templates').paginate(
        PaginationConfig={'PageSize': 2}))
    assert [[t['LaunchTemplateId'] for t in p['LaunchTemplates']] for p in pages] == [
        [LT_DEVBOX, LT_RUNNER], [LT_EMPTY]]
