"""pytest fixtures for the emulators (importable harness lives next to this)."""

import copy
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import HOUSEKEEPING_STATE, AwsEmu  # noqa: E402

# A small account: one devbox per state of interest.
SEED_STATE = {
    'region': 'eu-west-1',
    'credentials': {'AKIDEMULATOR': 'emulator-secret-key'},
    'instances': [
        {'id': 'i-0a1b2c3d4e5f00001', 'state': 'running',
         'tags': {'devcloud:role': 'devbox', 'Name': 'alice'},
         'launch_time': '2026-11-26T08:00:00Z', 'attach_time': '2026-11-20T08:00:00Z',
         'hibernation': True, 'type': 't3.large', 'image_id': 'ami-0aaaaaaaaaaaaaaa1',
         'private_ip': '10.0.0.5', 'public_ip': '203.0.113.5'},
        {'id': 'i-0a1b2c3d4e5f00002', 'state': 'running',
         'tags': {'devcloud:role': 'devbox', 'Name': 'bob'},
         'type': 't3.medium', 'image_id': 'ami-0aaaaaaaaaaaaaaa1'},
        {'id': 'i-0a1b2c3d4e5f00003', 'state': 'pending', 'running_after_describes': 2,
         'tags': {'devcloud:role': 'devbox', 'Name': 'carol'}},
        {'id': 'i-0a1b2c3d4e5f00004', 'state': 'stopped',
         'tags': {'devcloud:role': 'devbox', 'Name': 'dave'}},
        {'id': 'i-0a1b2c3d4e5f00005', 'state': 'running',
         'tags': {'devcloud:role': 'runner'}, 'disable_api_termination': True},
        {'id': 'i-0a1b2c3d4e5f00006', 'state': 'terminated', 'tags': {}},
    ],
}


@pytest.fixture(scope='session')
def awsemu_server():
    """One emulator process for the whole session (reset per test by ``awsemu``)."""
    with AwsEmu() as emu:
        yield emu


@pytest.fixture
def awsemu(awsemu_server):
    """The shared emulator, reset to SEED_STATE with no calls, faults or paging."""
    emu = awsemu_server
    emu.set_state(copy.deepcopy(SEED_STATE))
    emu.clear_calls()
    emu.clear_faults()
    emu.config(page_size=None)
    return emu


@pytest.fixture
def ec2(awsemu):
    """A real botocore EC2 client on the emulator, retries off."""
    return awsemu.client('ec2')


@pytest.fixture
def housekeeping(awsemu):
    """The shared emulator reset to HOUSEKEEPING_STATE."""
    awsemu.set_state(copy.deepcopy(HOUSEKEEPING_STATE))
    return awsemu
