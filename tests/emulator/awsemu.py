#!/usr/bin/python3
"""A strict local AWS emulator (EC2 now; Auto Scaling and SSM wired for later).

One HTTP(S) port serves every service; the service is read from the SigV4
credential scope of the ``Authorization`` header.  The point of this emulator
is to refuse whatever real AWS would refuse, so that the C client cannot get
away with a malformed request:

* the wire protocol of each service is taken from botocore's own models
  (``ec2`` form encoding, ``query`` form encoding, JSON 1.1); the action must
  exist, ``Version`` must match, every parameter must be known to the input
  shape, be of the right type and required members must be present;
* every request's SigV4 signature is recomputed with botocore's signer, the
  clock skew, credential scope and payload hash are checked;
* responses are serialised from the model's output shapes, so a real botocore
  client (and therefore the C client's parser) sees AWS-shaped documents.

A plain-JSON control API under ``/_emu/`` (no signature) sets the state,
lists the calls received, injects faults and shuts the server down.

Run with Debian's python (it has botocore):
    /usr/bin/python3 tests/emulator/awsemu.py [--host 127.0.0.1] [--port 0]
        [--port-file FILE] [--state seed.json] [--page-size N]
        [--tls-cert CERT --tls-key KEY] [--region eu-west-1] [--log FILE]
The port file is written (atomically) once the socket listens.

Control API (plain JSON, no signature):
    GET  /_emu/health           {"ok": true, "region": ...}
    GET  /_emu/state            the normalised state (re-POSTable)
    POST /_emu/state            replace the state (400 if invalid)
    GET  /_emu/calls            [{service, action, params, raw, status,
                                  error_code, error_message, fault, detail,
                                  request_id, time, connection}]
    POST /_emu/calls/clear
    GET  /_emu/faults           pending fault rules
    POST /_emu/faults           replace the rules: [{"action": "Op" | "*",
                                  "service": optional, "kind": "throttle" |
                                  "error500" | "slow" | "reset" | "truncate" |
                                  "malformed", "count": N, "delay_s": S}]
    POST /_emu/config           {"page_size": N | null}
    POST /_emu/shutdown
Faults fire once the call is identified, before authentication.  ``reset``
and ``malformed`` do not run the action; ``truncate`` runs it and loses the
answer; ``slow`` delays, then answers normally.

Seed state (every field but "id" optional):
    {"region": "eu-west-1", "account_id": "123456789012",
     "denied_actions": ["ec2:StopInstances"],   (IAM: answered UnauthorizedOperation,
                                                 AccessDenied or AccessDeniedException)
     "credentials": {"AKID": "secret" | {"secret": "...", "session_token": "..."}},
     "instances": [{"id": "i-...", "state": "running", "tags": {"k": "v"},
        "launch_time": ISO8601, "attach_time": ISO8601, "hibernation": false,
        "type": "t3.micro", "image_id": "ami-...", "private_ip": "10.0.0.4",
        "public_ip": null, "running_after_describes": null,
        "disable_api_termination": false, "az": "<region>a", "subnet_id": ...,
        "vpc_id": ..., "reservation_id": "r-...", "eni_id": "eni-...",
        "key_name": null, "architecture": "x86_64",
        "describes_seen": 0, "hibernated": false}]}
A pending instance turns running once it has been returned by
``running_after_describes`` DescribeInstances calls (null: stays pending);
stopping/shutting-down settle to stopped/terminated at the next describe.
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
        loader = botocore.loaders.Loader()
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
        return text
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
        return value
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
    inner = xml_body(service.protocol, shape, data or {}) if shape is not None else ''
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


def normalize_state(raw):
    state = dict(raw)
    state.setdefault('region', DEFAULT_REGION)
    state.setdefault('account_id', DEFAULT_ACCOUNT)
    state.setdefault('credentials', dict(DEFAULT_CREDENTIALS))
    # IAM, coarsely: "service:Action" names the caller's role may not call
    state.setdefault('denied_actions', [])
    if not all(isinstance(a, str) and ':' in a for a in state['denied_actions']):
        raise ValueError('denied_actions must be a list of "service:Action" strings')
    instances = [normalize_instance(i, n, state['region'])
                 for n, i in enumerate(state.get('instances', []))]
    ids = [i['id'] for i in instances]
    if len(ids) != len(set(ids)):
        raise ValueError('duplicate instance ids in state')
    state['instances'] = instances
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


FAULT_KINDS = ('throttle', 'error500', 'slow', 'reset', 'truncate', 'malformed')


class Emulator:
    def __init__(self, state, page_size=None, log_path=None):
        self.lock = threading.RLock()
        self.state = normalize_state(state)
        self.page_size = page_size
        self.calls = []
        self.faults = []
        self.page_tokens = {}   # NextToken -> (fingerprint, offset)
        self.log = open(log_path, 'a', buffering=1) if log_path else None

    @property
    def region(self):
        return self.state['region']

    def set_state(self, raw):
        state = normalize_state(raw)
        with self.lock:
            self.state = state
            self.page_tokens.clear()

    def set_faults(self, faults):
        parsed = []
        for f in faults:
            kind = f.get('kind')
            if kind not in FAULT_KINDS:
                raise ValueError(f'unknown fault kind {kind!r}')
            parsed.append({'action': f.get('action', '*'), 'service': f.get('service'),
                           'kind': kind, 'count': int(f.get('count', 1)),
                           'delay_s': float(f.get('delay_s', 0))})
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

    def resolve_page_token(self, token, fingerprint):
        entry = self.page_tokens.get(token)
        if entry is None or entry[0] != fingerprint:
            raise AwsError('InvalidParameterValue',
                           f'The value {token!r} for parameter nextToken is invalid')
        return entry[1]


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
    'tag-key': lambda i: list(i['tags']),
    'tag-value': lambda i: list(i['tags'].values()),
    'availability-zone': lambda i: [i['az']],
    'private-ip-address': lambda i: [i['private_ip']],
    'reservation-id': lambda i: [i['reservation_id']],
    'subnet-id': lambda i: [i['subnet_id']],
    'vpc-id': lambda i: [i['vpc_id']],
}


def _instance_filter(name):
    if name.startswith('tag:') and len(name) > 4:
        key = name[4:]
        return lambda i: [i['tags'][key]] if key in i['tags'] else []
    if name in INSTANCE_FILTERS:
        return INSTANCE_FILTERS[name]
    raise AwsError('InvalidParameterValue', f"The filter '{name}' is invalid")


def _match_filters(instance, compiled):
    """All filters must match; within one filter any value may match."""
    for getter, patterns in compiled:
        candidates = getter(instance)
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
        'PrivateDnsName': f'ip-{inst["private_ip"].replace(".", "-")}.{emu.region}.compute.internal',
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
    compiled = []
    for f in params.get('Filters', []):
        if 'Name' not in f:
            raise AwsError('InvalidParameterValue', 'The filter name must be specified')
        compiled.append((_instance_filter(f['Name']),
                         [_wildcard_re(v) for v in f.get('Values', [])]))
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
# HTTP front end
# --------------------------------------------------------------------------

class Reply:
    """What the handler should do with the connection."""

    def __init__(self, status=200, body=b'', content_type='application/json',
                 headers=None, fault=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.fault = fault          # None | 'reset' | 'truncate'


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
                time.sleep(fault['delay_s'])
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
        emu.record(call)
    if fault and fault['kind'] == 'truncate':
        reply.fault = 'truncate'
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
            threading.Thread(target=server.shutdown, daemon=True).start()
            return ok()
        return Reply(404, json.dumps({'error': f'no control route {method} {path}'}).encode())
    except (ValueError, TypeError, KeyError) as e:
        return Reply(400, json.dumps({'error': str(e)}).encode())


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive; every reply has Content-Length
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
            self._send(handle_control(emu, self.server, self.command,
                                      urlsplit(self.path).path, body))
            return
        scheme = 'https' if self.server.tls else 'http'
        url = f'{scheme}://{self.headers.get("Host", "localhost")}{self.path}'
        peer = '%s:%s' % self.client_address[:2]
        self._send(handle_aws(emu, self.command, url, self.headers, body, connection=peer))

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def _send(self, reply):
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
