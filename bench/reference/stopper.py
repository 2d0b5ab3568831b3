"""Stopper, the usual way: a Python Lambda with boto3.

Stops the running dev boxes every evening, except Auto Scaling group members
and boxes whose opt-out tag says true or names a date or time still to come
(an unreadable opt-out keeps the box running). The same rules and settings as
functions/stopper (README.md), written the way teams write these handlers.
"""

import datetime
import logging
import os

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

ASG_TAG = 'aws:autoscaling:groupName'
INSTANCE_FILTERS = os.environ.get('INSTANCE_FILTERS', 'tag:devcloud:role=devbox')
KEEP_RUNNING_TAG = os.environ.get('KEEP_RUNNING_TAG', 'devcloud:keep-running')
DRY_RUN = os.environ.get('DRY_RUN', 'false').lower() == 'true'
BATCH_SIZE = int(os.environ.get('STOP_BATCH_SIZE', '50'))

# boto3 1.26 does not read AWS_ENDPOINT_URL itself (1.28 does)
ec2 = boto3.client('ec2', endpoint_url=os.environ.get('AWS_ENDPOINT_URL'))


def parse_filters(text):
    filters = []
    for part in text.split(';'):
        if part.strip():
            name, _, values = part.partition('=')
            filters.append({'Name': name.strip(), 'Values': values.split(',')})
    return filters


def opted_out(value, now):
    """(keep, reason) for the opt-out tag's value."""
    if value is None:
        return False, None
    v = value.strip()
    if v.lower() in ('true', 'yes', '1'):
        return True, f'opted out ({KEEP_RUNNING_TAG}={value})'
    if v.lower() in ('false', 'no', '0'):
        return False, None
    try:
        if len(v) == 10:
            until = datetime.datetime.strptime(v, '%Y-%m-%d').replace(
                tzinfo=datetime.timezone.utc) + datetime.timedelta(days=1)
        else:
            until = datetime.datetime.fromisoformat(v.replace('Z', '+00:00'))
            if until.tzinfo is None:
                until = until.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return True, f'unreadable {KEEP_RUNNING_TAG} value {value!r}; kept running'
    if now < until:
        return True, f'opted out until {until.isoformat()}'
    return False, None


def stop(ids, dry_run):
    try:
        ec2.stop_instances(InstanceIds=ids, DryRun=dry_run)
        return ids, []
    except ClientError as e:
        code = e.response['Error']['Code']
        if code == 'DryRunOperation':
            return ids, []
        if len(ids) > 1 and (code == 'IncorrectInstanceState' or code.startswith('InvalidInstanceID')
                             or code in ('UnsupportedOperation', 'OperationNotPermitted')):
            stopped, failed = [], []
            for i in ids:
                s, f = stop([i], dry_run)
                stopped += s
                failed += f
            return stopped, failed
        return [], [{'id': i, 'error': f'{code}: {e.response["Error"].get("Message", "")}'}
                    for i in ids]


def lambda_handler(event, context):
    event = event or {}
    dry_run = DRY_RUN or bool(event.get('dry_run', False))
    filters = parse_filters(INSTANCE_FILTERS) + parse_filters(event.get('instance_filters', ''))
    filters.append({'Name': 'instance-state-name', 'Values': ['running', 'pending']})
    now = datetime.datetime.now(datetime.timezone.utc)

    to_stop, skipped = [], []
    paginator = ec2.get_paginator('describe_instances')
    for page in paginator.paginate(Filters=filters):
        for reservation in page['Reservations']:
            for instance in reservation['Instances']:
                iid = instance['InstanceId']
                tags = {t['Key']: t['Value'] for t in instance.get('Tags', [])}
                if ASG_TAG in tags:
                    skipped.append({'id': iid, 'reason': f"member of Auto Scaling group '{tags[ASG_TAG]}'"})
                    continue
                keep, reason = opted_out(tags.get(KEEP_RUNNING_TAG), now)
                if keep:
                    skipped.append({'id': iid, 'reason': reason})
                    continue
                to_stop.append(iid)

    stopped, failed = [], []
    for i in range(0, len(to_stop), BATCH_SIZE):
        s, f = stop(to_stop[i:i + BATCH_SIZE], dry_run)
        stopped += s
        failed += f
    for iid in stopped:
        logger.info('stopped %s', iid)
    logger.info('stopped %d, skipped %d, failed %d', len(stopped), len(skipped), len(failed))
    result = {'stopped': stopped, 'skipped': skipped, 'failed': failed, 'dry_run': dry_run}
    if failed:
        raise RuntimeError(f'instances not stopped: {[f["id"] for f in failed]}')
    return result
