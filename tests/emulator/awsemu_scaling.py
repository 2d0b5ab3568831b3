"""What awsemu.py needs to emulate the scaler's account: an Auto Scaling
group that behaves like one, Run Command and SSM's managed-instance list.

awsemu.py calls ``install(module)`` once it has defined its own actions;
this adds the actions below to its ``HANDLERS`` and extends its seed
normalisation and group output.  Everything stays as strict as the rest of
the emulator: requests are validated against botocore's models before a
handler runs, IAM ``denied_actions`` apply, and the refusals below carry
AWS's codes and messages.

Actions:
    autoscaling  SetDesiredCapacity, DetachInstances, SetInstanceHealth,
                 CreateOrUpdateTags (and the group's Tags and
                 NewInstancesProtectedFromScaleIn in DescribeAutoScalingGroups)
    ssm          SendCommand, ListCommandInvocations, DescribeInstanceInformation

The group's own behaviour, for a group seeded with ``"active": true`` (run
at every change and every describe; other groups stay as seeded, only
their numbers and members change):
  * fewer live members than desired: it launches EC2 instances, ``pending``
    with lifecycle ``Pending``, launched now, tagged ``aws:autoscaling:groupName``
    (and the group's tags that propagate), protected from scale-in when the
    group's ``new_instances_protected_from_scale_in`` says so.  Each becomes
    ``running``/``InService`` once ``launch_describes`` calls of
    DescribeAutoScalingGroups (or DescribeInstances, for the EC2 state) have
    returned it (0: at once);
  * more live members than desired: it terminates unprotected members only,
    newest first, never protected ones (the group then stays above desired,
    as AWS's does);
  * a member marked Unhealthy (SetInstanceHealth), or whose instance is no
    longer running (stopped, terminated), is terminated and replaced;
  * a terminated member shows ``Terminating`` at the next describe, then leaves.
DetachInstances takes InService members only (AWS: "You can detach an
instance only when it's in the InService state"), refuses an instance that
is not a member and a decrement below MinSize; the instance keeps running in
EC2, no longer a member, and loses its ``aws:autoscaling:groupName`` tag.

Run Command: SendCommand knows the document AWS-RunShellScript only
(parameters ``commands``, ``executionTimeout``, ``workingDirectory``).  An
instance that is unknown, not managed (no ``ssm`` seed) or not running is
refused (InvalidInstanceId); a managed one that is offline gets an
invocation that stays Pending.  An invocation is InProgress until
``command_ticks`` ticks have passed (a tick: a ListCommandInvocations or
DescribeInstances call), then ends as the instance's ``command`` says.  A
script that contains ``poweroff`` or ``shutdown`` moves the instance to
``stopping`` (``shutting-down`` when its ``shutdown_behavior`` is
``terminate``) once it has ended.  What was sent is in /_emu/calls (every
action's parameters are) and in the state's ``commands``.

Seed additions:
    instances[]: "ssm": null (not managed; the default) |
                 {"online": true, "command": "success" | "in_progress" |
                  "failed" | "timed_out", "command_ticks": 1},
                 "shutdown_behavior": "stop" | "terminate"
    auto_scaling_groups[]: "active": false,
                 "new_instances_protected_from_scale_in": false,
                 "launch_describes": 1, "launched_ssm": <an "ssm" seed for
                 the instances it launches; default {"online": true}>,
                 "untagged_on_launch": [] (tag keys not propagated),
                 instances[]: "describes_left": 0 (Pending until 0)
    commands: [] (what SendCommand recorded; re-POSTable)
"""

import datetime
import re
import secrets

M = None   # the awsemu module, set by install()

SSM_COMMANDS = ('success', 'in_progress', 'failed', 'timed_out')
SHUTDOWN_BEHAVIORS = ('stop', 'terminate')
DOCUMENT = 'AWS-RunShellScript'
DOCUMENT_PARAMETERS = ('commands', 'executionTimeout', 'workingDirectory')
MAX_DETACH = 20
MAX_TAGS_PER_CALL = 25
POWEROFF_RE = re.compile(r'\b(poweroff|shutdown)\b')
LIVE = ('Pending', 'Pending:Wait', 'Pending:Proceed', 'InService')
GONE_STATES = ('stopping', 'stopped', 'shutting-down', 'terminated')


# --------------------------------------------------------------------------
# Seed normalisation
# --------------------------------------------------------------------------

def _normalize_ssm(raw, what):
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f'{what}: ssm must be null or an object')
    ssm = dict(raw)
    M._seed_bool(ssm, 'online', True, what)
    M._seed_str(ssm, 'command', 'success', what)
    if ssm['command'] not in SSM_COMMANDS:
        raise ValueError(f'{what}: ssm.command must be one of {", ".join(SSM_COMMANDS)}')
    M._seed_int(ssm, 'command_ticks', 1, what)
    unknown = set(ssm) - {'online', 'command', 'command_ticks'}
    if unknown:
        raise ValueError(f'{what}: unknown ssm fields {sorted(unknown)}')
    return ssm


def _normalize_command(raw, index, instances):
    c = dict(raw)
    cid = c.get('id')
    if not isinstance(cid, str) or len(cid) != 36:
        raise ValueError(f'command #{index}: bad or missing id {cid!r}')
    what = f'command {cid}'
    M._seed_str(c, 'document', DOCUMENT, what)
    M._seed_str(c, 'comment', '', what)
    M._seed_time(c, 'requested', M._ts_iso(M.utcnow()), what)
    c.setdefault('parameters', {})
    c.setdefault('timeout_seconds', 3600)
    invocations = []
    for n, inv in enumerate(M._seed_records(c, 'invocations', what)):
        inv = dict(inv)
        if inv.get('instance_id') not in instances:
            raise ValueError(f'{what}: invocation #{n}: unknown instance')
        M._seed_str(inv, 'status', 'InProgress', what)
        M._seed_str(inv, 'status_details', inv['status'], what)
        M._seed_str(inv, 'outcome', 'success', what)
        M._seed_int(inv, 'ticks_left', 0, what)
        M._seed_bool(inv, 'poweroff', False, what)
        invocations.append(inv)
    c['invocations'] = invocations
    return c


def _extend_state(state):
    for inst in state['instances']:
        what = f'instance {inst["id"]}'
        inst['ssm'] = _normalize_ssm(inst.get('ssm'), what)
        M._seed_str(inst, 'shutdown_behavior', 'stop', what)
        if inst['shutdown_behavior'] not in SHUTDOWN_BEHAVIORS:
            raise ValueError(f'{what}: shutdown_behavior must be stop or terminate')
    for g in state['auto_scaling_groups']:
        what = f'auto scaling group {g["name"]!r}'
        M._seed_bool(g, 'active', False, what)
        M._seed_bool(g, 'new_instances_protected_from_scale_in', False, what)
        M._seed_int(g, 'launch_describes', 1, what)
        g['launched_ssm'] = _normalize_ssm(g.get('launched_ssm', {'online': True}), what)
        untagged = g.setdefault('untagged_on_launch', [])
        if not isinstance(untagged, list) or not all(isinstance(k, str) for k in untagged):
            raise ValueError(f'{what}: untagged_on_launch must be a list of tag keys')
        for m in g['instances']:
            M._seed_int(m, 'describes_left', 0, f'{what} instance {m["id"]}')
    ids = {i['id'] for i in state['instances']}
    state['commands'] = [_normalize_command(c, n, ids)
                         for n, c in enumerate(M._seed_records(state, 'commands'))]
    M._refuse_duplicates(state['commands'], 'id', 'command id')
    return state


# --------------------------------------------------------------------------
# The group's own behaviour
# --------------------------------------------------------------------------

def _group(emu, name):
    for g in emu.state['auto_scaling_groups']:
        if g['name'] == name:
            return g
    return None


def _group_not_found(name):
    return M.AwsError('ValidationError', f'AutoScalingGroup name not found - {name}')


def _ec2(emu, iid):
    return next((i for i in emu.state['instances'] if i['id'] == iid), None)


def _launch(emu, g):
    iid = 'i-' + secrets.token_hex(9)[:17]
    lc = next((c for c in emu.state['launch_configurations']
               if c['name'] == g['launch_configuration']), None)
    tags = {k: v for k, v in g['tags'].items() if k not in g['untagged_on_launch']}
    tags['aws:autoscaling:groupName'] = g['name']
    raw = {'id': iid, 'state': 'pending', 'tags': tags,
           'running_after_describes': g['launch_describes'],
           'launch_time': M.iso(M.utcnow()),
           'type': lc['instance_type'] if lc else 't3.micro',
           'az': g['availability_zones'][0]}
    if lc:
        raw['image_id'] = lc['image_id']
    inst = M.normalize_instance(raw, len(emu.state['instances']), emu.region)
    inst['ssm'] = g['launched_ssm'] and dict(g['launched_ssm'])
    inst['shutdown_behavior'] = 'stop'
    if g['launch_describes'] == 0:
        inst['state'] = 'running'
    emu.state['instances'].append(inst)
    policy = g['mixed_instances_policy']
    g['instances'].append({
        'id': iid,
        'lifecycle_state': 'InService' if g['launch_describes'] == 0 else 'Pending',
        'health_status': 'Healthy',
        'protected_from_scale_in': g['new_instances_protected_from_scale_in'],
        'instance_type': inst['type'], 'az': inst['az'],
        'launch_configuration': g['launch_configuration'],
        'launch_template': (dict(policy['launch_template']) if policy
                            else g['launch_template'] and dict(g['launch_template'])),
        'describes_left': g['launch_describes'],
    })


def _terminate_member(emu, m):
    m['lifecycle_state'] = 'Terminating'
    inst = _ec2(emu, m['id'])
    if inst and inst['state'] not in ('terminated', 'shutting-down'):
        inst['state'] = 'shutting-down'


def reconcile(emu, g):
    """Replace the unhealthy, then bring the live members to desired."""
    if not g['active']:
        return
    for m in g['instances']:
        if m['lifecycle_state'] not in LIVE:
            continue
        inst = _ec2(emu, m['id'])
        if m['health_status'] == 'Unhealthy' or inst is None or inst['state'] in GONE_STATES:
            m['health_status'] = 'Unhealthy'
            _terminate_member(emu, m)
    live = [m for m in g['instances'] if m['lifecycle_state'] in LIVE]
    for _ in range(g['desired_capacity'] - len(live)):
        _launch(emu, g)
    excess = len(live) - g['desired_capacity']
    if excess > 0:
        # newest first; a protected member is never the group's victim
        for m in reversed([m for m in live if not m['protected_from_scale_in']]):
            if excess == 0:
                break
            _terminate_member(emu, m)
            excess -= 1


def _tick_group(emu, g):
    if not g['active']:
        return
    g['instances'] = [m for m in g['instances'] if not m.get('leaving')]
    for m in g['instances']:
        if m['lifecycle_state'] == 'Terminating':
            m['leaving'] = True      # shown once more, then gone
        elif m['lifecycle_state'] == 'Pending':
            m['describes_left'] = max(m['describes_left'] - 1, 0)
            inst = _ec2(emu, m['id'])
            if m['describes_left'] == 0 and inst and inst['state'] in ('pending', 'running'):
                m['lifecycle_state'] = 'InService'
                inst['state'] = 'running'
    reconcile(emu, g)


def _wrap_describe_groups(original):
    def describe(emu, params, ctx):
        names = set(params.get('AutoScalingGroupNames') or [])
        for g in emu.state['auto_scaling_groups']:
            if not names or g['name'] in names:
                _tick_group(emu, g)
        return original(emu, params, ctx)
    return describe


def _wrap_group_output(original):
    def output(emu, g):
        out = original(emu, g)
        out['NewInstancesProtectedFromScaleIn'] = g['new_instances_protected_from_scale_in']
        for t in out['Tags']:
            t['PropagateAtLaunch'] = t['Key'] not in g['untagged_on_launch']
        # internal bookkeeping never leaves the emulator
        return out
    return output


def _empty(emu, params, ctx):
    return {}


def set_desired_capacity(emu, params, ctx):
    name = params['AutoScalingGroupName']
    desired = params['DesiredCapacity']
    g = _group(emu, name)
    if g is None:
        raise _group_not_found(name)
    if desired > g['max_size']:
        raise M.AwsError('ValidationError', f'New SetDesiredCapacity value {desired} is above '
                                            f'max value {g["max_size"]} for the AutoScalingGroup.')
    if desired < g['min_size']:
        raise M.AwsError('ValidationError', f'New SetDesiredCapacity value {desired} is below '
                                            f'min value {g["min_size"]} for the AutoScalingGroup.')
    g['desired_capacity'] = desired
    reconcile(emu, g)
    return {}


def detach_instances(emu, params, ctx):
    name = params['AutoScalingGroupName']
    ids = params.get('InstanceIds') or []
    decrement = params['ShouldDecrementDesiredCapacity']
    g = _group(emu, name)
    if g is None:
        raise _group_not_found(name)
    if len(ids) > MAX_DETACH:
        raise M._validation_error(f"Value '{ids}' at 'instanceIds' failed to satisfy constraint: "
                                  f'Member must have length less than or equal to {MAX_DETACH}')
    members = {m['id']: m for m in g['instances']}
    for iid in ids:
        m = members.get(iid)
        if m is None or m['lifecycle_state'] not in LIVE:
            raise M.AwsError('ValidationError',
                             f'The instance {iid} is not part of Auto Scaling group {name}.')
        if m['lifecycle_state'] != 'InService':
            raise M.AwsError('ValidationError',
                             f'The instance {iid} is not in InService or Standby.')
    if decrement and g['desired_capacity'] - len(set(ids)) < g['min_size']:
        raise M.AwsError('ValidationError',
                         f'Currently, desiredSize equals minSize ({g["min_size"]}). Detaching '
                         f'instance would decrease desiredSize below minSize.'
                         if g['desired_capacity'] == g['min_size'] else
                         f'Detaching {len(set(ids))} instances would decrease desiredSize '
                         f'({g["desired_capacity"]}) below minSize ({g["min_size"]}).')
    activities = []
    now = M.utcnow()
    for iid in dict.fromkeys(ids):
        g['instances'] = [m for m in g['instances'] if m['id'] != iid]
        inst = _ec2(emu, iid)
        if inst:
            inst['tags'].pop('aws:autoscaling:groupName', None)
        activities.append({
            'ActivityId': M._seed_uuid('detach', name, iid, str(now.timestamp())),
            'AutoScalingGroupName': name,
            'Description': f'Detaching EC2 instance: {iid}',
            'Cause': f'At {M.iso(now)} instance {iid} was detached in response to a user '
                     f'request' + (', shrinking the capacity from '
                                    f'{g["desired_capacity"]} to '
                                    f'{g["desired_capacity"] - 1}.' if decrement else '.'),
            'StartTime': M._ts_iso(now),
            'StatusCode': 'InProgress',
            'Progress': 50,
        })
        if decrement:
            g['desired_capacity'] -= 1
    reconcile(emu, g)
    return {'Activities': activities}


def set_instance_health(emu, params, ctx):
    iid, status = params['InstanceId'], params['HealthStatus']
    if status not in M.HEALTH_STATUSES:
        raise M.AwsError('ValidationError', f'Valid instance health states are: [Healthy, '
                                            f'Unhealthy]. The health state specified: {status}')
    for g in emu.state['auto_scaling_groups']:
        for m in g['instances']:
            if m['id'] == iid and m['lifecycle_state'] in LIVE:
                m['health_status'] = status
                reconcile(emu, g)
                return {}
    raise M.AwsError('ValidationError', f'Instance Id not found - No managed instance found '
                                        f'for instance ID: {iid}')


def create_or_update_tags(emu, params, ctx):
    tags = params['Tags']
    if len(tags) > MAX_TAGS_PER_CALL:
        raise M._validation_error(f"Value at 'tags' failed to satisfy constraint: Member must "
                                  f'have length less than or equal to {MAX_TAGS_PER_CALL}')
    changes = []
    for t in tags:
        if t.get('ResourceType', 'auto-scaling-group') != 'auto-scaling-group':
            raise M.AwsError('ValidationError', f'Invalid resource type: {t.get("ResourceType")}')
        name = t.get('ResourceId')
        g = _group(emu, name) if name else None
        if g is None:
            raise M.AwsError('ValidationError', f'AutoScalingGroup name not found - {name}')
        changes.append((g, t))
    for g, t in changes:
        g['tags'][t['Key']] = t.get('Value', '')
        if t.get('PropagateAtLaunch', False):
            g['untagged_on_launch'] = [k for k in g['untagged_on_launch'] if k != t['Key']]
        elif t['Key'] not in g['untagged_on_launch']:
            g['untagged_on_launch'].append(t['Key'])
    return {}


# --------------------------------------------------------------------------
# Run Command
# --------------------------------------------------------------------------

def _ssm_error(code, message=''):
    return M.AwsError(code, message)


def _finish(emu, inv):
    status, details = {'success': ('Success', 'Success'), 'failed': ('Failed', 'Failed'),
                       'timed_out': ('TimedOut', 'ExecutionTimedOut')}[inv['outcome']]
    inv['status'], inv['status_details'] = status, details
    inst = _ec2(emu, inv['instance_id'])
    if inv['poweroff'] and inst and inst['state'] in ('running', 'pending'):
        inst['state'] = 'shutting-down' if inst['shutdown_behavior'] == 'terminate' else 'stopping'


def tick_commands(emu):
    for c in emu.state['commands']:
        for inv in c['invocations']:
            if inv['status'] != 'InProgress' or inv['outcome'] == 'in_progress':
                continue
            if inv['ticks_left'] > 0:
                inv['ticks_left'] -= 1
                continue
            _finish(emu, inv)


def _online(inst):
    return bool(inst['ssm'] and inst['ssm']['online'] and inst['state'] == 'running')


def send_command(emu, params, ctx):
    document = params['DocumentName']
    if document != DOCUMENT:
        raise _ssm_error('InvalidDocument', f'Document with name {document} does not exist.')
    if params.get('Targets'):
        raise _ssm_error('InvalidParameters', 'The emulator sends commands to InstanceIds only.')
    ids = params.get('InstanceIds') or []
    if not ids:
        raise _ssm_error('InvalidParameters', 'InstanceIds or Targets must be specified.')
    if len(set(ids)) != len(ids):
        raise _ssm_error('DuplicateInstanceId', '')
    parameters = params.get('Parameters') or {}
    unknown = [k for k in parameters if k not in DOCUMENT_PARAMETERS]
    lines = parameters.get('commands')
    if unknown or not lines:
        raise _ssm_error('InvalidParameters', 'document AWS-RunShellScript takes commands, '
                                              'executionTimeout and workingDirectory; commands '
                                              'is required')
    timeout = parameters.get('executionTimeout')
    if timeout is not None and (len(timeout) != 1 or not re.fullmatch(r'[0-9]{1,6}', timeout[0])
                                or not 1 <= int(timeout[0]) <= 172800):
        raise _ssm_error('InvalidParameters', 'executionTimeout must be one whole number of '
                                              'seconds from 1 to 172800')
    bad = []
    for iid in ids:
        inst = _ec2(emu, iid)
        if (inst is None or inst['ssm'] is None or inst['state'] != 'running'
                or not M.INSTANCE_ID_RE.match(iid)):
            bad.append(iid)
    if bad:
        raise _ssm_error('InvalidInstanceId',
                         f'Instances [[{", ".join(bad)}]] not in a valid state for account '
                         f'{emu.state["account_id"]}')
    now = M.utcnow()
    script = '\n'.join(lines)
    command = {
        'id': str(M.uuid.uuid4()), 'document': document, 'comment': params.get('Comment', ''),
        'requested': M._ts_iso(now), 'parameters': parameters,
        'timeout_seconds': params.get('TimeoutSeconds', 3600),
        'invocations': [],
    }
    for iid in ids:
        inst = _ec2(emu, iid)
        online = _online(inst)
        command['invocations'].append({
            'instance_id': iid,
            'status': 'InProgress' if online else 'Pending',
            'status_details': 'InProgress' if online else 'Pending',
            'outcome': inst['ssm']['command'],
            'ticks_left': inst['ssm']['command_ticks'],
            'poweroff': bool(POWEROFF_RE.search(script)),
        })
    emu.state['commands'].append(command)
    expires = now + datetime.timedelta(seconds=command['timeout_seconds'])
    return {'Command': {
        'CommandId': command['id'], 'DocumentName': document, 'DocumentVersion': '$DEFAULT',
        'Comment': command['comment'], 'ExpiresAfter': M._ts_iso(expires),
        'Parameters': parameters, 'InstanceIds': list(ids), 'Targets': [],
        'RequestedDateTime': command['requested'], 'Status': 'Pending',
        'StatusDetails': 'Pending', 'OutputS3Region': emu.region, 'OutputS3BucketName': '',
        'OutputS3KeyPrefix': '', 'MaxConcurrency': '50', 'MaxErrors': '0',
        'TargetCount': len(ids), 'CompletedCount': 0, 'ErrorCount': 0,
        'DeliveryTimedOutCount': 0, 'ServiceRole': '',
        'NotificationConfig': {'NotificationArn': '', 'NotificationEvents': [],
                               'NotificationType': ''},
        'CloudWatchOutputConfig': {'CloudWatchLogGroupName': '',
                                   'CloudWatchOutputEnabled': False},
        'TimeoutSeconds': command['timeout_seconds'],
    }}


def list_command_invocations(emu, params, ctx):
    cid, iid = params.get('CommandId'), params.get('InstanceId')
    if params.get('Filters'):
        raise _ssm_error('InvalidFilterKey', 'The emulator does not filter invocations.')
    if cid is not None and not any(c['id'] == cid for c in emu.state['commands']):
        raise _ssm_error('InvalidCommandId', '')
    if iid is not None and not M.INSTANCE_ID_RE.match(iid):
        raise _ssm_error('InvalidInstanceId', '')
    tick_commands(emu)
    rows = [(c, inv) for c in emu.state['commands'] for inv in c['invocations']
            if (cid is None or c['id'] == cid) and (iid is None or inv['instance_id'] == iid)]
    fingerprint = M.json.dumps(['ListCommandInvocations', cid, iid])
    token = params.get('NextToken')
    page, next_token = emu.page(rows, fingerprint, token, [params.get('MaxResults') or 50],
                                error=_ssm_error('InvalidNextToken', ''))
    return {'CommandInvocations': [{
        'CommandId': c['id'], 'InstanceId': inv['instance_id'], 'InstanceName': '',
        'Comment': c['comment'], 'DocumentName': c['document'], 'DocumentVersion': '$DEFAULT',
        'RequestedDateTime': c['requested'], 'Status': inv['status'],
        'StatusDetails': inv['status_details'], 'StandardOutputUrl': '',
        'StandardErrorUrl': '', 'CommandPlugins': [], 'ServiceRole': '',
        'NotificationConfig': {'NotificationArn': '', 'NotificationEvents': [],
                               'NotificationType': ''},
        'CloudWatchOutputConfig': {'CloudWatchLogGroupName': '',
                                   'CloudWatchOutputEnabled': False},
    } for c, inv in page], 'NextToken': next_token}


def describe_instance_information(emu, params, ctx):
    if params.get('InstanceInformationFilterList') and params.get('Filters'):
        raise _ssm_error('InvalidFilterKey', 'InstanceInformationFilterList and Filters cannot '
                                             'be used together.')
    filters = [(f['Key'], f['Values']) for f in params.get('Filters') or []]
    filters += [(f['key'], f['valueSet']) for f in params.get('InstanceInformationFilterList') or []]
    wanted = {}
    for key, values in filters:
        if key not in ('InstanceIds', 'PingStatus'):
            raise _ssm_error('InvalidFilterKey', f'The emulator filters by InstanceIds and '
                                                 f'PingStatus only, not {key}.')
        if key == 'InstanceIds' and not all(M.INSTANCE_ID_RE.match(v) for v in values):
            raise _ssm_error('InvalidInstanceInformationFilterValue', f'{values} is not a valid '
                                                                     f'instance id list.')
        wanted.setdefault(key, set()).update(values)
    rows = []
    for inst in emu.state['instances']:
        if inst['ssm'] is None or inst['state'] == 'terminated':
            continue
        ping = 'Online' if _online(inst) else 'ConnectionLost'
        if 'InstanceIds' in wanted and inst['id'] not in wanted['InstanceIds']:
            continue
        if 'PingStatus' in wanted and ping not in wanted['PingStatus']:
            continue
        rows.append((inst, ping))
    fingerprint = M.json.dumps(['DescribeInstanceInformation', sorted(map(str, filters))])
    token = params.get('NextToken')
    page, next_token = emu.page(rows, fingerprint, token, [params.get('MaxResults') or 50],
                                error=_ssm_error('InvalidNextToken', ''))
    return {'InstanceInformationList': [{
        'InstanceId': inst['id'], 'PingStatus': ping,
        'LastPingDateTime': M._ts_iso(M.utcnow()), 'AgentVersion': '3.3.987.0',
        'IsLatestVersion': False, 'PlatformType': 'Linux', 'PlatformName': 'Amazon Linux',
        'PlatformVersion': '2023', 'ResourceType': 'EC2Instance',
        'IPAddress': inst['private_ip'],
        'ComputerName': f'ip-{(inst["private_ip"] or "0.0.0.0").replace(".", "-")}.'
                        f'{emu.region}.compute.internal',
    } for inst, ping in page], 'NextToken': next_token}


def _wrap_describe_instances(original):
    def describe(emu, params, ctx):
        tick_commands(emu)
        return original(emu, params, ctx)
    return describe


# --------------------------------------------------------------------------
# Installation
# --------------------------------------------------------------------------

def install(module):
    """Adds the actions above to awsemu (``module``: awsemu itself)."""
    global M
    if M is module:
        return
    M = module
    original_normalize = module.normalize_state
    module.normalize_state = lambda raw: _extend_state(original_normalize(raw))
    module._asg_output = _wrap_group_output(module._asg_output)
    handlers = module.HANDLERS
    handlers[('autoscaling', 'DescribeAutoScalingGroups')] = _wrap_describe_groups(
        handlers[('autoscaling', 'DescribeAutoScalingGroups')])
    handlers[('ec2', 'DescribeInstances')] = _wrap_describe_instances(
        handlers[('ec2', 'DescribeInstances')])
    module.action('autoscaling', 'SetDesiredCapacity')(set_desired_capacity)
    module.action('autoscaling', 'DetachInstances')(detach_instances)
    module.action('autoscaling', 'SetInstanceHealth')(set_instance_health)
    module.action('autoscaling', 'CreateOrUpdateTags')(create_or_update_tags)
    module.action('ssm', 'SendCommand')(send_command)
    module.action('ssm', 'ListCommandInvocations')(list_command_invocations)
    module.action('ssm', 'DescribeInstanceInformation')(describe_instance_information)
