#!/usr/bin/python3
"""A strict local AWS emulator: the EC2, Auto Scaling and SSM calls our functions make.

One HTTP(S) port serves every service; the service is read from the SigV4
credential scope of the ``Authorization`` header.  The point of this emulator
is to refuse whatever real AWS would refuse, so that the C client cannot get
away with a malformed request:

* the wire protocol of each service is taken from botocore's own models
  (``ec2`` form encoding, ``query`` form encoding, JSON 1.1); the action must
  exist, ``Version`` must match, every parameter must be known to the input
  shape, be of the right type and required members must be present (Auto
  Scaling and SSM also check string lengths, as their services do);
* every request's SigV4 signature is recomputed with botocore's signer, the
  clock skew, credential scope and payload hash are checked;
* responses are serialised from the model's output shapes, so a real botocore
  client (and therefore the C client's parser) sees AWS-shaped documents.

Debian's botocore (1.29) predates a few members the current EC2 API has
(DescribeImages' MaxResults, NextToken and IncludeDisabled); MODEL_OVERLAYS
adds exactly those when the models load, everything else stays as botocore
has it.  The test harness loads its clients through the same overlay.

Actions answered (everything else in the models: EmulatorNotImplemented, 501):
    ec2          DescribeInstances, StopInstances, StartInstances,
                 TerminateInstances, DescribeImages, DeregisterImage,
                 DescribeSnapshots, DeleteSnapshot, CreateTags, DeleteTags (instances,
                 images, snapshots), DescribeLaunchTemplates,
                 DescribeLaunchTemplateVersions
    autoscaling  DescribeAutoScalingGroups, DescribeLaunchConfigurations,
                 SetDesiredCapacity, DetachInstances, SetInstanceHealth,
                 CreateOrUpdateTags
    ssm          GetParameter, SendCommand, ListCommandInvocations,
                 DescribeInstanceInformation
(the Auto Scaling changes, Run Command and the seed fields they use are
described in awsemu_scaling.py)
List calls page with NextToken: DescribeImages and DescribeSnapshots only when
MaxResults is given,
the others also at the server's page size (--page-size, /_emu/config) and the
Auto Scaling ones at AWS's default of 50 records.  A token is only good for
the query that produced it.

Run with Debian's python (it has botocore):
    /usr/bin/python3 tests/emulator/awsemu.py [--host 127.0.0.1] [--port 0]
        [--port-file FILE] [--state seed.json] [--page-size N]
        [--tls-cert CERT --tls-key KEY] [--region eu-west-1] [--log FILE]
The port file is written (atomically) once the socket listens.

Control API (plain JSON, no signature):
    GET  /_emu/health           {"ok": true, "region": ...}
    GET  /_emu/state            the normalised state (re-POSTable; shows what
                                  was deregistered, deleted, stopped...)
    POST /_emu/state            replace the state (400 if invalid)
    GET  /_emu/calls            [{service, action, params, raw, status,
                                  error_code, error_message, fault, detail,
                                  request_id, time, connection}]
    POST /_emu/calls/clear
    GET  /_emu/faults           pending fault rules
    POST /_emu/faults           replace the rules: [{"action": "Op" | "*",
                                  "service": optional, "kind": "throttle" |
                                  "error500" | "slow" | "reset" | "truncate" |
                                  "malformed" | "lost_reset" | "lost_500" |
                                  "lost_timeout", "count": N, "delay_s": S}]
    POST /_emu/config           {"page_size": N | null}
    POST /_emu/shutdown
Faults fire once the call is identified, before authentication.  Two classes:

* failing before acting: ``throttle`` (a throttling error), ``error500`` (a 500
  before the action runs), ``reset`` (the connection is reset) and
  ``malformed`` (a garbled 200) never run the action;
* acting and losing the answer ("lost answer", for any action, listing or
  destructive): the action runs and takes effect (the call log records its
  real status, and ``fault`` names the kind), then the client gets
  ``truncate`` (half the body, then the connection closes), ``lost_reset``
  (a connection reset), ``lost_500`` (a 500 InternalError, as when a service
  commits and then fails) or ``lost_timeout`` (nothing: the answer is
  withheld for ``delay_s``, default 60 s, longer than a client waits, then
  the connection is reset).

``slow`` delays for ``delay_s``, then runs the action and answers normally.

Seed state (every field but the id optional; a bad seed is a ValueError,
answered 400 by POST /_emu/state):
    {"region": "eu-west-1", "account_id": "123456789012",
     "denied_actions": ["ec2:StopInstances"],   (IAM: answered UnauthorizedOperation,
                                                 AccessDenied or AccessDeniedException;
                                                 "kms:Decrypt" refuses reading a
                                                 SecureString WithDecryption)
     "credentials": {"AKID": "secret" | {"secret": "...", "session_token": "..."}},
     "instances": [{"id": "i-...", "state": "running", "tags": {"k": "v"},
        "launch_time": ISO8601, "attach_time": ISO8601, "hibernation": false,
        "type": "t3.micro", "image_id": "ami-...", "private_ip": "10.0.0.4",
        "public_ip": null, "running_after_describes": null,
        "disable_api_termination": false, "az": "<region>a", "subnet_id": ...,
        "vpc_id": ..., "reservation_id": "r-...", "eni_id": "eni-...",
        "key_name": null, "architecture": "x86_64",
        "describes_seen": 0, "hibernated": false}],
     "images": [{"id": "ami-" + 8 or 17 hex, "name": <id>,
        "state": "available",     (pending | available | invalid | deregistered |
                                   transient | failed | error | disabled)
        "creation_date": "2026-11-20T03:00:00.000Z" (default: now; answered as given),
        "owner_id": <account_id>, "owner_alias": null ("amazon", ...),
        "tags": {"k": "v"}, "snapshots": ["snap-" + the image's hex],
        "deprecated": false, "deprecation_time": <creation_date if deprecated>,
        "disabled": false (state "disabled" says the same), "public": false,
        "description": "", "architecture": "x86_64"}],
     "snapshots": [{"id": "snap-" + 8 or 17 hex, "volume_size": 8, "tags": {},
        "owner_id": <account_id>, "start_time": null (answered as 2026-01-01)}]
        (every snapshot an image names is added if missing, owned by the
         image's owner; deregistering an image leaves its snapshots, as AWS does)
     "launch_templates": [{"id": "lt-" + 17 hex, "name": <id>,
        "default_version": <the lowest version number>,
        "create_time": now, "created_by": "arn:aws:iam::<account>:root", "tags": {},
        "versions": [{"number": 1, "image_id": "ami-..." | null | "resolve:ssm:/name",
                      "instance_type": null, "description": null,
                      "create_time": <template's>}]}]     ($Latest = the highest number)
     "launch_configurations": [{"name": "old-agents", "image_id": "ami-...",
        "instance_type": "t3.micro", "created_time": now}],
     "auto_scaling_groups": [{"name": "drone-agents", "min_size": 0, "max_size": 10,
        "desired_capacity": 2, "tags": {}, "availability_zones": ["<region>a"],
        "health_check_type": "EC2", "default_cooldown": 300, "created_time": now,
        exactly one of
          "launch_configuration": "old-agents",     (must exist)
          "launch_template": {"id": "lt-..."} or {"name": "devbox"} (must exist),
                             plus "version": "$Default" | "$Latest" | "3"
                             (default "$Default"; a number must exist),
          "mixed_instances_policy": {"launch_template": {...as above...},
              "overrides": [{"instance_type": "t3.large", "launch_template": {...}}]},
        "instances": [{"id": "i-...", "lifecycle_state": "InService",
            "health_status": "Healthy", "protected_from_scale_in": false,
            "instance_type": <the EC2 instance's or t3.micro>, "az": ...,
            "launch_template": {...} | "launch_configuration": "..." (default:
            the group's)}]}],
     "parameters": [{"name": "/devcloud/slack-webhook", "value": "..." (required;
        a list for a StringList is joined with commas),
        "type": "String" | "StringList" | "SecureString", "version": 1,
        "last_modified_date": now, "data_type": "text" | "aws:ec2:image"}]}
A pending instance turns running once it has been returned by
``running_after_describes`` DescribeInstances calls (null: stays pending);
stopping/shutting-down settle to stopped/terminated at the next describe.

Images: DescribeImages returns the account's own images, public ones, and
another account's only when Owners names it ("self" is the account).
Deprecated and disabled images are returned only with IncludeDeprecated /
IncludeDisabled (real AWS also shows owners their own deprecated images;
here a client must ask, so that what it gets does not depend on who owns
what).  DeleteSnapshot refuses a snapshot any registered image still names.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.server
import io
import json
import re
import secrets
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import uuid
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape as xml_escape

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.loaders
import botocore.model

from serving import serve_until_stopped, write_port_file

DEFAULT_REGION = 'eu-west-1'
DEFAULT_ACCOUNT = '123456789012'
DEFAULT_CREDENTIALS = {'AKIDEMULATOR': 'emulator-secret-key'}
MAX_CLOCK_SKEW_S = 15 * 60
MAX_BODY_BYTES = 16 * 1024 * 1024
SIGV4_TIME_FORMAT = '%Y%m%dT%H%M%SZ'
EC2_XMLNS = 'http://ec2.amazonaws.com/doc/2016-11-15/'

# Services served, by SigV4 signing name.
SERVICE_NAMES = ('ec2', 'autoscaling', 'ssm')


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

# Error codes per protocol for the conditions the front end detects itself.
# kind -> (code, HTTP status).  Action handlers raise AwsError with explicit
# codes instead.
PROTOCOL_ERRORS = {
    'ec2': {
        'missing_action': ('MissingAction', 400),
        'unknown_action': ('InvalidAction', 400),
        'bad_version': ('NoSuchVersion', 400),
        'unknown_param': ('UnknownParameter', 400),
        'missing_param': ('MissingParameter', 400),
        'invalid_value': ('InvalidParameterValue', 400),
        'invalid_type': ('InvalidParameterValue', 400),
        'missing_auth': ('MissingAuthenticationToken', 401),
        'unknown_key': ('AuthFailure', 401),
        'bad_signature': ('AuthFailure', 401),
        'expired': ('RequestExpired', 400),
        'throttle': ('RequestLimitExceeded', 503),
        'denied': ('UnauthorizedOperation', 403),
        'internal': ('InternalError', 500),
        'not_implemented': ('EmulatorNotImplemented', 501),
    },
    'query': {
        'missing_action': ('MissingAction', 400),
        'unknown_action': ('InvalidAction', 400),
        'bad_version': ('NoSuchVersion', 400),
        'unknown_param': ('UnknownParameter', 400),
        'missing_param': ('ValidationError', 400),
        'invalid_value': ('ValidationError', 400),
        'invalid_type': ('ValidationError', 400),
        'missing_auth': ('MissingAuthenticationToken', 403),
        'unknown_key': ('InvalidClientTokenId', 403),
        'bad_signature': ('SignatureDoesNotMatch', 403),
        'expired': ('SignatureDoesNotMatch', 403),
        'throttle': ('Throttling', 400),
        'denied': ('AccessDenied', 403),
        'internal': ('InternalFailure', 500),
        'not_implemented': ('EmulatorNotImplemented', 501),
    },
    'json': {
        'missing_action': ('UnknownOperationException', 400),
        'unknown_action': ('UnknownOperationException', 400),
        'bad_version': ('UnknownOperationException', 400),
        'unknown_param': ('SerializationException', 400),
        'missing_param': ('ValidationException', 400),
        'invalid_value': ('ValidationException', 400),
        'invalid_type': ('SerializationException', 400),
        'missing_auth': ('MissingAuthenticationTokenException', 400),
        'unknown_key': ('UnrecognizedClientException', 400),
        'bad_signature': ('SignatureDoesNotMatch', 403),
        'expired': ('InvalidSignatureException', 400),
        'throttle': ('ThrottlingException', 400),
        'denied': ('AccessDeniedException', 400),
        'internal': ('InternalServerError', 500),
        'not_implemented': ('EmulatorNotImplemented', 501),
    },
}


class AwsError(Exception):
    """An error returned to the client in the service's own error format."""

    def __init__(self, code, message, status=400, detail=None):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message
        self.status = status
        self.detail = detail  # extra diagnostics for the call log only


def protocol_error(protocol, kind, message, detail=None):
    code, status = PROTOCOL_ERRORS[protocol][kind]
    return AwsError(code, message, status, detail)


# --------------------------------------------------------------------------
# Service models
# --------------------------------------------------------------------------

# What the current AWS APIs have and Debian's botocore 1.29 models lack, by
# service and model file.  Members are only added (never replaced), so a
# newer botocore that has them already is left alone; validation stays as
# strict as the model for everything not named here.
MODEL_OVERLAYS = {
    'ec2': {
        'service-2': {
            'members': {
                # DescribeImages became paginated (2023): MaxResults 5-1000,
                # checked by the action like DescribeInstances' is.
                'DescribeImagesRequest': {
                    'IncludeDisabled': {'shape': 'Boolean'},
                    'MaxResults': {'shape': 'Integer'},
                    'NextToken': {'shape': 'String'},
                },
                'DescribeImagesResult': {
                    'NextToken': {'shape': 'String', 'locationName': 'nextToken'},
                },
            },
            # DisableImage (2024) added the image state "disabled".
            'enums': {'ImageState': ['disabled']},
        },
        'paginators-1': {
            'DescribeImages': {'input_token': 'NextToken', 'output_token': 'NextToken',
                               'limit_key': 'MaxResults', 'result_key': 'Images'},
        },
    },
}


def overlay_model(service_name, type_name, data):
    """Apply MODEL_OVERLAYS to a loaded model dict, in place; returns it.

    Idempotent: loaders cache their dicts and may hand the same one out
    again."""
    overlay = MODEL_OVERLAYS.get(service_name, {}).get(type_name)
    if not overlay:
        return data
    if type_name == 'service-2':
        shapes = data['shapes']
        for shape_name, members in overlay.get('members', {}).items():
            for member, spec in members.items():
                shapes[shape_name]['members'].setdefault(member, dict(spec))
        for shape_name, values in overlay.get('enums', {}).items():
            enum = shapes[shape_name]['enum']
            enum.extend(v for v in values if v not in enum)
    elif type_name == 'paginators-1':
        for op, spec in overlay.items():
            data['pagination'].setdefault(op, dict(spec))
    return data


class OverlayLoader(botocore.loaders.Loader):
    """botocore's loader with MODEL_OVERLAYS applied (the harness's clients
    use it too, so that tests can send what the emulator accepts)."""

    def load_service_model(self, service_name, type_name, api_version=None):
        data = super().load_service_model(service_name, type_name, api_version)
        return overlay_model(service_name, type_name, data)


class Service:
    """A botocore service model plus the bits of metadata the wire needs."""

    def __init__(self, loader, name):
        self.name = name
        self.model = botocore.model.ServiceModel(
            loader.load_service_model(name, 'service-2'), name)
        self.protocol = self.model.protocol          # 'ec2' | 'query' | 'json'
        self.api_version = self.model.api_version
        self.target_prefix = self.model.metadata.get('targetPrefix')
        if self.protocol == 'ec2':
            self.xmlns = EC2_XMLNS
        else:
            self.xmlns = self.model.metadata.get('xmlNamespace', '')

    def operation(self, name):
        """The OperationModel for ``name`` or None (names are case-sensitive)."""
        if name not in self.model.operation_names:
            return None
        return self.model.operation_model(name)


_SERVICES = None


def services():
    global _SERVICES
    if _SERVICES is None:
        loader = OverlayLoader()
        _SERVICES = {n: Service(loader, n) for n in SERVICE_NAMES}
    return _SERVICES


# --------------------------------------------------------------------------
# Input parsing and validation (model-driven)
# --------------------------------------------------------------------------

_INT_RE = re.compile(r'^-?[0-9]+$')
_INDEX_RE = re.compile(r'^[1-9][0-9]*$')


def parse_timestamp(text):
    """ISO 8601 (as AWS accepts) or epoch seconds -> aware datetime."""
    if isinstance(text, (int, float)):
        return datetime.datetime.fromtimestamp(text, datetime.timezone.utc)
    t = text.strip()
    if t.endswith('Z'):
        t = t[:-1] + '+00:00'
    dt = datetime.datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def _scalar_from_text(protocol, shape, text, where):
    """Convert a form-encoded scalar to a Python value, or raise AwsError."""
    t = shape.type_name
    bad = lambda what: protocol_error(
        protocol, 'invalid_type',
        f'Invalid value for parameter {where}: "{text}" is not a valid {what}')
    if t == 'string':
        if shape.enum and text not in shape.enum:
            raise protocol_error(
                protocol, 'invalid_value',
                f'Value ({text}) for parameter {where} is invalid. '
                f'Expected one of: {", ".join(shape.enum)}')
        return _check_length(protocol, shape, text, where)
    if t in ('integer', 'long'):
        if not _INT_RE.match(text):
            raise bad('integer')
        return _check_range(protocol, shape, int(text), where)
    if t == 'boolean':
        if text not in ('true', 'false'):
            raise bad('boolean (expected "true" or "false")')
        return text == 'true'
    if t in ('double', 'float'):
        try:
            return float(text)
        except ValueError:
            raise bad('number') from None
    if t == 'timestamp':
        try:
            return parse_timestamp(text)
        except ValueError:
            raise bad('timestamp') from None
    if t == 'blob':
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise bad('base64 blob') from None
    raise protocol_error(protocol, 'invalid_type',
                         f'Parameter {where} has unsupported type {t}')


def _check_range(protocol, shape, value, where):
    lo, hi = shape.metadata.get('min'), shape.metadata.get('max')
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise protocol_error(
            protocol, 'invalid_value',
            f'Value ({value}) for parameter {where} is invalid. '
            f'Expected a value between {lo} and {hi}.')
    return value


def _check_length(protocol, shape, value, where):
    """String lengths from the model, as the Query and JSON services check
    them.  EC2 does not validate by the model (its ids and names are checked
    by each action), so neither do we."""
    if protocol == 'ec2':
        return value
    lo, hi = shape.metadata.get('min'), shape.metadata.get('max')
    if lo is not None and len(value) < lo:
        rule = f'greater than or equal to {lo}'
    elif hi is not None and len(value) > hi:
        rule = f'less than or equal to {hi}'
    else:
        return value
    raise protocol_error(
        protocol, 'invalid_value',
        f"1 validation error detected: Value '{value}' at '{where}' failed to "
        f'satisfy constraint: Member must have length {rule}')


def _query_member_name(protocol, member_name, member_shape):
    """The wire name of a structure member, as botocore's serializers send it."""
    ser = member_shape.serialization
    if protocol == 'ec2':
        if 'queryName' in ser:
            return ser['queryName']
        if 'name' in ser:
            return ser['name'][0].upper() + ser['name'][1:]
        return member_name
    return ser.get('name', member_name)


class _Node:
    """A node in the tree built from dotted form keys (``Filter.1.Value.2``)."""
    __slots__ = ('value', 'children')

    def __init__(self):
        self.value = None
        self.children = {}


def parse_form_params(protocol, pairs, shape):
    """Decode flat ``ec2``/``query`` form pairs against an input shape.

    Returns a dict keyed by model member names (like botocore's input
    parameters).  Raises AwsError for unknown, malformed or missing params.
    """
    root = _Node()
    for key, value in pairs:
        node = root
        for token in key.split('.'):
            node = node.children.setdefault(token, _Node())
        if node.value is not None:
            raise protocol_error(protocol, 'invalid_value',
                                 f'The parameter {key} is given more than once')
        node.value = value
    if shape is None:
        if root.children:
            first = sorted(root.children)[0]
            raise protocol_error(protocol, 'unknown_param',
                                 f'The parameter {first} is not recognized')
        return {}
    return _decode_node(protocol, root, shape, '')


def _decode_node(protocol, node, shape, where):
    t = shape.type_name
    if t == 'structure':
        if node.value is not None and where:
            raise protocol_error(protocol, 'invalid_value',
                                 f'The parameter {where} must not have a value '
                                 f'(it is a structure)')
        by_wire = {_query_member_name(protocol, n, s): n
                   for n, s in shape.members.items()}
        out = {}
        for token, child in node.children.items():
            full = f'{where}.{token}' if where else token
            if token not in by_wire:
                raise protocol_error(protocol, 'unknown_param',
                                     f'The parameter {full} is not recognized')
            name = by_wire[token]
            out[name] = _decode_node(protocol, child, shape.members[name], full)
        _check_required(protocol, shape, out, where,
                        wire=lambda n: _query_member_name(
                            protocol, n, shape.members[n]))
        return out
    if t == 'list':
        if protocol == 'query':
            # Non-flattened query lists: Name.member.N (an empty list is sent
            # as "Name=" with no children).
            if not node.children and node.value == '':
                return []
            item_name = shape.member.serialization.get('name', 'member')
            if node.value is not None or set(node.children) != {item_name}:
                raise protocol_error(
                    protocol, 'unknown_param',
                    f'The parameter {where} is a list and must be sent as '
                    f'{where}.{item_name}.N')
            node = node.children[item_name]
            where = f'{where}.{item_name}'
        elif node.value is not None:
            raise protocol_error(protocol, 'unknown_param',
                                 f'The parameter {where} is a list and must be '
                                 f'sent as {where}.N')
        return _decode_indexed(protocol, node, shape.member, where)
    if t == 'map':
        entries = node
        if not shape.serialization.get('flattened'):
            if set(node.children) != {'entry'}:
                raise protocol_error(protocol, 'unknown_param',
                                     f'The parameter {where} must be sent as '
                                     f'{where}.entry.N.key/value')
            entries = node.children['entry']
            where = f'{where}.entry'
        kname = shape.key.serialization.get('name', 'key')
        vname = shape.value.serialization.get('name', 'value')
        out = {}
        for i, entry in enumerate(_indexed_children(protocol, entries, where), 1):
            if set(entry.children) != {kname, vname}:
                raise protocol_error(protocol, 'invalid_value',
                                     f'Map entry {where}.{i} needs exactly '
                                     f'{kname} and {vname}')
            k = _decode_node(protocol, entry.children[kname], shape.key,
                             f'{where}.{i}.{kname}')
            out[k] = _decode_node(protocol, entry.children[vname], shape.value,
                                  f'{where}.{i}.{vname}')
        return out
    # Scalar.
    if node.children:
        sub = sorted(node.children)[0]
        raise protocol_error(protocol, 'unknown_param',
                             f'The parameter {where}.{sub} is not recognized')
    return _scalar_from_text(protocol, shape, node.value, where)


def _indexed_children(protocol, node, where):
    """Children of a list node, which must be keyed 1..N without gaps."""
    if node.value is not None:
        raise protocol_error(protocol, 'unknown_param',
                             f'The parameter {where} is a list and needs an index')
    indexes = []
    for token in node.children:
        if not _INDEX_RE.match(token):
            raise protocol_error(
                protocol, 'unknown_param',
                f'The parameter {where}.{token} is not recognized '
                f'(list indexes are 1-based integers)')
        indexes.append(int(token))
    indexes.sort()
    if indexes != list(range(1, len(indexes) + 1)):
        raise protocol_error(protocol, 'invalid_value',
                             f'The list {where} has non-contiguous indexes '
                             f'{indexes} (expected 1..N)')
    return [node.children[str(i)] for i in indexes]


def _decode_indexed(protocol, node, member_shape, where):
    return [_decode_node(protocol, child, member_shape, f'{where}.{i}')
            for i, child in enumerate(_indexed_children(protocol, node, where), 1)]


def _check_required(protocol, shape, value, where, wire):
    for name in shape.required_members:
        if name not in value:
            full = f'{where}.{wire(name)}' if where else wire(name)
            if protocol == 'ec2':
                msg = f'The request must contain the parameter {full}'
            else:
                msg = (f"1 validation error detected: Value null at '{full}' "
                       f'failed to satisfy constraint: Member must not be null')
            raise protocol_error(protocol, 'missing_param', msg)


def validate_json_params(value, shape, where=''):
    """Validate a decoded JSON 1.1 request body against an input shape."""
    protocol = 'json'
    t = shape.type_name
    label = where or 'request'

    def wrong(what):
        return protocol_error(protocol, 'invalid_type',
                              f'Value at {label} must be a {what}')

    if t == 'structure':
        if not isinstance(value, dict):
            raise wrong('structure (JSON object)')
        out = {}
        for k, v in value.items():
            full = f'{where}.{k}' if where else k
            if k not in shape.members:
                raise protocol_error(protocol, 'unknown_param',
                                     f'Unknown field {full}')
            if v is None:
                continue  # JSON null means "absent" for AWS JSON services
            out[k] = validate_json_params(v, shape.members[k], full)
        _check_required(protocol, shape, out, where, wire=lambda n: n)
        return out
    if t == 'list':
        if not isinstance(value, list):
            raise wrong('list (JSON array)')
        return [validate_json_params(v, shape.member, f'{where}[{i}]')
                for i, v in enumerate(value)]
    if t == 'map':
        if not isinstance(value, dict):
            raise wrong('map (JSON object)')
        return {validate_json_params(k, shape.key, f'{where}.key'):
                validate_json_params(v, shape.value, f'{where}.{k}')
                for k, v in value.items()}
    if t == 'string':
        if not isinstance(value, str):
            raise wrong('string')
        if shape.enum and value not in shape.enum:
            raise protocol_error(
                protocol, 'invalid_value',
                f"1 validation error detected: Value '{value}' at '{label}' "
                f'failed to satisfy constraint: Member must satisfy enum value '
                f'set: [{", ".join(shape.enum)}]')
        return _check_length(protocol, shape, value, label)
    if t in ('integer', 'long'):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong('integer')
        return _check_range(protocol, shape, value, label)
    if t == 'boolean':
        if not isinstance(value, bool):
            raise wrong('boolean')
        return value
    if t in ('double', 'float'):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong('number')
        return float(value)
    if t == 'timestamp':
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong('timestamp (epoch seconds)')
        return parse_timestamp(value)
    if t == 'blob':
        if not isinstance(value, str):
            raise wrong('base64 string')
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise wrong('base64 string') from None
    raise wrong(t)


# --------------------------------------------------------------------------
# Output serialisation (model-driven)
# --------------------------------------------------------------------------

def _ts_iso(value):
    if isinstance(value, str):
        value = parse_timestamp(value)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime('%Y-%m-%dT%H:%M:%S.') + f'{value.microsecond // 1000:03d}Z'


def _xml_scalar(shape, value, where):
    t = shape.type_name
    if t == 'boolean':
        if not isinstance(value, bool):
            raise TypeError(f'{where}: expected bool, got {value!r}')
        return 'true' if value else 'false'
    if t in ('integer', 'long'):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f'{where}: expected int, got {value!r}')
        return str(value)
    if t in ('double', 'float'):
        return repr(float(value))
    if t == 'timestamp':
        return _ts_iso(value)
    if t == 'blob':
        return base64.b64encode(value).decode()
    if t == 'string':
        if not isinstance(value, str):
            raise TypeError(f'{where}: expected str, got {value!r}')
        return xml_escape(value)
    raise TypeError(f'{where}: unsupported type {t}')


def xml_body(protocol, shape, value, where=''):
    """Serialise ``value`` (keyed by model member names) as XML content."""
    t = shape.type_name
    if t == 'structure':
        if not isinstance(value, dict):
            raise TypeError(f'{where}: expected dict for {shape.name}')
        parts = []
        for name, v in value.items():
            if name not in shape.members:
                raise KeyError(f'{where}: {shape.name} has no member {name}')
            if v is None:
                continue
            mshape = shape.members[name]
            tag = mshape.serialization.get('name', name)
            if mshape.type_name == 'list' and mshape.serialization.get('flattened'):
                item_tag = mshape.member.serialization.get('name', tag)
                for item in v:
                    parts.append(f'<{item_tag}>{xml_body(protocol, mshape.member, item, where + "." + name)}</{item_tag}>')
                continue
            parts.append(f'<{tag}>{xml_body(protocol, mshape, v, where + "." + name)}</{tag}>')
        return ''.join(parts)
    if t == 'list':
        default = 'item' if protocol == 'ec2' else 'member'
        item_tag = shape.member.serialization.get('name', default)
        return ''.join(f'<{item_tag}>{xml_body(protocol, shape.member, item, where + "[]")}</{item_tag}>'
                       for item in value)
    if t == 'map':
        ktag = shape.key.serialization.get('name', 'key')
        vtag = shape.value.serialization.get('name', 'value')
        return ''.join(f'<entry><{ktag}>{xml_body(protocol, shape.key, k, where)}</{ktag}>'
                       f'<{vtag}>{xml_body(protocol, shape.value, v, where)}</{vtag}></entry>'
                       for k, v in value.items())
    return _xml_scalar(shape, value, where)


def json_value(shape, value, where=''):
    """Serialise ``value`` for a JSON 1.1 response (checking member names)."""
    t = shape.type_name
    if t == 'structure':
        out = {}
        for name, v in value.items():
            if name not in shape.members:
                raise KeyError(f'{where}: {shape.name} has no member {name}')
            if v is not None:
                out[name] = json_value(shape.members[name], v, where + '.' + name)
        return out
    if t == 'list':
        return [json_value(shape.member, v, where + '[]') for v in value]
    if t == 'map':
        return {k: json_value(shape.value, v, where + '.' + k) for k, v in value.items()}
    if t == 'timestamp':
        if isinstance(value, str):
            value = parse_timestamp(value)
        return value.timestamp()
    if t == 'blob':
        return base64.b64encode(value).decode()
    return value


def serialize_response(service, op, data, request_id):
    """(content_type, body bytes) of a successful response."""
    shape = op.output_shape
    if service.protocol == 'json':
        body = json_value(shape, data or {}) if shape is not None else {}
        return 'application/x-amz-json-1.1', json.dumps(body).encode()
    if shape is not None:
        inner = xml_body(service.protocol, shape, data or {})
    elif service.protocol == 'ec2':
        inner = '<return>true</return>'   # what EC2 answers for actions without output
    else:
        inner = ''
    if service.protocol == 'ec2':
        doc = (f'<{op.name}Response xmlns="{service.xmlns}">'
               f'<requestId>{request_id}</requestId>{inner}</{op.name}Response>')
    else:
        wrapper = shape.serialization.get('resultWrapper') if shape is not None else None
        result = f'<{wrapper}>{inner}</{wrapper}>' if wrapper else ''
        doc = (f'<{op.name}Response xmlns="{service.xmlns}">{result}'
               f'<ResponseMetadata><RequestId>{request_id}</RequestId>'
               f'</ResponseMetadata></{op.name}Response>')
    return 'text/xml;charset=UTF-8', ('<?xml version="1.0" encoding="UTF-8"?>\n' + doc).encode()


def serialize_error(protocol, err, request_id):
    """(content_type, body bytes, extra headers) of an error response."""
    if protocol == 'json':
        body = json.dumps({'__type': err.code, 'message': err.message}).encode()
        return 'application/x-amz-json-1.1', body, {'x-amzn-ErrorType': err.code}
    code, msg = xml_escape(err.code), xml_escape(err.message)
    if protocol == 'ec2':
        doc = (f'<Response><Errors><Error><Code>{code}</Code><Message>{msg}</Message>'
               f'</Error></Errors><RequestID>{request_id}</RequestID></Response>')
    else:
        kind = 'Receiver' if err.status >= 500 else 'Sender'
        doc = (f'<ErrorResponse xmlns="{services()["autoscaling"].xmlns}"><Error>'
               f'<Type>{kind}</Type><Code>{code}</Code><Message>{msg}</Message>'
               f'</Error><RequestId>{request_id}</RequestId></ErrorResponse>')
    return 'text/xml;charset=UTF-8', ('<?xml version="1.0" encoding="UTF-8"?>\n' + doc).encode(), {}


# --------------------------------------------------------------------------
# SigV4 verification (botocore's signer as the judge)
# --------------------------------------------------------------------------

class _ExactHeadersSigV4(botocore.auth.SigV4Auth):
    """SigV4Auth that signs exactly the headers put on the request."""

    def headers_to_sign(self, request):
        return request.headers


_AUTH_RE = re.compile(
    r'^AWS4-HMAC-SHA256 Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),'
    r'\s*Signature=([0-9a-f]{64})$')


def verify_sigv4(protocol, method, url, headers, body, credentials, region, now=None):
    """Check a request's SigV4 signature; return the access key or raise.

    ``headers`` is an ``email.message.Message`` (as http.server gives).
    ``credentials`` maps access key -> secret (str) or
    {"secret": ..., "session_token": ...}.
    """
    auth = headers.get('Authorization')
    if not auth:
        raise protocol_error(protocol, 'missing_auth',
                             'Request is missing Authentication Token')
    m = _AUTH_RE.match(auth.strip())
    if not m:
        raise protocol_error(protocol, 'bad_signature',
                             f'Authorization header is malformed: {auth!r}')
    credential, signed_list, signature = m.groups()
    scope = credential.split('/')
    if len(scope) != 5 or scope[4] != 'aws4_request':
        raise protocol_error(protocol, 'bad_signature',
                             f'Credential scope is malformed: {credential!r}')
    akid, scope_date, scope_region, scope_service, _ = scope

    entry = credentials.get(akid)
    if entry is None:
        raise protocol_error(
            protocol, 'unknown_key',
            'The security token included in the request is invalid.'
            if protocol != 'ec2' else
            'AWS was not able to validate the provided access credentials')
    if isinstance(entry, str):
        secret, expected_token = entry, None
    else:
        secret, expected_token = entry['secret'], entry.get('session_token')

    signed = signed_list.split(';')
    if signed != sorted(signed) or any(h != h.lower() for h in signed):
        raise protocol_error(protocol, 'bad_signature',
                             f'SignedHeaders must be lowercase and sorted: {signed_list}')
    for must in ('host', 'x-amz-date'):
        if must not in signed:
            raise protocol_error(protocol, 'bad_signature',
                                 f"'{must}' must be a signed header (SignedHeaders={signed_list})")
    token = headers.get('X-Amz-Security-Token')
    if token is not None and 'x-amz-security-token' not in signed:
        raise protocol_error(protocol, 'bad_signature',
                             'X-Amz-Security-Token is present but not signed')
    if expected_token is not None and token != expected_token:
        raise protocol_error(protocol, 'unknown_key',
                             'The security token included in the request is invalid')

    amz_date = headers.get('X-Amz-Date', '')
    try:
        ts = datetime.datetime.strptime(amz_date, SIGV4_TIME_FORMAT).replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise protocol_error(protocol, 'bad_signature',
                             f'X-Amz-Date is missing or malformed: {amz_date!r}') from None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if abs((now - ts).total_seconds()) > MAX_CLOCK_SKEW_S:
        raise protocol_error(
            protocol, 'expired',
            f'Request has expired. Signature date {amz_date} is more than 15 '
            f'minutes away from the server time {now.strftime(SIGV4_TIME_FORMAT)}')
    if scope_date != amz_date[:8]:
        raise protocol_error(protocol, 'bad_signature',
                             f'Credential date {scope_date} does not match X-Amz-Date {amz_date}')
    if scope_region != region:
        raise protocol_error(
            protocol, 'bad_signature',
            f"Credential should be scoped to a valid region, not '{scope_region}' "
            f"(this endpoint is '{region}')")

    sha_header = headers.get('X-Amz-Content-Sha256')
    if sha_header is not None and sha_header != hashlib.sha256(body).hexdigest():
        raise protocol_error(protocol, 'bad_signature',
                             'X-Amz-Content-Sha256 does not match the request body')

    # Rebuild the request exactly as the client signed it.
    signed_headers = botocore.awsrequest.HTTPHeaders()
    for name in signed:
        values = headers.get_all(name)
        if not values:
            raise protocol_error(protocol, 'bad_signature',
                                 f'Signed header {name!r} is not in the request')
        for v in values:
            signed_headers[name] = v
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body)
    request.headers = signed_headers
    request.context['timestamp'] = amz_date
    signer = _ExactHeadersSigV4(
        botocore.credentials.Credentials(akid, secret, token), scope_service, region)
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, signature):
        detail = f'CanonicalRequest:\n{canonical}\nStringToSign:\n{string_to_sign}'
        msg = ('AWS was not able to validate the provided access credentials'
               if protocol == 'ec2' else
               'The request signature we calculated does not match the signature '
               'you provided. Check your AWS Secret Access Key and signing method.'
               f'\n\nThe Canonical String for this request should have been\n'
               f"'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n")
        raise protocol_error(protocol, 'bad_signature', msg, detail=detail)
    return akid


# --------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------

STATE_CODES = {'pending': 0, 'running': 16, 'shutting-down': 32,
               'terminated': 48, 'stopping': 64, 'stopped': 80}
INSTANCE_ID_RE = re.compile(r'^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$')


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def normalize_instance(raw, index, region):
    """Fill defaults of one seed instance (the seed schema, see README/report)."""
    inst = dict(raw)
    iid = inst.get('id')
    if not isinstance(iid, str) or not INSTANCE_ID_RE.match(iid):
        raise ValueError(f'instance #{index}: bad or missing id {iid!r}')
    suffix = iid[2:]
    if inst.setdefault('state', 'running') not in STATE_CODES:
        raise ValueError(f'instance {iid}: unknown state {inst["state"]!r}')
    now = iso(utcnow())
    inst.setdefault('tags', {})
    inst.setdefault('launch_time', now)
    inst.setdefault('attach_time', inst['launch_time'])
    inst.setdefault('hibernation', False)
    inst.setdefault('type', 't3.micro')
    inst.setdefault('image_id', 'ami-0123456789abcdef0')
    inst.setdefault('private_ip', f'10.0.{index // 250}.{index % 250 + 4}')
    inst.setdefault('public_ip', None)
    inst.setdefault('running_after_describes', None)
    inst.setdefault('disable_api_termination', False)
    inst.setdefault('az', region + 'a')
    inst.setdefault('subnet_id', 'subnet-0123456789abcdef0')
    inst.setdefault('vpc_id', 'vpc-0123456789abcdef0')
    inst.setdefault('reservation_id', 'r-' + suffix)
    inst.setdefault('eni_id', 'eni-' + suffix)
    inst.setdefault('key_name', None)
    inst.setdefault('architecture', 'x86_64')
    inst.setdefault('describes_seen', 0)      # DescribeInstances calls that returned it
    inst.setdefault('hibernated', False)      # last stop was a hibernation
    for k in ('launch_time', 'attach_time'):
        parse_timestamp(inst[k])  # validate early
    if not isinstance(inst['tags'], dict):
        raise ValueError(f'instance {iid}: tags must be an object')
    return inst


AMI_ID_RE = re.compile(r'^ami-(?:[0-9a-f]{8}|[0-9a-f]{17})$')
SNAPSHOT_ID_RE = re.compile(r'^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$')
LAUNCH_TEMPLATE_ID_RE = re.compile(r'^lt-[0-9a-f]{17}$')
LAUNCH_TEMPLATE_NAME_RE = re.compile(r'^[a-zA-Z0-9().\-/_]{3,128}$')
ACCOUNT_ID_RE = re.compile(r'^[0-9]{12}$')
VERSION_NUMBER_RE = re.compile(r'^[0-9]+$')
PARAMETER_NAME_RE = re.compile(r'^[a-zA-Z0-9_.\-/]{1,2048}$')
IMAGE_STATES = ('pending', 'available', 'invalid', 'deregistered', 'transient',
                'failed', 'error', 'disabled')
PARAMETER_TYPES = ('String', 'StringList', 'SecureString')
PARAMETER_DATA_TYPES = ('text', 'aws:ec2:image', 'aws:ssm:integration')
HEALTH_STATUSES = ('Healthy', 'Unhealthy')
# An image's block devices are named /dev/xvda, /dev/xvdb, ...
MAX_IMAGE_SNAPSHOTS = 26
# Auto Scaling's defaults for a mixed-instances policy's distribution.
INSTANCES_DISTRIBUTION = {
    'OnDemandAllocationStrategy': 'prioritized',
    'OnDemandBaseCapacity': 0,
    'OnDemandPercentageAboveBaseCapacity': 100,
    'SpotAllocationStrategy': 'lowest-price',
    'SpotInstancePools': 2,
}


def _seed_records(record, key, what=None):
    records = record.get(key)
    if records is None:
        return []
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError(f'{what + ": " if what else ""}{key} must be a list of objects')
    return records


def _seed_bool(record, key, default, what):
    if not isinstance(record.setdefault(key, default), bool):
        raise ValueError(f'{what}: {key} must be true or false')


def _seed_str(record, key, default, what, optional=False):
    value = record.setdefault(key, default)
    if not (isinstance(value, str) or (optional and value is None)):
        raise ValueError(f'{what}: {key} must be a string')


def _seed_int(record, key, default, what, minimum=0):
    value = record.setdefault(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f'{what}: {key} must be an integer >= {minimum}')


def _seed_time(record, key, default, what, optional=False):
    value = record.setdefault(key, default)
    if value is None and optional:
        return
    try:
        parse_timestamp(value)
    except (TypeError, ValueError, AttributeError):
        raise ValueError(f'{what}: {key} is not an ISO 8601 time: {value!r}') from None


def _seed_tags(record, what):
    tags = record.setdefault('tags', {})
    if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError(f'{what}: tags must be an object of strings')


def _refuse_duplicates(records, key, what):
    seen = set()
    for r in records:
        if r[key] in seen:
            raise ValueError(f'duplicate {what} {r[key]!r} in state')
        seen.add(r[key])


def _seed_uuid(*parts):
    """A stable UUID for ARNs, so that a state survives GET/POST unchanged."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(parts)))


def normalize_snapshot(raw, index, account_id):
    snap = dict(raw)
    sid = snap.get('id')
    if not isinstance(sid, str) or not SNAPSHOT_ID_RE.match(sid):
        raise ValueError(f'snapshot #{index}: bad or missing id {sid!r}')
    what = f'snapshot {sid}'
    _seed_int(snap, 'volume_size', 8, what, minimum=1)
    _seed_tags(snap, what)
    _seed_time(snap, 'start_time', None, what, optional=True)
    _seed_str(snap, 'owner_id', account_id, what)
    if not ACCOUNT_ID_RE.match(snap['owner_id']):
        raise ValueError(f'{what}: owner_id must be 12 digits')
    return snap


def normalize_image(raw, index, account_id):
    img = dict(raw)
    iid = img.get('id')
    if not isinstance(iid, str) or not AMI_ID_RE.match(iid):
        raise ValueError(f'image #{index}: bad or missing id {iid!r}')
    what = f'image {iid}'
    _seed_str(img, 'name', iid, what)
    _seed_str(img, 'state', 'available', what)
    if img['state'] not in IMAGE_STATES:
        raise ValueError(f'{what}: unknown state {img["state"]!r}')
    # "disabled" is both a flag and a state in AWS; the seed may say either.
    _seed_bool(img, 'disabled', img['state'] == 'disabled', what)
    if img['disabled']:
        if img['state'] not in ('available', 'disabled'):
            raise ValueError(f'{what}: a disabled image cannot be {img["state"]}')
        img['state'] = 'disabled'
    elif img['state'] == 'disabled':
        raise ValueError(f'{what}: state "disabled" contradicts "disabled": false')
    _seed_time(img, 'creation_date', _ts_iso(utcnow()), what)
    _seed_str(img, 'owner_id', account_id, what)
    if not ACCOUNT_ID_RE.match(img['owner_id']):
        raise ValueError(f'{what}: owner_id must be 12 digits')
    _seed_str(img, 'owner_alias', None, what, optional=True)
    _seed_tags(img, what)
    snapshots = img.setdefault('snapshots', ['snap-' + iid[4:]])
    if (not isinstance(snapshots, list)
            or not all(isinstance(s, str) and SNAPSHOT_ID_RE.match(s) for s in snapshots)):
        raise ValueError(f'{what}: snapshots must be a list of snapshot ids')
    if len(set(snapshots)) != len(snapshots) or len(snapshots) > MAX_IMAGE_SNAPSHOTS:
        raise ValueError(f'{what}: snapshots must be distinct and at most {MAX_IMAGE_SNAPSHOTS}')
    _seed_bool(img, 'deprecated', False, what)
    # A deprecated image has a deprecation time; one not (yet) deprecated
    # may have one scheduled.
    _seed_time(img, 'deprecation_time', img['creation_date'] if img['deprecated'] else None,
               what, optional=not img['deprecated'])
    _seed_bool(img, 'public', False, what)
    _seed_str(img, 'description', '', what)
    _seed_str(img, 'architecture', 'x86_64', what)
    return img


def normalize_launch_template(raw, index, account_id):
    lt = dict(raw)
    lid = lt.get('id')
    if not isinstance(lid, str) or not LAUNCH_TEMPLATE_ID_RE.match(lid):
        raise ValueError(f'launch template #{index}: bad or missing id {lid!r}')
    what = f'launch template {lid}'
    _seed_str(lt, 'name', lid, what)
    if not LAUNCH_TEMPLATE_NAME_RE.match(lt['name']):
        raise ValueError(f'{what}: name {lt["name"]!r} is not 3-128 of a-z A-Z 0-9 ( ) . - / _')
    _seed_time(lt, 'create_time', _ts_iso(utcnow()), what)
    _seed_str(lt, 'created_by', f'arn:aws:iam::{account_id}:root', what)
    _seed_tags(lt, what)
    raw_versions = lt.setdefault('versions', [{'number': 1}])
    if not isinstance(raw_versions, list) or not raw_versions:
        raise ValueError(f'{what}: versions must be a non-empty list')
    versions = []
    for n, raw_version in enumerate(raw_versions):
        if not isinstance(raw_version, dict):
            raise ValueError(f'{what}: version #{n} must be an object')
        v = dict(raw_version)
        vwhat = f'{what} version #{n}'
        number = v.get('number')
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f'{vwhat}: number must be an integer >= 1')
        image = v.setdefault('image_id', None)
        if image is not None and not (
                isinstance(image, str)
                and (AMI_ID_RE.match(image)
                     or (image.startswith('resolve:ssm:') and len(image) > len('resolve:ssm:')))):
            raise ValueError(f'{vwhat}: image_id must be an AMI id, "resolve:ssm:<parameter>" or null')
        _seed_str(v, 'instance_type', None, vwhat, optional=True)
        _seed_str(v, 'description', None, vwhat, optional=True)
        _seed_time(v, 'create_time', lt['create_time'], vwhat)
        versions.append(v)
    _refuse_duplicates(versions, 'number', f'{what} version')
    lt['versions'] = sorted(versions, key=lambda v: v['number'])
    numbers = [v['number'] for v in lt['versions']]
    _seed_int(lt, 'default_version', numbers[0], what, minimum=1)
    if lt['default_version'] not in numbers:
        raise ValueError(f'{what}: default_version {lt["default_version"]} is not one of '
                         f'its versions {numbers}')
    return lt


def _resolve_template_ref(ref, templates, what):
    """A seed's reference to a launch template ({"id"} or {"name"}, plus
    "version") -> {"id", "name", "version"}, checked against the templates."""
    if not isinstance(ref, dict) or set(ref) - {'id', 'name', 'version'}:
        raise ValueError(f'{what}: a launch template reference is {{"id" or "name", "version"}}')
    tid, tname = ref.get('id'), ref.get('name')
    if tid is None and tname is None:
        raise ValueError(f'{what}: a launch template reference needs an id or a name')
    found = None
    if tid is not None:
        found = next((t for t in templates if t['id'] == tid), None)
        if found is None:
            raise ValueError(f'{what}: unknown launch template {tid!r}')
    if tname is not None:
        named = next((t for t in templates if t['name'] == tname), None)
        if named is None:
            raise ValueError(f'{what}: unknown launch template {tname!r}')
        if found is not None and named is not found:
            raise ValueError(f'{what}: launch template {tid!r} is not named {tname!r}')
        found = named
    version = ref.get('version', '$Default')
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    if not isinstance(version, str):
        raise ValueError(f'{what}: a launch template version is a string')
    if version not in ('$Default', '$Latest'):
        numbers = [v['number'] for v in found['versions']]
        if not VERSION_NUMBER_RE.match(version) or int(version) not in numbers:
            raise ValueError(f'{what}: launch template {found["name"]!r} has no version {version!r}')
    return {'id': found['id'], 'name': found['name'], 'version': version}


def normalize_launch_configuration(raw, index, account_id, region):
    lc = dict(raw)
    name = lc.get('name')
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ValueError(f'launch configuration #{index}: bad or missing name {name!r}')
    what = f'launch configuration {name!r}'
    _seed_str(lc, 'image_id', 'ami-0123456789abcdef0', what)
    if not AMI_ID_RE.match(lc['image_id']):
        raise ValueError(f'{what}: image_id {lc["image_id"]!r} is not an AMI id')
    _seed_str(lc, 'instance_type', 't3.micro', what)
    _seed_time(lc, 'created_time', _ts_iso(utcnow()), what)
    _seed_str(lc, 'arn', f'arn:aws:autoscaling:{region}:{account_id}:launchConfiguration:'
                         f'{_seed_uuid("lc", name)}:launchConfigurationName/{name}', what)
    return lc


def _normalize_mixed_instances_policy(raw, templates, what):
    if not isinstance(raw, dict) or set(raw) - {'launch_template', 'overrides',
                                                 'instances_distribution'}:
        raise ValueError(f'{what}: mixed_instances_policy is {{"launch_template", '
                         f'"overrides", "instances_distribution"}}')
    if raw.get('launch_template') is None:
        raise ValueError(f'{what}: mixed_instances_policy needs a launch_template')
    policy = {'launch_template': _resolve_template_ref(raw['launch_template'], templates, what)}
    overrides = raw.get('overrides') or []
    if not isinstance(overrides, list) or not all(isinstance(o, dict) for o in overrides):
        raise ValueError(f'{what}: overrides must be a list of objects')
    policy['overrides'] = []
    for o in overrides:
        o = dict(o)
        if set(o) - {'instance_type', 'launch_template', 'weighted_capacity'}:
            raise ValueError(f'{what}: an override is {{"instance_type", "launch_template", '
                             f'"weighted_capacity"}}')
        _seed_str(o, 'instance_type', None, what, optional=True)
        _seed_str(o, 'weighted_capacity', None, what, optional=True)
        if o.setdefault('launch_template', None) is not None:
            o['launch_template'] = _resolve_template_ref(o['launch_template'], templates, what)
        policy['overrides'].append(o)
    distribution = dict(INSTANCES_DISTRIBUTION)
    given = raw.get('instances_distribution') or {}
    if not isinstance(given, dict) or set(given) - set(INSTANCES_DISTRIBUTION):
        raise ValueError(f'{what}: instances_distribution takes {sorted(INSTANCES_DISTRIBUTION)}')
    distribution.update(given)
    policy['instances_distribution'] = distribution
    return policy


def normalize_auto_scaling_group(raw, index, state):
    g = dict(raw)
    name = g.get('name')
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ValueError(f'auto scaling group #{index}: bad or missing name {name!r}')
    what = f'auto scaling group {name!r}'
    region, account_id = state['region'], state['account_id']
    templates = state['launch_templates']
    _seed_int(g, 'min_size', 0, what)
    _seed_int(g, 'desired_capacity', g['min_size'], what)
    _seed_int(g, 'max_size', max(g['desired_capacity'], 1), what)
    if not g['min_size'] <= g['desired_capacity'] <= g['max_size']:
        raise ValueError(f'{what}: needs min_size <= desired_capacity <= max_size')

    # A group launches from exactly one of these, as CreateAutoScalingGroup requires.
    sources = [k for k in ('launch_configuration', 'launch_template', 'mixed_instances_policy')
               if g.get(k) is not None]
    if len(sources) != 1:
        raise ValueError(f'{what}: needs exactly one of launch_configuration, launch_template '
                         f'and mixed_instances_policy (got {", ".join(sources) or "none"})')
    lc_names = {lc['name'] for lc in state['launch_configurations']}
    if g.setdefault('launch_configuration', None) is not None:
        if g['launch_configuration'] not in lc_names:
            raise ValueError(f'{what}: unknown launch configuration {g["launch_configuration"]!r}')
    if g.setdefault('launch_template', None) is not None:
        g['launch_template'] = _resolve_template_ref(g['launch_template'], templates, what)
    if g.setdefault('mixed_instances_policy', None) is not None:
        g['mixed_instances_policy'] = _normalize_mixed_instances_policy(
            g['mixed_instances_policy'], templates, what)

    _seed_tags(g, what)
    zones = g.setdefault('availability_zones', [region + 'a'])
    if not isinstance(zones, list) or not zones or not all(isinstance(z, str) for z in zones):
        raise ValueError(f'{what}: availability_zones must be a non-empty list of strings')
    _seed_str(g, 'health_check_type', 'EC2', what)
    _seed_int(g, 'default_cooldown', 300, what)
    _seed_int(g, 'health_check_grace_period', 300, what)
    _seed_time(g, 'created_time', _ts_iso(utcnow()), what)
    _seed_str(g, 'arn', f'arn:aws:autoscaling:{region}:{account_id}:autoScalingGroup:'
                        f'{_seed_uuid("asg", name)}:autoScalingGroupName/{name}', what)

    ec2_by_id = {i['id']: i for i in state['instances']}
    lifecycle_states = services()['autoscaling'].model.shape_for('LifecycleState').enum
    members = []
    for n, raw_member in enumerate(_seed_records(g, 'instances', what)):
        m = dict(raw_member)
        iid = m.get('id')
        if not isinstance(iid, str) or not INSTANCE_ID_RE.match(iid):
            raise ValueError(f'{what}: instance #{n}: bad or missing id {iid!r}')
        mwhat = f'{what} instance {iid}'
        _seed_str(m, 'lifecycle_state', 'InService', mwhat)
        if m['lifecycle_state'] not in lifecycle_states:
            raise ValueError(f'{mwhat}: unknown lifecycle_state {m["lifecycle_state"]!r}')
        _seed_str(m, 'health_status', 'Healthy', mwhat)
        if m['health_status'] not in HEALTH_STATUSES:
            raise ValueError(f'{mwhat}: health_status must be Healthy or Unhealthy')
        _seed_bool(m, 'protected_from_scale_in', False, mwhat)
        ec2 = ec2_by_id.get(iid)
        _seed_str(m, 'instance_type', ec2['type'] if ec2 else 't3.micro', mwhat)
        _seed_str(m, 'az', ec2['az'] if ec2 else zones[0], mwhat)
        # What it was launched from: its own, else the group's.
        own_lc, own_lt = m.get('launch_configuration'), m.get('launch_template')
        if own_lc is not None and own_lt is not None:
            raise ValueError(f'{mwhat}: launch_configuration or launch_template, not both')
        if own_lc is not None:
            if own_lc not in lc_names:
                raise ValueError(f'{mwhat}: unknown launch configuration {own_lc!r}')
            m['launch_template'] = None
        elif own_lt is not None:
            m['launch_template'] = _resolve_template_ref(own_lt, templates, mwhat)
            m['launch_configuration'] = None
        else:
            m['launch_configuration'] = g['launch_configuration']
            policy = g['mixed_instances_policy']
            m['launch_template'] = (dict(policy['launch_template']) if policy
                                    else g['launch_template'] and dict(g['launch_template']))
        members.append(m)
    g['instances'] = members
    return g


def normalize_parameter(raw, index, account_id, region):
    p = dict(raw)
    name = p.get('name')
    if not isinstance(name, str) or not PARAMETER_NAME_RE.match(name):
        raise ValueError(f'parameter #{index}: bad or missing name {name!r}')
    what = f'parameter {name!r}'
    if '/' in name and not name.startswith('/'):
        raise ValueError(f'{what}: a hierarchical name must begin with "/"')
    if name.lstrip('/').lower().startswith(('aws', 'ssm')):
        raise ValueError(f'{what}: names beginning with "aws" or "ssm" are reserved')
    _seed_str(p, 'type', 'String', what)
    if p['type'] not in PARAMETER_TYPES:
        raise ValueError(f'{what}: type must be one of {", ".join(PARAMETER_TYPES)}')
    value = p.get('value')
    if (p['type'] == 'StringList' and isinstance(value, list)
            and all(isinstance(v, str) for v in value)):
        value = p['value'] = ','.join(value)
    # Never quote the value: it may be a secret.
    if not isinstance(value, str) or not value:
        raise ValueError(f'{what}: value must be a non-empty string')
    _seed_int(p, 'version', 1, what, minimum=1)
    _seed_time(p, 'last_modified_date', _ts_iso(utcnow()), what)
    _seed_str(p, 'data_type', 'text', what)
    if p['data_type'] not in PARAMETER_DATA_TYPES:
        raise ValueError(f'{what}: data_type must be one of {", ".join(PARAMETER_DATA_TYPES)}')
    p['arn'] = f'arn:aws:ssm:{region}:{account_id}:parameter/{name.lstrip("/")}'
    return p


def normalize_state(raw):
    state = dict(raw)
    state.setdefault('region', DEFAULT_REGION)
    state.setdefault('account_id', DEFAULT_ACCOUNT)
    if not isinstance(state['account_id'], str) or not ACCOUNT_ID_RE.match(state['account_id']):
        raise ValueError('account_id must be 12 digits')
    state.setdefault('credentials', dict(DEFAULT_CREDENTIALS))
    # IAM, coarsely: "service:Action" names the caller's role may not call
    state.setdefault('denied_actions', [])
    if not all(isinstance(a, str) and ':' in a for a in state['denied_actions']):
        raise ValueError('denied_actions must be a list of "service:Action" strings')
    region, account_id = state['region'], state['account_id']

    state['instances'] = [normalize_instance(i, n, region)
                          for n, i in enumerate(_seed_records(state, 'instances'))]
    _refuse_duplicates(state['instances'], 'id', 'instance id')

    state['snapshots'] = [normalize_snapshot(s, n, account_id)
                          for n, s in enumerate(_seed_records(state, 'snapshots'))]
    _refuse_duplicates(state['snapshots'], 'id', 'snapshot id')
    state['images'] = [normalize_image(i, n, account_id)
                       for n, i in enumerate(_seed_records(state, 'images'))]
    _refuse_duplicates(state['images'], 'id', 'image id')
    known = {s['id'] for s in state['snapshots']}
    for img in state['images']:
        for sid in img['snapshots']:
            if sid not in known:   # an image's snapshots belong to its owner
                state['snapshots'].append(
                    normalize_snapshot({'id': sid, 'owner_id': img['owner_id']},
                                       len(state['snapshots']), account_id))
                known.add(sid)

    state['launch_templates'] = [normalize_launch_template(t, n, account_id)
                                 for n, t in enumerate(_seed_records(state, 'launch_templates'))]
    _refuse_duplicates(state['launch_templates'], 'id', 'launch template id')
    _refuse_duplicates(state['launch_templates'], 'name', 'launch template name')
    state['launch_configurations'] = [
        normalize_launch_configuration(c, n, account_id, region)
        for n, c in enumerate(_seed_records(state, 'launch_configurations'))]
    _refuse_duplicates(state['launch_configurations'], 'name', 'launch configuration')
    state['auto_scaling_groups'] = [
        normalize_auto_scaling_group(g, n, state)
        for n, g in enumerate(_seed_records(state, 'auto_scaling_groups'))]
    _refuse_duplicates(state['auto_scaling_groups'], 'name', 'auto scaling group')
    members = [{'id': m['id']} for g in state['auto_scaling_groups'] for m in g['instances']]
    _refuse_duplicates(members, 'id', 'auto scaling group member')

    state['parameters'] = [normalize_parameter(p, n, account_id, region)
                           for n, p in enumerate(_seed_records(state, 'parameters'))]
    _refuse_duplicates(state['parameters'], 'name', 'parameter')
    return state


# --------------------------------------------------------------------------
# The emulator core: state, call log, faults, action dispatch
# --------------------------------------------------------------------------

HANDLERS = {}   # (service, operation) -> fn(emu, params, ctx) -> output dict


def action(service, operation):
    """Register an action handler (see the EC2 section below)."""
    def register(fn):
        HANDLERS[(service, operation)] = fn
        return fn
    return register


FAULT_KINDS = ('throttle', 'error500', 'slow', 'reset', 'truncate', 'malformed',
               'lost_reset', 'lost_500', 'lost_timeout')
# The action runs (and takes effect), then its answer is lost.
LOST_ANSWER_KINDS = ('truncate', 'lost_reset', 'lost_500', 'lost_timeout')
# How long a lost_timeout withholds the answer when the rule gives no delay_s.
LOST_TIMEOUT_DEFAULT_S = 60.0


class Emulator:
    def __init__(self, state, page_size=None, log_path=None):
        self.lock = threading.RLock()
        self.state = normalize_state(state)
        self.page_size = page_size
        self.calls = []
        self.faults = []
        self.page_tokens = {}   # NextToken -> (fingerprint, offset)
        self.kms_key = secrets.token_bytes(32)   # for SecureString "ciphertexts"
        # bumped when a test resets the account or the call log: a call still
        # sleeping in a 'slow' fault then belongs to a finished test and is dropped
        self.epoch = 0
        self.log = open(log_path, 'a', buffering=1) if log_path else None

    @property
    def region(self):
        return self.state['region']

    def set_state(self, raw):
        state = normalize_state(raw)
        with self.lock:
            self.state = state
            self.page_tokens.clear()
            self.epoch += 1

    def set_faults(self, faults):
        parsed = []
        for f in faults:
            kind = f.get('kind')
            if kind not in FAULT_KINDS:
                raise ValueError(f'unknown fault kind {kind!r}')
            delay = float(f.get('delay_s', LOST_TIMEOUT_DEFAULT_S if kind == 'lost_timeout' else 0))
            parsed.append({'action': f.get('action', '*'), 'service': f.get('service'),
                           'kind': kind, 'count': int(f.get('count', 1)),
                           'delay_s': delay})
        with self.lock:
            self.faults = parsed

    def take_fault(self, service, operation):
        """Consume and return the first fault matching this call, if any."""
        with self.lock:
            for f in self.faults:
                if f['count'] <= 0:
                    continue
                if f['action'] not in ('*', operation):
                    continue
                if f['service'] not in (None, service):
                    continue
                f['count'] -= 1
                return dict(f)
        return None

    def record(self, entry):
        with self.lock:
            self.calls.append(entry)
        if self.log:
            self.log.write(json.dumps(entry, default=str) + '\n')

    def new_page_token(self, fingerprint, offset):
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.page_tokens[token] = (fingerprint, offset)
        return token

    def resolve_page_token(self, token, fingerprint, error=None):
        """The offset a NextToken stands for; ``error`` (an AwsError) is
        raised for a token this query did not hand out (default: EC2's)."""
        entry = self.page_tokens.get(token)
        if entry is None or entry[0] != fingerprint:
            raise error or AwsError('InvalidParameterValue',
                                    f'The value {token!r} for parameter nextToken is invalid')
        return entry[1]

    def page(self, items, fingerprint, token, limits, error=None, server_limit=True):
        """One page of ``items`` and the NextToken of the next (or None).

        ``fingerprint`` identifies the query (a token only serves the query
        that produced it); ``limits`` are the page sizes asked for (None
        entries ignored); the server's page size is added to them unless
        ``server_limit`` is false."""
        offset = 0
        if token is not None:
            offset = self.resolve_page_token(token, fingerprint, error)
        sizes = [n for n in (*limits, self.page_size if server_limit else None) if n]
        size = min(sizes) if sizes else max(len(items), 1)
        next_token = None
        if offset + size < len(items):
            next_token = self.new_page_token(fingerprint, offset + size)
        return items[offset:offset + size], next_token


# --------------------------------------------------------------------------
# EC2 actions
# --------------------------------------------------------------------------

def _wildcard_re(pattern):
    """AWS filter wildcards: * any run, ? one char, backslash escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == '\\' and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append('.*' if c == '*' else '.' if c == '?' else re.escape(c))
        i += 1
    return re.compile(''.join(out), re.S)


# Filter name -> function(instance) returning the candidate strings.
INSTANCE_FILTERS = {
    'instance-state-name': lambda i: [i['state']],
    'instance-state-code': lambda i: [str(STATE_CODES[i['state']])],
    'instance-id': lambda i: [i['id']],
    'instance-type': lambda i: [i['type']],
    'image-id': lambda i: [i['image_id']],
    'availability-zone': lambda i: [i['az']],
    'private-ip-address': lambda i: [i['private_ip']] if i['private_ip'] else [],
    'reservation-id': lambda i: [i['reservation_id']],
    'subnet-id': lambda i: [i['subnet_id']],
    'vpc-id': lambda i: [i['vpc_id']],
}


def _ec2_invalid_filter(name):
    return AwsError('InvalidParameterValue', f"The filter '{name}' is invalid")


def _compile_filters(filters, table, tags=lambda r: r['tags'], invalid=_ec2_invalid_filter):
    """[(getter, [patterns])] for request Filters.  ``table`` maps a filter
    name to a function(resource) -> candidate strings; ``tags`` (or None when
    the resource has none) serves tag:<key>, tag-key and tag-value."""
    compiled = []
    for f in filters:
        name = f.get('Name')
        if name is None:
            raise AwsError('InvalidParameterValue', 'The filter name must be specified')
        if tags is not None and name.startswith('tag:') and len(name) > 4:
            key = name[4:]
            getter = (lambda k: lambda r: [tags(r)[k]] if k in tags(r) else [])(key)
        elif tags is not None and name == 'tag-key':
            getter = lambda r: list(tags(r))
        elif tags is not None and name == 'tag-value':
            getter = lambda r: list(tags(r).values())
        elif name in table:
            getter = table[name]
        else:
            raise invalid(name)
        compiled.append((getter, [_wildcard_re(v) for v in f.get('Values', [])]))
    return compiled


def _match_filters(resource, compiled):
    """All filters must match; within one filter any value may match."""
    for getter, patterns in compiled:
        candidates = getter(resource)
        if not any(p.fullmatch(c) for p in patterns for c in candidates):
            return False
    return True


def _check_instance_ids(emu, ids):
    """All-or-nothing lookup as EC2 does; returns the instance dicts."""
    malformed = [i for i in ids if not INSTANCE_ID_RE.match(i)]
    if malformed:
        raise AwsError('InvalidInstanceID.Malformed', f'Invalid id: "{malformed[0]}"')
    by_id = {i['id']: i for i in emu.state['instances']}
    missing = [i for i in ids if i not in by_id]
    if len(missing) == 1:
        raise AwsError('InvalidInstanceID.NotFound',
                       f"The instance ID '{missing[0]}' does not exist")
    if missing:
        raise AwsError('InvalidInstanceID.NotFound',
                       f"The instance IDs '{', '.join(missing)}' do not exist")
    return [by_id[i] for i in ids]


def _dry_run(params):
    if params.get('DryRun'):
        raise AwsError('DryRunOperation',
                       'Request would have succeeded, but DryRun flag is set.', 412)


def _state(name):
    return {'Code': STATE_CODES[name], 'Name': name}


def _advance_transitions(emu):
    """Settle transient states as time passes (one describe = one tick)."""
    for inst in emu.state['instances']:
        if inst['state'] == 'stopping':
            inst['state'] = 'stopped'
        elif inst['state'] == 'shutting-down':
            inst['state'] = 'terminated'
        elif (inst['state'] == 'pending' and inst['running_after_describes'] is not None
              and inst['describes_seen'] >= inst['running_after_describes']):
            inst['state'] = 'running'


def _instance_output(emu, inst):
    tags = [{'Key': k, 'Value': v} for k, v in inst['tags'].items()]
    out = {
        'AmiLaunchIndex': 0,
        'ImageId': inst['image_id'],
        'InstanceId': inst['id'],
        'InstanceType': inst['type'],
        'KeyName': inst['key_name'],
        'LaunchTime': inst['launch_time'],
        'Monitoring': {'State': 'disabled'},
        'Placement': {'AvailabilityZone': inst['az'], 'GroupName': '', 'Tenancy': 'default'},
        # a null private_ip (as a terminated instance shows) leaves the members out
        'PrivateDnsName': (f'ip-{inst["private_ip"].replace(".", "-")}.{emu.region}.compute.internal'
                           if inst['private_ip'] else ''),
        'PrivateIpAddress': inst['private_ip'],
        'PublicDnsName': '',
        'PublicIpAddress': inst['public_ip'],
        'State': _state(inst['state']),
        'StateTransitionReason': '',
        'SubnetId': inst['subnet_id'],
        'VpcId': inst['vpc_id'],
        'Architecture': inst['architecture'],
        'Hypervisor': 'xen',
        'RootDeviceName': '/dev/xvda',
        'RootDeviceType': 'ebs',
        'VirtualizationType': 'hvm',
        'EbsOptimized': False,
        'EnaSupport': True,
        'SourceDestCheck': True,
        'HibernationOptions': {'Configured': bool(inst['hibernation'])},
        'NetworkInterfaces': [{
            'Attachment': {
                'AttachTime': inst['attach_time'],
                'AttachmentId': 'eni-attach-' + inst['id'][2:],
                'DeleteOnTermination': True,
                'DeviceIndex': 0,
                'Status': 'attached',
                'NetworkCardIndex': 0,
            },
            'NetworkInterfaceId': inst['eni_id'],
            'OwnerId': emu.state['account_id'],
            'PrivateIpAddress': inst['private_ip'],
            'Status': 'in-use',
            'SubnetId': inst['subnet_id'],
            'VpcId': inst['vpc_id'],
            'InterfaceType': 'interface',
        }],
    }
    if tags:
        out['Tags'] = tags
    if inst['state'] in ('stopped', 'stopping'):
        out['StateReason'] = {'Code': 'Client.UserInitiatedShutdown',
                              'Message': 'Client.UserInitiatedShutdown: User initiated shutdown'}
    return out


@action('ec2', 'DescribeInstances')
def ec2_describe_instances(emu, params, ctx):
    ids = params.get('InstanceIds', [])
    max_results = params.get('MaxResults')
    if ids and max_results is not None:
        raise AwsError('InvalidParameterCombination',
                       'The parameter instancesSet cannot be used with the parameter maxResults')
    if max_results is not None and not 5 <= max_results <= 1000:
        raise AwsError('InvalidParameterValue',
                       f'Value ( {max_results} ) for parameter maxResults is invalid. '
                       f'Expecting a value between 5 and 1000.')
    compiled = _compile_filters(params.get('Filters', []), INSTANCE_FILTERS)
    _dry_run(params)

    _advance_transitions(emu)
    pool = _check_instance_ids(emu, ids) if ids else list(emu.state['instances'])
    matched = [i for i in pool if _match_filters(i, compiled)]

    # Pagination: page by instances; the token remembers the query.
    fingerprint = json.dumps([ids, params.get('Filters', [])], sort_keys=True)
    offset = 0
    if 'NextToken' in params:
        offset = emu.resolve_page_token(params['NextToken'], fingerprint)
    sizes = [s for s in (max_results, emu.page_size) if s]
    page_size = min(sizes) if sizes else len(matched) or 1
    page = matched[offset:offset + page_size]
    next_token = None
    if offset + page_size < len(matched):
        next_token = emu.new_page_token(fingerprint, offset + page_size)

    # Group consecutive instances of one reservation.
    reservations = []
    for inst in page:
        if reservations and reservations[-1]['ReservationId'] == inst['reservation_id']:
            reservations[-1]['Instances'].append(_instance_output(emu, inst))
        else:
            reservations.append({'ReservationId': inst['reservation_id'],
                                 'OwnerId': emu.state['account_id'],
                                 'Groups': [],
                                 'Instances': [_instance_output(emu, inst)]})
    for inst in page:
        inst['describes_seen'] += 1
    return {'Reservations': reservations, 'NextToken': next_token}


def _state_change(inst, previous):
    return {'InstanceId': inst['id'], 'PreviousState': _state(previous),
            'CurrentState': _state(inst['state'])}


@action('ec2', 'StopInstances')
def ec2_stop_instances(emu, params, ctx):
    instances = _check_instance_ids(emu, params['InstanceIds'])
    _dry_run(params)
    for inst in instances:
        if inst['state'] in ('pending', 'shutting-down', 'terminated'):
            raise AwsError('IncorrectInstanceState',
                           f"This instance '{inst['id']}' is not in a state from which "
                           f"it can be stopped.")
    hibernate = params.get('Hibernate', False)
    if hibernate:
        for inst in instances:
            if not inst['hibernation']:
                raise AwsError('UnsupportedHibernationConfiguration',
                               f"The instance '{inst['id']}' does not have hibernation "
                               f"configured. Stop it without the Hibernate parameter.")
    changes = []
    for inst in instances:
        previous = inst['state']
        if previous == 'running':
            inst['state'] = 'stopping'
            inst['hibernated'] = bool(hibernate)
        changes.append(_state_change(inst, previous))
    return {'StoppingInstances': changes}


@action('ec2', 'StartInstances')
def ec2_start_instances(emu, params, ctx):
    instances = _check_instance_ids(emu, params['InstanceIds'])
    _dry_run(params)
    for inst in instances:
        if inst['state'] in ('stopping', 'shutting-down', 'terminated'):
            raise AwsError('IncorrectInstanceState',
                           f"The instance '{inst['id']}' is not in a state from which "
                           f"it can be started.")
    changes = []
    for inst in instances:
        previous = inst['state']
        if previous == 'stopped':
            inst['state'] = 'pending'
            inst['describes_seen'] = 0
            inst['hibernated'] = False
            if inst['running_after_describes'] is None:
                inst['running_after_describes'] = 1
            inst['launch_time'] = iso(utcnow())   # LaunchTime resets at every start
        changes.append(_state_change(inst, previous))
    return {'StartingInstances': changes}


@action('ec2', 'TerminateInstances')
def ec2_terminate_instances(emu, params, ctx):
    instances = _check_instance_ids(emu, params['InstanceIds'])
    _dry_run(params)
    for inst in instances:
        if inst['disable_api_termination']:
            raise AwsError('OperationNotPermitted',
                           f"The instance '{inst['id']}' may not be terminated. Modify its "
                           f"'disableApiTermination' instance attribute and try again.")
    changes = []
    for inst in instances:
        previous = inst['state']
        if previous != 'terminated':
            inst['state'] = 'shutting-down'
        changes.append(_state_change(inst, previous))
    return {'TerminatingInstances': changes}


# --------------------------------------------------------------------------
# EC2 images and snapshots
# --------------------------------------------------------------------------

OWNER_ALIASES = ('amazon', 'aws-marketplace', 'aws-backup-vault')

IMAGE_FILTERS = {
    'name': lambda i: [i['name']],
    'state': lambda i: [i['state']],
    'image-id': lambda i: [i['id']],
    'owner-id': lambda i: [i['owner_id']],
    'owner-alias': lambda i: [i['owner_alias']] if i['owner_alias'] else [],
    'is-public': lambda i: ['true' if i['public'] else 'false'],
    'description': lambda i: [i['description']],
    'architecture': lambda i: [i['architecture']],
}


def _owner_named(image, owners, account_id):
    for owner in owners:
        if owner == 'self' and image['owner_id'] == account_id:
            return True
        if owner in (image['owner_id'], image['owner_alias']):
            return True
    return False


def _image_not_found(ids):
    if len(ids) == 1:
        return AwsError('InvalidAMIID.NotFound', f"The image id '[{ids[0]}]' does not exist")
    return AwsError('InvalidAMIID.NotFound', f"The image ids '[{', '.join(ids)}]' do not exist")


def _check_image_id(image_id):
    if not AMI_ID_RE.match(image_id):
        raise AwsError('InvalidAMIID.Malformed', f'Invalid id: "{image_id}" (expecting "ami-...")')


def _not_owner(what):
    # Another account's image or snapshot may be visible (public) but is
    # not ours to delete.
    return AwsError('UnauthorizedOperation',
                    f'You are not authorized to perform this operation on {what}.', 403)


def _image_output(emu, img):
    sizes = {s['id']: s['volume_size'] for s in emu.state['snapshots']}
    mappings = [{
        'DeviceName': f'/dev/xvd{chr(ord("a") + n)}',
        'Ebs': {'DeleteOnTermination': True, 'SnapshotId': sid,
                'VolumeSize': sizes.get(sid, 8), 'VolumeType': 'gp3', 'Encrypted': False},
    } for n, sid in enumerate(img['snapshots'])]
    out = {
        'Architecture': img['architecture'],
        'CreationDate': img['creation_date'],
        'ImageId': img['id'],
        'ImageLocation': f'{img["owner_alias"] or img["owner_id"]}/{img["name"]}',
        'ImageType': 'machine',
        'Public': img['public'],
        'OwnerId': img['owner_id'],
        'PlatformDetails': 'Linux/UNIX',
        'UsageOperation': 'RunInstances',
        'State': img['state'],
        'BlockDeviceMappings': mappings,
        'Description': img['description'] or None,
        'EnaSupport': True,
        'Hypervisor': 'xen',
        'ImageOwnerAlias': img['owner_alias'],
        'Name': img['name'],
        'RootDeviceName': '/dev/xvda',
        'RootDeviceType': 'ebs',
        'SriovNetSupport': 'simple',
        'VirtualizationType': 'hvm',
        'DeprecationTime': img['deprecation_time'],
    }
    if img['tags']:
        out['Tags'] = [{'Key': k, 'Value': v} for k, v in img['tags'].items()]
    return out


@action('ec2', 'DescribeImages')
def ec2_describe_images(emu, params, ctx):
    ids = params.get('ImageIds', [])
    owners = params.get('Owners', [])
    max_results = params.get('MaxResults')
    if params.get('ExecutableUsers'):
        raise AwsError('EmulatorNotImplemented',
                       'The emulator does not model launch permissions (ExecutableUsers)', 501)
    if ids and max_results is not None:
        raise AwsError('InvalidParameterCombination',
                       'The parameter imagesSet cannot be used with the parameter maxResults')
    if max_results is not None and not 5 <= max_results <= 1000:
        raise AwsError('InvalidParameterValue',
                       f'Value ( {max_results} ) for parameter maxResults is invalid. '
                       f'Expecting a value between 5 and 1000.')
    for owner in owners:
        if owner != 'self' and owner not in OWNER_ALIASES and not ACCOUNT_ID_RE.match(owner):
            raise AwsError('InvalidUserID.Malformed', f'Invalid user id: "{owner}"')
    compiled = _compile_filters(params.get('Filters', []), IMAGE_FILTERS)
    for image_id in ids:
        _check_image_id(image_id)
    _dry_run(params)

    account_id = emu.state['account_id']
    # Ours, public ones, and another account's when Owners names it.
    pool = [i for i in emu.state['images']
            if i['owner_id'] == account_id or i['public'] or _owner_named(i, owners, account_id)]
    if ids:
        by_id = {i['id']: i for i in pool}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            raise _image_not_found(missing)
        pool = [by_id[i] for i in dict.fromkeys(ids)]
    if owners:
        pool = [i for i in pool if _owner_named(i, owners, account_id)]
    if not params.get('IncludeDeprecated'):
        pool = [i for i in pool if not i['deprecated']]
    if not params.get('IncludeDisabled'):
        pool = [i for i in pool if not i['disabled']]
    matched = [i for i in pool if _match_filters(i, compiled)]

    # Not paginated unless MaxResults asks for it (older clients rely on
    # getting everything at once).
    fingerprint = json.dumps(['DescribeImages', ids, owners, params.get('Filters', []),
                              bool(params.get('IncludeDeprecated')),
                              bool(params.get('IncludeDisabled'))], sort_keys=True)
    page, next_token = emu.page(matched, fingerprint, params.get('NextToken'), [max_results],
                                server_limit=max_results is not None)
    return {'Images': [_image_output(emu, i) for i in page], 'NextToken': next_token}


@action('ec2', 'DeregisterImage')
def ec2_deregister_image(emu, params, ctx):
    image_id = params['ImageId']
    _check_image_id(image_id)
    image = next((i for i in emu.state['images'] if i['id'] == image_id), None)
    if image is None:
        raise _image_not_found([image_id])
    if image['owner_id'] != emu.state['account_id']:
        raise _not_owner(image_id)
    _dry_run(params)
    # Its snapshots stay, as in AWS: deleting them is a separate call.
    emu.state['images'].remove(image)
    return {}


@action('ec2', 'DeleteSnapshot')
def ec2_delete_snapshot(emu, params, ctx):
    snapshot_id = params['SnapshotId']
    if not SNAPSHOT_ID_RE.match(snapshot_id):
        raise AwsError('InvalidSnapshot.Malformed',
                       f'Invalid id: "{snapshot_id}" (expecting "snap-...")')
    snapshot = next((s for s in emu.state['snapshots'] if s['id'] == snapshot_id), None)
    if snapshot is None:
        raise AwsError('InvalidSnapshot.NotFound', f"The snapshot '{snapshot_id}' does not exist.")
    if snapshot['owner_id'] != emu.state['account_id']:
        raise _not_owner(snapshot_id)
    _dry_run(params)
    # Any registered image counts, deprecated and disabled ones too.
    users = [i['id'] for i in emu.state['images'] if snapshot_id in i['snapshots']]
    if users:
        raise AwsError('InvalidSnapshot.InUse',
                       f'The snapshot {snapshot_id} is currently in use by {users[0]}')
    emu.state['snapshots'].remove(snapshot)
    return {}


SNAPSHOT_FILTERS = {
    'snapshot-id': lambda s: [s['id']],
    'owner-id': lambda s: [s['owner_id']],
    'status': lambda s: ['completed'],
    'volume-size': lambda s: [str(s['volume_size'])],
    'encrypted': lambda s: ['false'],
}
# when a seed snapshot has no start_time (a fixed time keeps a state re-POSTable)
SNAPSHOT_DEFAULT_START = '2026-01-01T00:00:00.000Z'


def _snapshot_output(s):
    out = {'SnapshotId': s['id'], 'OwnerId': s['owner_id'], 'State': 'completed',
           'Progress': '100%', 'VolumeSize': s['volume_size'], 'Encrypted': False,
           'VolumeId': 'vol-' + s['id'][5:], 'Description': '', 'StorageTier': 'standard',
           'StartTime': s['start_time'] or SNAPSHOT_DEFAULT_START}
    if s['tags']:
        out['Tags'] = [{'Key': k, 'Value': v} for k, v in s['tags'].items()]
    return out


@action('ec2', 'DescribeSnapshots')
def ec2_describe_snapshots(emu, params, ctx):
    ids = params.get('SnapshotIds', [])
    owners = params.get('OwnerIds', [])
    max_results = params.get('MaxResults')
    if params.get('RestorableByUserIds'):
        raise AwsError('EmulatorNotImplemented',
                       'The emulator does not model snapshot permissions (RestorableByUserIds)',
                       501)
    if ids and max_results is not None:
        raise AwsError('InvalidParameterCombination',
                       'The parameter snapshotSet cannot be used with the parameter maxResults')
    if max_results is not None and not 5 <= max_results <= 1000:
        raise AwsError('InvalidParameterValue',
                       f'Value ( {max_results} ) for parameter maxResults is invalid. '
                       f'Expecting a value between 5 and 1000.')
    for owner in owners:
        if owner != 'self' and owner not in OWNER_ALIASES and not ACCOUNT_ID_RE.match(owner):
            raise AwsError('InvalidUserID.Malformed', f'Invalid user id: "{owner}"')
    compiled = _compile_filters(params.get('Filters', []), SNAPSHOT_FILTERS)
    for sid in ids:
        if not SNAPSHOT_ID_RE.match(sid):
            raise AwsError('InvalidSnapshot.Malformed', f'Invalid id: "{sid}" (expecting "snap-...")')
    _dry_run(params)

    account_id = emu.state['account_id']
    named = lambda s: any((o == 'self' and s['owner_id'] == account_id) or o == s['owner_id']
                          for o in owners)
    # Ours, and another account's when Owners names it (sharing is not modelled).
    pool = [s for s in emu.state['snapshots'] if s['owner_id'] == account_id or named(s)]
    if ids:
        by_id = {s['id']: s for s in pool}
        missing = [i for i in dict.fromkeys(ids) if i not in by_id]
        if missing:
            raise AwsError('InvalidSnapshot.NotFound',
                           f"The snapshot '{missing[0]}' does not exist.")
        pool = [by_id[i] for i in dict.fromkeys(ids)]
    if owners:
        pool = [s for s in pool if named(s)]
    matched = [s for s in pool if _match_filters(s, compiled)]
    fingerprint = json.dumps(['DescribeSnapshots', ids, owners, params.get('Filters', [])],
                             sort_keys=True)
    page, next_token = emu.page(matched, fingerprint, params.get('NextToken'), [max_results],
                                server_limit=max_results is not None)
    return {'Snapshots': [_snapshot_output(s) for s in page], 'NextToken': next_token}


MAX_TAGS_PER_RESOURCE = 50


def _taggable(emu, resource_id):
    """The state record a CreateTags resource id names (all-or-nothing checks)."""
    account_id = emu.state['account_id']
    if resource_id.startswith('snap-'):
        if not SNAPSHOT_ID_RE.match(resource_id):
            raise AwsError('InvalidSnapshot.Malformed', f'Invalid id: "{resource_id}"')
        found = next((s for s in emu.state['snapshots'] if s['id'] == resource_id), None)
        if found is None:
            raise AwsError('InvalidSnapshot.NotFound',
                           f"The snapshot '{resource_id}' does not exist.")
    elif resource_id.startswith('ami-'):
        _check_image_id(resource_id)
        found = next((i for i in emu.state['images'] if i['id'] == resource_id), None)
        if found is None:
            raise _image_not_found([resource_id])
    elif resource_id.startswith('i-'):
        return _check_instance_ids(emu, [resource_id])[0]
    else:
        raise AwsError('InvalidID', f'The ID \'{resource_id}\' is not valid')
    if found['owner_id'] != account_id:
        raise _not_owner(resource_id)
    return found


@action('ec2', 'CreateTags')
def ec2_create_tags(emu, params, ctx):
    resource_ids = params.get('Resources', [])
    tags = params.get('Tags', [])
    if not resource_ids:
        raise AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet')
    if len(resource_ids) > 1000:
        raise AwsError('InvalidParameterValue', 'Up to 1000 resource IDs may be tagged at once')
    if not tags:
        raise AwsError('MissingParameter', 'The request must contain the parameter tagSet')
    for t in tags:
        key, value = t.get('Key'), t.get('Value', '')
        if not key or len(key) > 128:
            raise AwsError('InvalidParameterValue',
                           'Tag keys must be between 1 and 128 characters long')
        if key.lower().startswith('aws:'):
            raise AwsError('InvalidParameterValue',
                           'Tag keys starting with \'aws:\' are reserved for internal use')
        if len(value) > 256:
            raise AwsError('InvalidParameterValue', 'Tag values may be at most 256 characters long')
    records = [_taggable(emu, r) for r in resource_ids]
    _dry_run(params)
    for rec in records:
        if len(set(rec['tags']) | {t['Key'] for t in tags}) > MAX_TAGS_PER_RESOURCE:
            raise AwsError('TagLimitExceeded',
                           f'The maximum number of Tags for a resource has been reached.')
    for rec in records:
        for t in tags:
            rec['tags'][t['Key']] = t.get('Value', '')
    return {}


@action('ec2', 'DeleteTags')
def ec2_delete_tags(emu, params, ctx):
    """A tag given by key alone goes whatever its value; with a value, only
    when the value matches. A tag the resource does not have is no error."""
    resource_ids = params.get('Resources', [])
    if not resource_ids:
        raise AwsError('MissingParameter', 'The request must contain the parameter resourceIdSet')
    if len(resource_ids) > 1000:
        raise AwsError('InvalidParameterValue', 'Up to 1000 resource IDs may be untagged at once')
    tags = params.get('Tags')
    for t in tags or []:
        if not t.get('Key'):
            raise AwsError('InvalidParameterValue', 'Tag keys must not be empty')
        if t['Key'].lower().startswith('aws:'):
            raise AwsError('InvalidParameterValue',
                           'Tag keys starting with \'aws:\' are reserved for internal use')
    records = [_taggable(emu, r) for r in resource_ids]
    _dry_run(params)
    for rec in records:
        if tags is None:
            # no Tags at all: every tag but aws: ones goes
            for k in [k for k in rec['tags'] if not k.lower().startswith('aws:')]:
                del rec['tags'][k]
            continue
        for t in tags:
            if t['Key'] in rec['tags'] and ('Value' not in t or
                                           rec['tags'][t['Key']] == t['Value']):
                del rec['tags'][t['Key']]
    return {}


# --------------------------------------------------------------------------
# EC2 launch templates
# --------------------------------------------------------------------------

LAUNCH_TEMPLATE_FILTERS = {
    'launch-template-name': lambda t: [t['name']],
}

# Filters on (template, version) pairs.
LAUNCH_TEMPLATE_VERSION_FILTERS = {
    'image-id': lambda tv: [tv[1]['image_id']] if tv[1]['image_id'] else [],
    'instance-type': lambda tv: [tv[1]['instance_type']] if tv[1]['instance_type'] else [],
    'is-default-version': lambda tv: ['true' if tv[1]['number'] == tv[0]['default_version']
                                      else 'false'],
}


def _launch_template_by_id(emu, template_id):
    if not LAUNCH_TEMPLATE_ID_RE.match(template_id):
        raise AwsError('InvalidLaunchTemplateId.Malformed',
                       f'The specified launch template ID ({template_id}) is malformed.')
    found = next((t for t in emu.state['launch_templates'] if t['id'] == template_id), None)
    if found is None:
        raise AwsError('InvalidLaunchTemplateId.NotFound',
                       f'The specified launch template, with template ID {template_id}, '
                       f'does not exist.')
    return found


def _launch_template_by_name(emu, name):
    if not LAUNCH_TEMPLATE_NAME_RE.match(name):
        raise AwsError('InvalidLaunchTemplateName.MalformedException',
                       'A launch template name must be between 3 and 128 characters, and may '
                       'contain letters, numbers, and the following characters: - ( ) . / _.')
    found = next((t for t in emu.state['launch_templates'] if t['name'] == name), None)
    if found is None:
        raise AwsError('InvalidLaunchTemplateName.NotFoundException',
                       f'The specified launch template, with template name {name}, '
                       f'does not exist.')
    return found


def _latest_version(template):
    return template['versions'][-1]['number']   # kept sorted


def _template_version(template, number):
    return next(v for v in template['versions'] if v['number'] == number)


def _template_version_output(template, version):
    data = {}
    if version['image_id'] is not None:
        data['ImageId'] = version['image_id']
    if version['instance_type'] is not None:
        data['InstanceType'] = version['instance_type']
    return {
        'LaunchTemplateId': template['id'],
        'LaunchTemplateName': template['name'],
        'VersionNumber': version['number'],
        'VersionDescription': version['description'],
        'CreateTime': version['create_time'],
        'CreatedBy': template['created_by'],
        'DefaultVersion': version['number'] == template['default_version'],
        'LaunchTemplateData': data,
    }


def _version_number(text, what):
    if not VERSION_NUMBER_RE.match(text):
        raise AwsError('InvalidParameterValue',
                       f"The value '{text}' for parameter {what} is invalid. Specify $Latest, "
                       f"$Default or a version number.")
    return int(text)


@action('ec2', 'DescribeLaunchTemplateVersions')
def ec2_describe_launch_template_versions(emu, params, ctx):
    template_id = params.get('LaunchTemplateId')
    template_name = params.get('LaunchTemplateName')
    versions = params.get('Versions', [])
    max_results = params.get('MaxResults')
    if template_id is not None and template_name is not None:
        raise AwsError('InvalidParameterCombination',
                       'The parameter LaunchTemplateName cannot be used with the parameter '
                       'LaunchTemplateId')
    if max_results is not None and not 1 <= max_results <= 200:
        raise AwsError('InvalidParameterValue',
                       f'Value ( {max_results} ) for parameter maxResults is invalid. '
                       f'Expecting a value between 1 and 200.')
    bounds = [_version_number(params[k], k) if k in params else None
              for k in ('MinVersion', 'MaxVersion')]
    compiled = _compile_filters(params.get('Filters', []), LAUNCH_TEMPLATE_VERSION_FILTERS,
                                tags=None)

    if template_id is None and template_name is None:
        # Every template in the account: only their $Latest and/or $Default.
        if (not versions or any(v not in ('$Latest', '$Default') for v in versions)
                or any(b is not None for b in bounds)):
            raise AwsError('MissingParameter',
                           'To describe the launch template data of every launch template, '
                           'give Versions $Latest, $Default or both, and no LaunchTemplateId, '
                           'LaunchTemplateName, version numbers, MinVersion or MaxVersion. '
                           'To describe one launch template, give its LaunchTemplateId or '
                           'LaunchTemplateName.')
        _dry_run(params)
        pairs = []
        for t in emu.state['launch_templates']:
            numbers = {_latest_version(t) if v == '$Latest' else t['default_version']
                       for v in versions}
            # a template whose $Latest is its $Default appears once
            pairs += [(t, _template_version(t, n)) for n in sorted(numbers, reverse=True)]
    else:
        template = (_launch_template_by_id(emu, template_id) if template_id is not None
                    else _launch_template_by_name(emu, template_name))
        existing = {v['number'] for v in template['versions']}
        numbers = set()
        for v in versions:
            if v == '$Latest':
                numbers.add(_latest_version(template))
            elif v == '$Default':
                numbers.add(template['default_version'])
            else:
                n = _version_number(v, 'LaunchTemplateVersion')
                if n not in existing:
                    raise AwsError('InvalidLaunchTemplateId.VersionNotFound',
                                   f'Could not find the specified version {v} for the '
                                   f'launch template with ID {template["id"]}.')
                numbers.add(n)
        _dry_run(params)
        if not versions:
            numbers = existing
        lo, hi = bounds
        numbers = [n for n in numbers if (lo is None or n >= lo) and (hi is None or n <= hi)]
        pairs = [(template, _template_version(template, n)) for n in sorted(numbers, reverse=True)]

    matched = [tv for tv in pairs if _match_filters(tv, compiled)]
    fingerprint = json.dumps(['DescribeLaunchTemplateVersions', template_id, template_name,
                              versions, bounds, params.get('Filters', [])], sort_keys=True)
    page, next_token = emu.page(matched, fingerprint, params.get('NextToken'), [max_results])
    return {'LaunchTemplateVersions': [_template_version_output(t, v) for t, v in page],
            'NextToken': next_token}


@action('ec2', 'DescribeLaunchTemplates')
def ec2_describe_launch_templates(emu, params, ctx):
    ids = params.get('LaunchTemplateIds', [])
    names = params.get('LaunchTemplateNames', [])
    max_results = params.get('MaxResults')   # 1-200, checked by the model
    compiled = _compile_filters(params.get('Filters', []), LAUNCH_TEMPLATE_FILTERS)
    named = ([_launch_template_by_id(emu, i) for i in ids]
             + [_launch_template_by_name(emu, n) for n in names])
    _dry_run(params)
    if ids or names:
        chosen = {t['id'] for t in named}
        pool = [t for t in emu.state['launch_templates'] if t['id'] in chosen]
    else:
        pool = list(emu.state['launch_templates'])
    matched = [t for t in pool if _match_filters(t, compiled)]
    fingerprint = json.dumps(['DescribeLaunchTemplates', ids, names, params.get('Filters', [])],
                             sort_keys=True)
    page, next_token = emu.page(matched, fingerprint, params.get('NextToken'), [max_results])
    out = []
    for t in page:
        item = {'LaunchTemplateId': t['id'], 'LaunchTemplateName': t['name'],
                'CreateTime': t['create_time'], 'CreatedBy': t['created_by'],
                'DefaultVersionNumber': t['default_version'],
                'LatestVersionNumber': _latest_version(t)}
        if t['tags']:
            item['Tags'] = [{'Key': k, 'Value': v} for k, v in t['tags'].items()]
        out.append(item)
    return {'LaunchTemplates': out, 'NextToken': next_token}


# --------------------------------------------------------------------------
# Auto Scaling
# --------------------------------------------------------------------------

# Auto Scaling answers at most MaxRecords (1-100, default 50) per page.
AUTOSCALING_DEFAULT_RECORDS = 50
AUTOSCALING_MAX_RECORDS = 100
MAX_LAUNCH_CONFIGURATION_NAMES = 50


def _validation_error(message):
    return AwsError('ValidationError', f'1 validation error detected: {message}')


def _check_max_records(max_records):
    if max_records is None:
        return
    if max_records < 1:
        raise _validation_error(f"Value '{max_records}' at 'maxRecords' failed to satisfy "
                                f'constraint: Member must have value greater than or equal to 1')
    if max_records > AUTOSCALING_MAX_RECORDS:
        raise _validation_error(f"Value '{max_records}' at 'maxRecords' failed to satisfy "
                                f'constraint: Member must have value less than or equal to '
                                f'{AUTOSCALING_MAX_RECORDS}')


def _invalid_next_token(token):
    return AwsError('InvalidNextToken', f"The token '{token}' is invalid.")


def _asg_invalid_filter(name):
    return AwsError('ValidationError',
                    f"The filter '{name}' is not valid. Valid filters are tag-key, tag-value "
                    f'and tag:<key>.')


def _asg_template_spec(ref):
    if ref is None:
        return None
    return {'LaunchTemplateId': ref['id'], 'LaunchTemplateName': ref['name'],
            'Version': ref['version']}


def _asg_output(emu, g):
    policy = g['mixed_instances_policy']
    mixed = None
    if policy is not None:
        mixed = {
            'LaunchTemplate': {
                'LaunchTemplateSpecification': _asg_template_spec(policy['launch_template']),
                'Overrides': [{
                    'InstanceType': o['instance_type'],
                    'WeightedCapacity': o['weighted_capacity'],
                    'LaunchTemplateSpecification': _asg_template_spec(o['launch_template']),
                } for o in policy['overrides']],
            },
            'InstancesDistribution': dict(policy['instances_distribution']),
        }
    account_id = emu.state['account_id']
    return {
        'AutoScalingGroupName': g['name'],
        'AutoScalingGroupARN': g['arn'],
        'LaunchConfigurationName': g['launch_configuration'],
        'LaunchTemplate': _asg_template_spec(g['launch_template']),
        'MixedInstancesPolicy': mixed,
        'MinSize': g['min_size'],
        'MaxSize': g['max_size'],
        'DesiredCapacity': g['desired_capacity'],
        'DefaultCooldown': g['default_cooldown'],
        'AvailabilityZones': list(g['availability_zones']),
        'LoadBalancerNames': [],
        'TargetGroupARNs': [],
        'HealthCheckType': g['health_check_type'],
        'HealthCheckGracePeriod': g['health_check_grace_period'],
        'Instances': [{
            'InstanceId': m['id'],
            'InstanceType': m['instance_type'],
            'AvailabilityZone': m['az'],
            'LifecycleState': m['lifecycle_state'],
            'HealthStatus': m['health_status'],
            'LaunchConfigurationName': m['launch_configuration'],
            'LaunchTemplate': _asg_template_spec(m['launch_template']),
            'ProtectedFromScaleIn': m['protected_from_scale_in'],
        } for m in g['instances']],
        'CreatedTime': g['created_time'],
        'SuspendedProcesses': [],
        'EnabledMetrics': [],
        'Tags': [{'ResourceId': g['name'], 'ResourceType': 'auto-scaling-group',
                  'Key': k, 'Value': v, 'PropagateAtLaunch': True}
                 for k, v in g['tags'].items()],
        'TerminationPolicies': ['Default'],
        'NewInstancesProtectedFromScaleIn': False,
        'ServiceLinkedRoleARN': (f'arn:aws:iam::{account_id}:role/aws-service-role/'
                                 f'autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling'),
        'CapacityRebalance': False,
    }


@action('autoscaling', 'DescribeAutoScalingGroups')
def autoscaling_describe_groups(emu, params, ctx):
    names = params.get('AutoScalingGroupNames') or []
    max_records = params.get('MaxRecords')
    _check_max_records(max_records)
    compiled = _compile_filters(params.get('Filters', []), {}, invalid=_asg_invalid_filter)
    # Auto Scaling lists groups by name; names it does not know are left out.
    groups = sorted(emu.state['auto_scaling_groups'], key=lambda g: g['name'])
    if names:
        groups = [g for g in groups if g['name'] in set(names)]
    matched = [g for g in groups if _match_filters(g, compiled)]
    fingerprint = json.dumps(['DescribeAutoScalingGroups', names, params.get('Filters', [])],
                             sort_keys=True)
    token = params.get('NextToken')
    page, next_token = emu.page(matched, fingerprint, token,
                                [max_records or AUTOSCALING_DEFAULT_RECORDS],
                                error=_invalid_next_token(token))
    return {'AutoScalingGroups': [_asg_output(emu, g) for g in page], 'NextToken': next_token}


@action('autoscaling', 'DescribeLaunchConfigurations')
def autoscaling_describe_launch_configurations(emu, params, ctx):
    names = params.get('LaunchConfigurationNames') or []
    max_records = params.get('MaxRecords')
    if len(names) > MAX_LAUNCH_CONFIGURATION_NAMES:
        raise _validation_error(f"Value of {len(names)} names at 'launchConfigurationNames' "
                                f'failed to satisfy constraint: Member must have length less '
                                f'than or equal to {MAX_LAUNCH_CONFIGURATION_NAMES}')
    _check_max_records(max_records)
    configs = sorted(emu.state['launch_configurations'], key=lambda c: c['name'])
    if names:
        configs = [c for c in configs if c['name'] in set(names)]
    fingerprint = json.dumps(['DescribeLaunchConfigurations', names], sort_keys=True)
    token = params.get('NextToken')
    page, next_token = emu.page(configs, fingerprint, token,
                                [max_records or AUTOSCALING_DEFAULT_RECORDS],
                                error=_invalid_next_token(token))
    return {'LaunchConfigurations': [{
        'LaunchConfigurationName': c['name'],
        'LaunchConfigurationARN': c['arn'],
        'ImageId': c['image_id'],
        'KeyName': None,
        'SecurityGroups': [],
        'ClassicLinkVPCSecurityGroups': [],
        'UserData': '',
        'InstanceType': c['instance_type'],
        'KernelId': None,
        'RamdiskId': None,
        'BlockDeviceMappings': [],
        'InstanceMonitoring': {'Enabled': True},
        'CreatedTime': c['created_time'],
        'EbsOptimized': False,
    } for c in page], 'NextToken': next_token}


# --------------------------------------------------------------------------
# SSM Parameter Store
# --------------------------------------------------------------------------

_PARAMETER_ARN_RE = re.compile(r'^arn:aws:ssm:([^:]+):([0-9]{12}):parameter/(.+)$')


def _opaque_ciphertext(emu, param):
    """What GetParameter answers for a SecureString read without decryption:
    base64 bytes that look like a KMS envelope and depend on the value only
    through a keyed hash, so nothing of the value can be read back."""
    value = param['value'].encode()
    digest = hmac.new(emu.kms_key, b'\0'.join(
        [param['name'].encode(), str(param['version']).encode(), value]), hashlib.sha256).digest()
    filler = b''.join(hmac.new(emu.kms_key, digest + n.to_bytes(4, 'big'), hashlib.sha256).digest()
                      for n in range(len(value) // 32 + 1))
    return base64.b64encode(b'\x01\x02\x02\x00\x78' + digest + filler[:len(value)]).decode()


def _parameter_not_found():
    # SSM says no more than the code.
    return AwsError('ParameterNotFound', '')


@action('ssm', 'GetParameter')
def ssm_get_parameter(emu, params, ctx):
    name = params['Name']
    decrypt = params.get('WithDecryption', False)
    arn = _PARAMETER_ARN_RE.match(name)
    if arn:
        region, account_id, path = arn.groups()
        if (region, account_id) != (emu.region, emu.state['account_id']):
            raise _parameter_not_found()
        candidates_of = lambda base: ['/' + base, base]   # "a/b" in an ARN is "/a/b"
        rest = path
    else:
        candidates_of = lambda base: [base]
        rest = name
    # "name:3" selects a version (labels are not modelled).
    base, sep, selector = rest.rpartition(':')
    if not sep:
        base, selector = rest, None
    by_name = {p['name']: p for p in emu.state['parameters']}
    param = next((by_name[c] for c in candidates_of(base) if c in by_name), None)
    if param is None:
        raise _parameter_not_found()
    if selector is not None and selector != str(param['version']):
        raise AwsError('ParameterVersionNotFound',
                       f'Systems Manager could not find version {selector} of {param["name"]}. '
                       f'Verify the version and try again.')
    if param['type'] == 'SecureString' and decrypt:
        if 'kms:Decrypt' in emu.state['denied_actions']:
            raise AwsError('AccessDeniedException',
                           f'The caller is not authorized to perform kms:Decrypt on the key '
                           f'of parameter {param["name"]}.')
        value = param['value']
    elif param['type'] == 'SecureString':
        value = _opaque_ciphertext(emu, param)
    else:
        value = param['value']
    return {'Parameter': {
        'Name': param['name'],
        'Type': param['type'],
        'Value': value,
        'Version': param['version'],
        'Selector': f':{selector}' if selector is not None else None,
        'LastModifiedDate': param['last_modified_date'],
        'ARN': param['arn'],
        'DataType': param['data_type'],
    }}


# Auto Scaling changes, Run Command, managed instances: awsemu_scaling.py
import awsemu_scaling  # noqa: E402

awsemu_scaling.install(sys.modules[__name__])


# --------------------------------------------------------------------------
# HTTP front end
# --------------------------------------------------------------------------

class Reply:
    """What the handler should do with the connection."""

    def __init__(self, status=200, body=b'', content_type='application/json',
                 headers=None, fault=None, then=None, delay_s=0.0):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.fault = fault          # None | 'reset' | 'truncate' | 'withhold'
        self.then = then            # called once the reply is written
        self.delay_s = delay_s      # 'withhold': how long before the reset


def _guess_protocol(headers, body):
    """Protocol for an error when the signature scope cannot tell the service."""
    if headers.get('X-Amz-Target'):
        return 'json'
    if b'Version=2016-11-15' in body:
        return 'ec2'
    return 'query'


def handle_aws(emu, method, url, headers, body, connection=None):
    """Process one AWS API request; return a Reply (and record the call).

    ``connection`` names the client's TCP connection ("host:port"), so tests
    can see whether a client reuses its connections."""
    request_id = str(uuid.uuid4())
    call = {'service': None, 'action': None, 'params': None, 'raw': None,
            'status': None, 'error_code': None, 'fault': None,
            'request_id': request_id, 'time': time.time(), 'connection': connection}
    svc = None
    protocol = _guess_protocol(headers, body)
    op = None
    fault = None
    stale = False
    try:
        auth = headers.get('Authorization', '')
        m = re.search(r'Credential=[^/]*/[^/]*/[^/]*/([^/,\s]*)/', auth)
        if m and m.group(1) in services():
            svc = services()[m.group(1)]
            protocol = svc.protocol
            call['service'] = svc.name
        elif m:
            raise protocol_error(protocol, 'bad_signature',
                                 f'Unknown service {m.group(1)!r} in credential scope')

        # Decode the request far enough to name the action.
        if method != 'POST' or urlsplit(url).path != '/':
            raise protocol_error(protocol, 'invalid_value',
                                 f'Only POST / is supported (got {method} {urlsplit(url).path})')
        ctype = headers.get('Content-Type', '')
        if protocol == 'json':
            target = headers.get('X-Amz-Target', '')
            prefix, _, op_name = target.partition('.')
            call['action'] = op_name or target
            if ctype != 'application/x-amz-json-1.1':
                raise protocol_error(protocol, 'invalid_type',
                                     f'Content-Type must be application/x-amz-json-1.1, got {ctype!r}')
            try:
                raw = json.loads(body.decode('utf-8')) if body else {}
            except ValueError as e:
                raise protocol_error(protocol, 'invalid_type', f'Request body is not JSON: {e}') from None
            call['raw'] = raw
        else:
            if not ctype.startswith('application/x-www-form-urlencoded'):
                raise protocol_error(protocol, 'invalid_value',
                                     f'Content-Type must be application/x-www-form-urlencoded, got {ctype!r}')
            try:
                pairs = parse_qsl(body.decode('utf-8'), keep_blank_values=True,
                                  strict_parsing=bool(body), errors='strict')
            except (ValueError, UnicodeDecodeError) as e:
                raise protocol_error(protocol, 'invalid_value', f'Malformed form body: {e}') from None
            call['raw'] = dict(pairs)
            op_name = call['raw'].get('Action')
            call['action'] = op_name

        # Faults are injected once the call is identified (before auth).
        fault = emu.take_fault(call['service'], call['action'])
        if fault:
            call['fault'] = fault['kind']
            if fault['kind'] == 'slow':
                epoch = emu.epoch
                time.sleep(fault['delay_s'])
                if emu.epoch != epoch:
                    # the state or the call log was reset meanwhile: this call's
                    # test is over; running it would touch the next test's account
                    stale = True
                    return Reply(fault='reset')
            elif fault['kind'] == 'throttle':
                raise protocol_error(protocol, 'throttle', 'Rate exceeded')
            elif fault['kind'] == 'error500':
                raise protocol_error(protocol, 'internal',
                                     'An internal error has occurred')
            elif fault['kind'] == 'reset':
                call['status'] = 0
                return Reply(fault='reset')
            elif fault['kind'] == 'malformed':
                call['status'] = 200
                ct = 'application/x-amz-json-1.1' if protocol == 'json' else 'text/xml;charset=UTF-8'
                junk = b'{"Reservations": [' if protocol == 'json' else b'<?xml version="1.0"?><Oops><unclosed>'
                return Reply(200, junk, ct)

        if svc is None:
            raise protocol_error(protocol, 'missing_auth',
                                 'Request is missing Authentication Token')
        with emu.lock:
            credentials = dict(emu.state['credentials'])
        verify_sigv4(protocol, method, url, headers, body, credentials, emu.region)

        # The action, its version and its parameters, per the model.
        if protocol == 'json':
            if prefix != svc.target_prefix or not op_name:
                raise protocol_error(protocol, 'unknown_action',
                                     f'X-Amz-Target {target!r} is not {svc.target_prefix}.<Operation>')
            op = svc.operation(op_name)
            if op is None:
                raise protocol_error(protocol, 'unknown_action', f'Unknown operation {op_name}')
            params = validate_json_params(raw, op.input_shape) if op.input_shape else {}
            if not op.input_shape and raw:
                raise protocol_error(protocol, 'unknown_param', 'This operation takes no input')
        else:
            pairs = [(k, v) for k, v in pairs if k not in ('Action', 'Version')]
            if not op_name:
                raise protocol_error(protocol, 'missing_action', 'The request must contain the parameter Action')
            op = svc.operation(op_name)
            if op is None:
                raise protocol_error(protocol, 'unknown_action',
                                     f'The action {op_name} is not valid for this web service.')
            version = call['raw'].get('Version')
            if version is None:
                raise protocol_error(protocol, 'missing_param', 'The request must contain the parameter Version')
            if version != svc.api_version:
                raise protocol_error(protocol, 'bad_version',
                                     f'The requested version ({version}) of service '
                                     f'{svc.name} does not exist (expected {svc.api_version})')
            params = parse_form_params(protocol, pairs, op.input_shape)
        call['params'] = params

        # like IAM, this is checked before the action runs, DryRun or not: a
        # dry run without the permission answers UnauthorizedOperation
        if f'{svc.name}:{op.name}' in emu.state['denied_actions']:
            raise protocol_error(protocol, 'denied',
                                 f'You are not authorized to perform this operation ({svc.name}:{op.name}).')
        handler = HANDLERS.get((svc.name, op.name))
        if handler is None:
            raise protocol_error(protocol, 'not_implemented',
                                 f'The emulator does not implement {svc.name}:{op.name} yet')
        with emu.lock:
            output = handler(emu, params, {'request_id': request_id})
        try:
            ctype, out = serialize_response(svc, op, output, request_id)
        except (KeyError, TypeError) as e:  # an emulator bug, not a client one
            raise protocol_error(protocol, 'internal', f'Emulator output error: {e}') from None
        call['status'] = 200
        reply = Reply(200, out, ctype, {'x-amzn-RequestId': request_id})
    except AwsError as err:
        call['status'] = err.status
        call['error_code'] = err.code
        call['error_message'] = err.message
        if err.detail:
            call['detail'] = err.detail
        ctype, out, extra = serialize_error(protocol, err, request_id)
        extra['x-amzn-RequestId'] = request_id
        reply = Reply(err.status, out, ctype, extra)
    except Exception as e:  # noqa: BLE001 - report emulator bugs to the client
        traceback.print_exc()
        err = protocol_error(protocol, 'internal', f'Emulator crashed: {e!r}')
        call['status'] = err.status
        call['error_code'] = err.code
        call['error_message'] = err.message
        ctype, out, extra = serialize_error(protocol, err, request_id)
        reply = Reply(err.status, out, ctype, extra)
    finally:
        if not stale:
            emu.record(call)
    if fault and fault['kind'] in LOST_ANSWER_KINDS:
        # The action ran (the call log shows its real outcome); its answer
        # never reaches the client.
        if fault['kind'] == 'truncate':
            reply.fault = 'truncate'
        elif fault['kind'] == 'lost_reset':
            reply = Reply(fault='reset')
        elif fault['kind'] == 'lost_timeout':
            reply = Reply(fault='withhold', delay_s=fault['delay_s'])
        else:
            err = protocol_error(protocol, 'internal', 'An internal error has occurred')
            ctype, out, extra = serialize_error(protocol, err, request_id)
            extra['x-amzn-RequestId'] = request_id
            reply = Reply(err.status, out, ctype, extra)
    return reply


def handle_control(emu, server, method, path, body):
    """The plain-JSON control API under /_emu/."""
    def ok(obj=None):
        return Reply(200, json.dumps(obj if obj is not None else {'ok': True},
                                     default=str).encode())
    try:
        data = json.loads(body) if body else None
        route = (method, path.rstrip('/'))
        if route == ('GET', '/_emu/health'):
            return ok({'ok': True, 'region': emu.region})
        if route == ('GET', '/_emu/state'):
            with emu.lock:
                return ok(emu.state)
        if route == ('POST', '/_emu/state'):
            emu.set_state(data or {})
            return ok()
        if route == ('GET', '/_emu/calls'):
            with emu.lock:
                return ok(list(emu.calls))
        if route == ('POST', '/_emu/calls/clear'):
            with emu.lock:
                emu.calls.clear()
                emu.epoch += 1
            return ok()
        if route == ('GET', '/_emu/faults'):
            with emu.lock:
                return ok(emu.faults)
        if route == ('POST', '/_emu/faults'):
            emu.set_faults(data or [])
            return ok()
        if route == ('POST', '/_emu/config'):
            if 'page_size' in (data or {}):
                ps = data['page_size']
                emu.page_size = int(ps) if ps else None
            return ok({'page_size': emu.page_size})
        if route == ('POST', '/_emu/shutdown'):
            # Only once the answer is out: the process exits right after
            # serving stops, and the caller must not see a cut reply.
            reply = ok()
            reply.then = lambda: threading.Thread(target=server.shutdown, daemon=True).start()
            return reply
        return Reply(404, json.dumps({'error': f'no control route {method} {path}'}).encode())
    except (ValueError, TypeError, KeyError) as e:
        return Reply(400, json.dumps({'error': str(e)}).encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive; every reply has Content-Length
    # headers and body go out as two writes: without this, Nagle's algorithm
    # holds the body until the client's delayed ACK (40 ms an answer)
    disable_nagle_algorithm = True
    server_version = 'AmazonEmulator'

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # quiet; calls are logged via --log
        pass

    def _read_body(self):
        if 'Transfer-Encoding' in self.headers:
            return None
        length = self.headers.get('Content-Length')
        if length is None:
            return b''   # RFC 9112: no length and no Transfer-Encoding = empty
        try:
            n = int(length)
        except ValueError:
            return None
        if not 0 <= n <= MAX_BODY_BYTES:
            return None
        return self.rfile.read(n)

    def _dispatch(self):
        emu = self.server.emu
        body = self._read_body()
        if body is None:
            # Chunked, oversized or bad length: we cannot find the next
            # request on this connection, so answer and close it.
            self.close_connection = True
            self._send(Reply(411, b'{"error":"a valid Content-Length is required"}'))
            return
        if self.path.startswith('/_emu/'):
            reply = handle_control(emu, self.server, self.command,
                                   urlsplit(self.path).path, body)
            self._send(reply)
            if reply.then:
                reply.then()
            return
        scheme = 'https' if self.server.tls else 'http'
        url = f'{scheme}://{self.headers.get("Host", "localhost")}{self.path}'
        peer = '%s:%s' % self.client_address[:2]
        self._send(handle_aws(emu, self.command, url, self.headers, body, connection=peer))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def _send(self, reply):
        if reply.fault == 'withhold':
            # longer than the client waits: it gives up, the action stands
            time.sleep(reply.delay_s)
            self._reset()
            return
        if reply.fault == 'reset':
            self._reset()
            return
        body = reply.body
        self.send_response(reply.status)
        self.send_header('Content-Type', reply.content_type)
        self.send_header('Content-Length', str(len(body)))
        for k, v in reply.headers.items():
            self.send_header(k, v)
        if reply.fault == 'truncate':
            self.send_header('Connection', 'close')
        self.end_headers()
        if reply.fault == 'truncate':
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _reset(self):
        """Abort the connection with a TCP RST (SO_LINGER 0), no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            # rfile holds a reference to the socket's fd: drop it so that
            # close() really closes (-> RST) before socketserver would send
            # a FIN with shutdown(SHUT_WR).  wfile becomes a dummy so the
            # base class can still flush it.
            self.rfile.close()
            self.wfile = io.BytesIO()
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, emu, tls_context=None):
        super().__init__(addr, Handler)
        self.emu = emu
        self.tls = tls_context is not None
        if tls_context is not None:
            # Handshake in the handler thread, not in the accept loop.
            self.socket = tls_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        # Clients dropping connections (timeouts, resets) are routine here.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--port-file')
    p.add_argument('--state', help='seed state JSON file')
    p.add_argument('--page-size', type=int, default=None)
    p.add_argument('--tls-cert')
    p.add_argument('--tls-key')
    p.add_argument('--region', default=None, help='overrides the state region')
    p.add_argument('--log', help='append one JSON line per AWS call')
    args = p.parse_args(argv)

    state = {}
    if args.state:
        with open(args.state) as f:
            state = json.load(f)
    if args.region:
        state['region'] = args.region
    services()  # load models before announcing the port
    emu = Emulator(state, page_size=args.page_size, log_path=args.log)

    ctx = None
    if args.tls_cert or args.tls_key:
        if not (args.tls_cert and args.tls_key):
            p.error('--tls-cert and --tls-key go together')
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    server = Server((args.host, args.port), emu, ctx)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f'awsemu listening on {"https" if ctx else "http"}://{args.host}:{port} '
          f'region={emu.region}', file=sys.stderr, flush=True)
    serve_until_stopped(server)
    return 0


if __name__ == '__main__':
    sys.exit(main())
