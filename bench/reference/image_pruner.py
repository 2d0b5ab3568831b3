"""Image pruner, the usual way: a Python Lambda with boto3.

Keeps the newest MAX_IMAGES_COUNT available dev-box AMIs (ties with the
oldest kept one are kept too) and deregisters the older ones that nothing
uses (instances, launch templates' $Default/$Latest, Auto Scaling groups'
launch templates and launch configurations, resolve:ssm: parameters), then
deletes their snapshots unless a remaining image uses them. Snapshots are
tagged before the deregistration and swept by the next run. The same rules
and settings as functions/image_pruner (README.md).
"""

import logging
import os

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

DEREGISTERED_TAG = 'devcloud:deregistered-image'
IMAGE_FILTERS = os.environ.get('IMAGE_FILTERS', 'tag:devcloud:role=devbox-image')
MAX_IMAGES_COUNT = int(os.environ.get('MAX_IMAGES_COUNT', '5'))
DRY_RUN = os.environ.get('DRY_RUN', 'false').lower() == 'true'

# boto3 1.26 does not read AWS_ENDPOINT_URL itself (1.28 does)
endpoint = os.environ.get('AWS_ENDPOINT_URL')
ec2 = boto3.client('ec2', endpoint_url=endpoint)
autoscaling = boto3.client('autoscaling', endpoint_url=endpoint)
ssm = boto3.client('ssm', endpoint_url=endpoint)


def parse_filters(text):
    filters = []
    for part in text.split(';'):
        if part.strip():
            name, _, values = part.partition('=')
            filters.append({'Name': name.strip(), 'Values': values.split(',')})
    return filters


def snapshots_of(image):
    return [m['Ebs']['SnapshotId'] for m in image.get('BlockDeviceMappings', [])
            if m.get('Ebs', {}).get('SnapshotId')]


def resolve(image_id):
    if image_id and image_id.startswith('resolve:ssm:'):
        return ssm.get_parameter(Name=image_id[len('resolve:ssm:'):])['Parameter']['Value']
    return image_id


def images_in_use():
    used = {}
    for page in ec2.get_paginator('describe_instances').paginate(Filters=[{
            'Name': 'instance-state-name',
            'Values': ['pending', 'running', 'shutting-down', 'stopping', 'stopped']}]):
        for r in page['Reservations']:
            for i in r['Instances']:
                used.setdefault(i['ImageId'], f"instance {i['InstanceId']}")
    for page in ec2.get_paginator('describe_launch_template_versions').paginate(
            Versions=['$Default', '$Latest']):
        for v in page['LaunchTemplateVersions']:
            image = resolve(v.get('LaunchTemplateData', {}).get('ImageId'))
            if image:
                used.setdefault(image, f"launch template {v['LaunchTemplateId']}")
    templates, configs = set(), set()
    for page in autoscaling.get_paginator('describe_auto_scaling_groups').paginate():
        for g in page['AutoScalingGroups']:
            specs = [g.get('LaunchTemplate')]
            policy = g.get('MixedInstancesPolicy', {}).get('LaunchTemplate', {})
            specs.append(policy.get('LaunchTemplateSpecification'))
            specs += [o.get('LaunchTemplateSpecification') for o in policy.get('Overrides', [])]
            for s in filter(None, specs):
                key = ('LaunchTemplateId', s['LaunchTemplateId']) if s.get('LaunchTemplateId') \
                    else ('LaunchTemplateName', s['LaunchTemplateName'])
                templates.add((key, s.get('Version') or '$Default'))
            if g.get('LaunchConfigurationName'):
                configs.add(g['LaunchConfigurationName'])
    for (key, version) in templates:
        resp = ec2.describe_launch_template_versions(**{key[0]: key[1]}, Versions=[version])
        for v in resp['LaunchTemplateVersions']:
            image = resolve(v.get('LaunchTemplateData', {}).get('ImageId'))
            if image:
                used.setdefault(image, f"Auto Scaling group template {key[1]}")
    if configs:
        for page in autoscaling.get_paginator('describe_launch_configurations').paginate(
                LaunchConfigurationNames=sorted(configs)):
            for c in page['LaunchConfigurations']:
                used.setdefault(c['ImageId'], f"launch configuration {c['LaunchConfigurationName']}")
    return used


def lambda_handler(event, context):
    event = event or {}
    dry_run = DRY_RUN or bool(event.get('dry_run', False))
    keep_count = max(MAX_IMAGES_COUNT, int(event.get('max_images_count', MAX_IMAGES_COUNT)))
    filters = parse_filters(IMAGE_FILTERS) + parse_filters(event.get('image_filters', ''))

    family = ec2.describe_images(Owners=['self'], Filters=filters,
                                 IncludeDeprecated=True)['Images']
    tagged = []
    for page in ec2.get_paginator('describe_snapshots').paginate(
            OwnerIds=['self'], Filters=[{'Name': 'tag-key', 'Values': [DEREGISTERED_TAG]}]):
        tagged += page['Snapshots']
    own = ec2.describe_images(Owners=['self'], IncludeDeprecated=True)['Images']
    used = images_in_use()

    available = sorted((i for i in family if i['State'] == 'available'),
                       key=lambda i: i['CreationDate'], reverse=True)
    to_delete, kept, in_use = [], [], []
    if len(available) > keep_count:
        oldest_kept = available[keep_count - 1]['CreationDate'][:19]
        for n, image in enumerate(available):
            if n < keep_count or image['CreationDate'][:19] == oldest_kept:
                kept.append(image['ImageId'])
            elif image['ImageId'] in used:
                in_use.append(image['ImageId'])
                logger.info('keeping %s: in use by %s', image['ImageId'], used[image['ImageId']])
            else:
                to_delete.append(image)
    else:
        kept = [i['ImageId'] for i in available]

    own_ids = {i['ImageId'] for i in own}
    swept, failed, deleted = [], [], []
    own_snapshots = {s for i in own for s in snapshots_of(i)}
    for snap in tagged:
        image_id = next(t['Value'] for t in snap.get('Tags', []) if t['Key'] == DEREGISTERED_TAG)
        if image_id in own_ids or snap['SnapshotId'] in own_snapshots:
            continue
        try:
            if not dry_run:
                ec2.delete_snapshot(SnapshotId=snap['SnapshotId'])
            swept.append({'snapshot': snap['SnapshotId'], 'image': image_id})
        except ClientError as e:
            if e.response['Error']['Code'] != 'InvalidSnapshot.NotFound':
                failed.append({'image': image_id, 'snapshot': snap['SnapshotId'],
                               'error': str(e)})

    deleting = {i['ImageId'] for i in to_delete}
    remaining_snapshots = {s for i in own if i['ImageId'] not in deleting for s in snapshots_of(i)}
    # every deregistration first: EC2 refuses to delete a snapshot that a
    # registered image (say the next one to go, sharing it) still uses
    deregistered = []
    for image in to_delete:
        image_id = image['ImageId']
        snaps = [s for s in snapshots_of(image) if s not in remaining_snapshots]
        try:
            if snaps:
                ec2.create_tags(Resources=snaps, DryRun=dry_run,
                                Tags=[{'Key': DEREGISTERED_TAG, 'Value': image_id}])
            ec2.deregister_image(ImageId=image_id, DryRun=dry_run)
        except ClientError as e:
            code = e.response['Error']['Code']
            if code not in ('DryRunOperation', 'InvalidAMIID.NotFound'):
                failed.append({'image': image_id, 'error': str(e)})
                continue
        deregistered.append((image_id, snaps))
    gone = set()
    for image_id, snaps in deregistered:
        done = []
        for snap in snaps:
            if snap in gone:     # shared with an image deleted before
                continue
            try:
                ec2.delete_snapshot(SnapshotId=snap, DryRun=dry_run)
                gone.add(snap)
                done.append(snap)
            except ClientError as e:
                code = e.response['Error']['Code']
                if code in ('DryRunOperation', 'InvalidSnapshot.NotFound'):
                    done.append(snap)
                else:
                    failed.append({'image': image_id, 'snapshot': snap, 'error': str(e)})
        deleted.append({'image': image_id, 'snapshots': done})
        logger.info('deleted %s with %s', image_id, done)
    logger.info('deleted %d, kept %d, in use %d, swept %d, failed %d',
                len(deleted), len(kept), len(in_use), len(swept), len(failed))
    if failed:
        raise RuntimeError(f'images not deleted: {[f["image"] for f in failed]}')
    return {'deleted': deleted, 'kept': kept, 'in_use': in_use, 'failed': failed,
            'swept': swept, 'dry_run': dry_run}
