"""Terminator, the usual way: a Python Lambda with boto3.

Terminates the nightly builders that have lived longer than their lifetime,
counting age from the primary network interface's attach time (else the
launch time); Auto Scaling group members are kept. The same rules and
settings as functions/terminator (README.md).
"""

import datetime
import logging
import os

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

ASG_TAG = 'aws:autoscaling:groupName'
BUILDER_FILTERS = os.environ.get('BUILDER_FILTERS', 'tag:devcloud:role=builder')
LIFETIME_HOURS = int(os.environ.get('BUILDER_LIFETIME_HOURS', '48'))
DRY_RUN = os.environ.get('DRY_RUN', 'false').lower() == 'true'
BATCH_SIZE = int(os.environ.get('TERMINATE_BATCH_SIZE', '50'))

# boto3 1.26 does not read AWS_ENDPOINT_URL itself (1.28 does)
ec2 = boto3.client('ec2', endpoint_url=os.environ.get('AWS_ENDPOINT_URL'))


def parse_filters(text):
    filters = []
    for part in text.split(';'):
        if part.strip():
            name, _, values = part.partition('=')
            filters.append({'Name': name.strip(), 'Values': values.split(',')})
    return filters


def started_at(instance):
    """The primary ENI's attach time (survives stop/start), else LaunchTime."""
    for eni in instance.get('NetworkInterfaces', []):
        attachment = eni.get('Attachment', {})
        if attachment.get('DeviceIndex') == 0 and attachment.get('AttachTime'):
            return attachment['AttachTime']
    return instance.get('LaunchTime')


def terminate(ids, dry_run):
    try:
        ec2.terminate_instances(InstanceIds=ids, DryRun=dry_run)
        return ids, []
    except ClientError as e:
        code = e.response['Error']['Code']
        if code == 'DryRunOperation':
            return ids, []
        if len(ids) > 1 and (code == 'IncorrectInstanceState' or code.startswith('InvalidInstanceID')
                             or code in ('UnsupportedOperation', 'OperationNotPermitted')):
            done, failed = [], []
            for i in ids:
                d, f = terminate([i], dry_run)
                done += d
                failed += f
            return done, failed
        return [], [{'id': i, 'error': f'{code}: {e.response["Error"].get("Message", "")}'}
                    for i in ids]


def lambda_handler(event, context):
    event = event or {}
    dry_run = DRY_RUN or bool(event.get('dry_run', False))
    lifetime = max(LIFETIME_HOURS, int(event.get('builder_lifetime_hours', LIFETIME_HOURS)))
    filters = parse_filters(BUILDER_FILTERS) + parse_filters(event.get('builder_filters', ''))
    if not any(f['Name'] == 'instance-state-name' for f in filters):
        filters.append({'Name': 'instance-state-name',
                        'Values': ['pending', 'running', 'stopping', 'stopped']})
    now = datetime.datetime.now(datetime.timezone.utc)

    to_terminate, kept = [], []
    paginator = ec2.get_paginator('describe_instances')
    for page in paginator.paginate(Filters=filters):
        for reservation in page['Reservations']:
            for instance in reservation['Instances']:
                iid = instance['InstanceId']
                tags = {t['Key']: t['Value'] for t in instance.get('Tags', [])}
                start = started_at(instance)
                age = None if start is None else max((now - start).total_seconds() / 3600, 0)
                if ASG_TAG in tags or age is None or age <= lifetime:
                    kept.append({'id': iid, 'age_hours': None if age is None else round(age, 1)})
                else:
                    to_terminate.append(iid)

    terminated, failed = [], []
    for i in range(0, len(to_terminate), BATCH_SIZE):
        d, f = terminate(to_terminate[i:i + BATCH_SIZE], dry_run)
        terminated += d
        failed += f
    for iid in terminated:
        logger.info('terminated %s', iid)
    logger.info('terminated %d, kept %d, failed %d', len(terminated), len(kept), len(failed))
    if failed:
        raise RuntimeError(f'instances not terminated: {[f["id"] for f in failed]}')
    return {'terminated': terminated, 'kept': kept, 'failed': failed, 'dry_run': dry_run}
