"""awsemu.py's seed schema for images, snapshots, launch templates, launch
configurations, Auto Scaling groups and parameters: defaults, round trip,
and clear refusals of bad seeds."""

import copy
import urllib.error

import pytest

from harness import A1, A2, HOUSEKEEPING_STATE, LT_DEVBOX, OTHER_ACCOUNT, PUBLIC_AMI


def seed_with(**overrides):
    state = copy.deepcopy(HOUSEKEEPING_STATE)
    state.update(overrides)
    return state


def test_round_trip(housekeeping):
    state = housekeeping.state()
    housekeeping.set_state(state)
    assert housekeeping.state() == state


def test_defaults(housekeeping):
    housekeeping.set_state({
        'images': [{'id': 'ami-12345678'}],
        'launch_templates': [{'id': 'lt-0123456789abcdef0'}],
        'launch_configurations': [{'name': 'lc'}],
        'auto_scaling_groups': [{'name': 'g', 'launch_template': {'id': 'lt-0123456789abcdef0'}}],
        'parameters': [{'name': 'plain', 'value': 'v'}]})
    state = housekeeping.state()
    img = state['images'][0]
    assert (img['name'], img['state'], img['owner_id'], img['snapshots']) == (
        'ami-12345678', 'available', '123456789012', ['snap-12345678'])
    assert (img['deprecated'], img['disabled'], img['public']) == (False, False, False)
    assert img['creation_date'].endswith('Z') and len(img['creation_date']) == 24
    assert state['snapshots'] == [{'id': 'snap-12345678', 'owner_id': '123456789012',
                                   'volume_size': 8, 'tags': {}, 'start_time': None}]
    lt = state['launch_templates'][0]
    assert (lt['name'], lt['default_version']) == ('lt-0123456789abcdef0', 1)
    assert [(v['number'], v['image_id']) for v in lt['versions']] == [(1, None)]
    group = state['auto_scaling_groups'][0]
    assert group['launch_template'] == {'id': 'lt-0123456789abcdef0',
                                        'name': 'lt-0123456789abcdef0', 'version': '$Default'}
    assert (group['min_size'], group['desired_capacity'], group['max_size']) == (0, 0, 1)
    param = state['parameters'][0]
    assert (param['type'], param['version'], param['data_type']) == ('String', 1, 'text')
    assert param['arn'] == 'arn:aws:ssm:eu-west-1:123456789012:parameter/plain'


def test_an_images_snapshots_are_added_as_its_owners(housekeeping):
    snapshots = {s['id']: s for s in housekeeping.state()['snapshots']}
    assert snapshots['snap-0f000000000000001']['owner_id'] == OTHER_ACCOUNT   # PUBLIC_AMI's
    assert snapshots['snap-0a000000000000001']['owner_id'] == '123456789012'
    assert snapshots['snap-0b000000000000002']['volume_size'] == 30            # seeded size kept
    assert housekeeping.image(PUBLIC_AMI)['snapshots'] == ['snap-0f000000000000001']


BAD_SEEDS = [
    ({'account_id': '1234'}, 'account_id must be 12 digits'),
    ({'images': [{'id': 'ami-1'}]}, "image #0: bad or missing id 'ami-1'"),
    ({'images': [{'id': 'ami-0a0000000000000001'}]}, 'bad or missing id'),   # 18 hex digits
    ({'images': [{'id': 'ami-0A000000000000001'}]}, 'bad or missing id'),    # upper case
    ({'images': [{'id': A1}, {'id': A1}]}, f"duplicate image id '{A1}'"),
    ({'images': [{'id': A1, 'state': 'gone'}]}, "unknown state 'gone'"),
    ({'images': [{'id': A1, 'state': 'pending', 'disabled': True}]}, 'cannot be pending'),
    ({'images': [{'id': A1, 'owner_id': 'amazon'}]}, 'owner_id must be 12 digits'),
    ({'images': [{'id': A1, 'snapshots': 'snap-0a000000000000001'}]}, 'list of snapshot ids'),
    ({'images': [{'id': A1, 'snapshots': ['snap-1']}]}, 'list of snapshot ids'),
    ({'images': [{'id': A1, 'creation_date': 'yesterday'}]}, 'creation_date is not an ISO 8601'),
    ({'images': [{'id': A1, 'tags': {'k': 1}}]}, 'tags must be an object of strings'),
    ({'images': [{'id': A1, 'deprecated': 'yes'}]}, 'deprecated must be true or false'),
    ({'images': {'id': A1}}, 'images must be a list of objects'),
    ({'snapshots': [{'id': 'snap-0a000000000000001', 'volume_size': 0}]}, 'volume_size'),
    ({'snapshots': [{'id': 'snap-0a000000000000001'}, {'id': 'snap-0a000000000000001'}]},
     'duplicate snapshot id'),
    ({'launch_templates': [{'id': 'lt-0a0000000000000001'}]}, 'bad or missing id'),
    ({'launch_templates': [{'id': LT_DEVBOX, 'name': 'x'}]}, "name 'x' is not 3-128"),
    ({'launch_templates': [{'id': LT_DEVBOX, 'default_version': 2}]},
     'default_version 2 is not one of its versions [1]'),
    ({'launch_templates': [{'id': LT_DEVBOX, 'versions': []}]}, 'versions must be a non-empty list'),
    ({'launch_templates': [{'id': LT_DEVBOX, 'versions': [{'number': 1}, {'number': 1}]}]},
     'duplicate launch template lt-0a000000000000001 version 1'),
    ({'launch_templates': [{'id': LT_DEVBOX, 'versions': [{'number': 1, 'image_id': 'ubuntu'}]}]},
     'image_id must be an AMI id'),
    ({'launch_templates': [{'id': LT_DEVBOX, 'name': 'same'},
                           {'id': 'lt-0a000000000000002', 'name': 'same'}]},
     "duplicate launch template name 'same'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_configuration': 'gone'}]},
     "unknown launch configuration 'gone'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'id': 'lt-0e000000000000001'}}]},
     "unknown launch template 'lt-0e000000000000001'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'name': 'gone'}}]},
     "unknown launch template 'gone'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'id': LT_DEVBOX, 'name': 'runner'}}]},
     'is not named'),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'name': 'devbox', 'version': '9'}}]},
     "has no version '9'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'name': 'devbox',
                                                                'version': 'latest'}}]},
     "has no version 'latest'"),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_template': {'name': 'devbox'},
                               'launch_configuration': 'old-agents'}]},
     'needs exactly one of'),
    ({'auto_scaling_groups': [{'name': 'g'}]}, 'needs exactly one of'),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_configuration': 'old-agents',
                               'min_size': 2, 'desired_capacity': 1}]},
     'min_size <= desired_capacity <= max_size'),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_configuration': 'old-agents',
                               'instances': [{'id': 'i-0d000000000000001',
                                              'lifecycle_state': 'Running'}]}]},
     "unknown lifecycle_state 'Running'"),
    ({'auto_scaling_groups': [{'name': 'g', 'mixed_instances_policy': {
        'overrides': [{'instance_type': 't3.large'}]}}]},
     'mixed_instances_policy needs a launch_template'),
    ({'auto_scaling_groups': [{'name': 'g', 'launch_configuration': 'old-agents'},
                              {'name': 'g', 'launch_configuration': 'old-agents'}]},
     "duplicate auto scaling group 'g'"),
    ({'auto_scaling_groups': [
        {'name': 'a', 'launch_configuration': 'old-agents', 'instances': [{'id': 'i-0d000000000000001'}]},
        {'name': 'b', 'launch_configuration': 'old-agents', 'instances': [{'id': 'i-0d000000000000001'}]}]},
     "duplicate auto scaling group member 'i-0d000000000000001'"),
    ({'parameters': [{'name': '/devcloud/x'}]}, 'value must be a non-empty string'),
    ({'parameters': [{'name': '/devcloud/x', 'value': 'v', 'type': 'Secret'}]},
     'type must be one of String, StringList, SecureString'),
    ({'parameters': [{'name': 'devcloud/x', 'value': 'v'}]}, 'must begin with "/"'),
    ({'parameters': [{'name': '/aws/x', 'value': 'v'}]}, 'reserved'),
    ({'parameters': [{'name': '/devcloud/x y', 'value': 'v'}]}, 'bad or missing name'),
    ({'parameters': [{'name': '/p', 'value': 'a'}, {'name': '/p', 'value': 'b'}]},
     "duplicate parameter '/p'"),
]


@pytest.mark.parametrize('overrides, reason', BAD_SEEDS)
def test_bad_seed_is_refused_with_its_reason(housekeeping, overrides, reason):
    before = housekeeping.state()
    with pytest.raises(urllib.error.HTTPError) as e:
        housekeeping.set_state(seed_with(**overrides))
    assert e.value.code == 400
    assert reason in str(e.value.reason)
    assert housekeeping.state() == before          # nothing of it was taken


def test_a_refused_parameter_does_not_quote_its_value(housekeeping):
    secret = 'xoxb-not-to-be-repeated'
    for bad in ({'name': '/devcloud/x', 'value': secret, 'type': 'Secret'},
                {'name': '/devcloud/x', 'value': secret, 'version': 0},
                {'name': '/devcloud/x', 'value': secret, 'data_type': 'blob'}):
        with pytest.raises(urllib.error.HTTPError) as e:
            housekeeping.set_state({'parameters': [bad]})
        assert '/devcloud/x' in str(e.value.reason) and secret not in str(e.value.reason)


def test_seed_accepts_each_way_of_naming_a_template(housekeeping):
    refs = [{'id': LT_DEVBOX}, {'name': 'devbox'}, {'id': LT_DEVBOX, 'name': 'devbox'},
            {'name': 'devbox', 'version': 3}, {'name': 'devbox', 'version': '$Latest'}]
    groups = [{'name': f'g{n}', 'launch_template': ref} for n, ref in enumerate(refs)]
    housekeeping.set_state(seed_with(auto_scaling_groups=groups))
    assert [g['launch_template'] for g in housekeeping.state()['auto_scaling_groups']] == [
        {'id': LT_DEVBOX, 'name': 'devbox', 'version': v}
        for v in ('$Default', '$Default', '$Default', '3', '$Latest')]


def test_images_may_name_seeded_snapshots_or_none(housekeeping):
    housekeeping.set_state({'snapshots': [{'id': 'snap-0a000000000000009', 'volume_size': 50}],
                            'images': [{'id': A1, 'snapshots': ['snap-0a000000000000009']},
                                       {'id': A2, 'snapshots': []}]})
    assert housekeeping.snapshot_ids() == ['snap-0a000000000000009']
    assert housekeeping.image(A2)['snapshots'] == []
