#!/usr/bin/python3
"""A local emulator of the AWS Lambda Runtime API (2018-06-01).

The function under test (our static ``bootstrap``) is started with
``AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`` and talks to this server exactly
as it would inside Lambda:

    GET  /2018-06-01/runtime/invocation/next            (blocks for an event)
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error

The rules Lambda enforces are enforced here too: one result per invocation
(a second one is 403 ``InvalidStateTransition``), unknown ids are 400,
responses over 6 MB are 413, ``/error`` needs
``Lambda-Runtime-Function-Error-Type``.  Late results (after the deadline)
are accepted but flagged ``late``.

Control API (plain JSON):
    POST /_rt/invoke     queue an event  {"payload", "trace_id", "timeout_ms",
                         "request_id", "client_context", "cognito_identity"}
    POST /_rt/next_faults  make the next GET /next calls fail, in order:
                         [{"kind": "reset" | "close" | "status",
                           "status": 500, "count": 1}]
                         (reset: a TCP RST and no answer; close: the
                         connection closed with no answer; status: that
                         HTTP status with an error document). Appended to
                         the faults still pending. Every /next that got a
                         fault is counted in results' "next_faults_served".
    GET  /_rt/results    everything recorded so far
    GET  /_rt/progress   counts only, cheap however many invocations ran:
                         {"queued", "delivered", "done", "next_calls"}
    POST /_rt/shutdown

Run:  /usr/bin/python3 tests/emulator/rtemu.py --port-file F [--events E]
"""

import argparse
import collections
import http.server
import json
import os
import io
import re
import socket
import struct
import sys
import threading
import time
import uuid

from serving import serve_until_stopped, write_port_file

API = '/2018-06-01/runtime'
MAX_RESPONSE_BYTES = 6 * 1024 * 1024      # 6291456: Lambda's synchronous limit
MAX_READ_BYTES = 64 * 1024 * 1024         # refuse to buffer anything larger

_INVOCATION_RE = re.compile(rf'^{API}/invocation/([^/]+)/(response|error)$')


def now_ms():
    return int(time.time() * 1000)


class Runtime:
    """The state of one emulated execution environment."""

    def __init__(self, function_name, region, account, default_timeout_ms,
                 results_path=None):
        self.cond = threading.Condition()
        self.function_arn = (f'arn:aws:lambda:{region}:{account}:function:'
                             f'{function_name}')
        self.default_timeout_ms = default_timeout_ms
        self.results_path = results_path
        self.queue = collections.deque()        # request ids not yet delivered
        self.invocations = collections.OrderedDict()
        self.init_error = None
        self.next_calls = 0
        self.next_while_outstanding = 0         # /next before finishing the last
        self.next_faults = collections.deque()  # pending faults, one per /next
        self.next_faults_served = 0
        self.stopping = False

    # -- control side -----------------------------------------------------

    def enqueue(self, event):
        """Queue one event (see the module docstring); returns its id."""
        if not isinstance(event, dict) or 'payload' not in event:
            raise ValueError('an event is an object with a "payload" member')
        payload = event['payload']
        body = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        with self.cond:
            rid = event.get('request_id') or str(uuid.uuid4())
            if rid in self.invocations:
                raise ValueError(f'duplicate request id {rid}')
            self.invocations[rid] = {
                'request_id': rid,
                'state': 'queued',          # queued | delivered | done
                'kind': None,               # response | error (when done)
                'payload': payload,
                '_payload_bytes': body,
                'trace_id': event.get('trace_id'),
                'timeout_ms': int(event.get('timeout_ms') or self.default_timeout_ms),
                'client_context': event.get('client_context'),
                'cognito_identity': event.get('cognito_identity'),
                'headers_seen_on_next': None,
                'delivered_at_ms': None,
                'deadline_ms': None,
                'completed_at_ms': None,
                'late': False,
                'body': None,
                'body_json': None,
                'error_type': None,
                'result_headers': None,
                'oversize_attempts': 0,
                'refused_posts': [],        # results refused after completion
            }
            self.queue.append(rid)
            self.cond.notify_all()
        return rid

    def add_next_faults(self, faults):
        """Queue faults for the next /next calls (see the module docstring)."""
        if not isinstance(faults, list):
            raise ValueError('next_faults takes a list of faults')
        expanded = []
        for f in faults:
            if not isinstance(f, dict) or set(f) - {'kind', 'status', 'count'}:
                raise ValueError(f'a fault is {{"kind", "status", "count"}}, not {f!r}')
            kind = f.get('kind')
            if kind not in ('reset', 'close', 'status'):
                raise ValueError(f'unknown fault kind {kind!r}')
            status = f.get('status', 500)
            if kind == 'status' and not (isinstance(status, int) and 400 <= status <= 599):
                raise ValueError(f'a status fault needs a 4xx or 5xx status, not {status!r}')
            count = f.get('count', 1)
            if not isinstance(count, int) or count < 1:
                raise ValueError(f'count must be a positive integer, not {count!r}')
            expanded += [{'kind': kind, 'status': status}] * count
        with self.cond:
            self.next_faults.extend(expanded)

    def take_next_fault(self):
        """The fault for this /next, or None."""
        with self.cond:
            if not self.next_faults:
                return None
            self.next_faults_served += 1
            return self.next_faults.popleft()

    def results(self):
        with self.cond:
            return {
                'invocations': [{k: v for k, v in inv.items() if not k.startswith('_')}
                                for inv in self.invocations.values()],
                'init_error': self.init_error,
                'next_calls': self.next_calls,
                'next_while_outstanding': self.next_while_outstanding,
                'next_faults_served': self.next_faults_served,
                'next_faults_pending': len(self.next_faults),
                'queued': len(self.queue),
                'function_arn': self.function_arn,
            }

    def save(self):
        if not self.results_path:
            return
        tmp = f'{self.results_path}.tmp.{os.getpid()}'
        with open(tmp, 'w') as f:
            json.dump(self.results(), f, indent=1, default=str)
        os.replace(tmp, self.results_path)

    def stop(self):
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    # -- runtime side -------------------------------------------------------

    def progress(self):
        with self.cond:
            states = collections.Counter(i['state'] for i in self.invocations.values())
            return {'queued': states['queued'], 'delivered': states['delivered'],
                    'done': states['done'], 'next_calls': self.next_calls}

    def next_invocation(self):
        """Block until an event is queued; returns (invocation, headers) or None."""
        with self.cond:
            self.next_calls += 1
            if any(i['state'] == 'delivered' for i in self.invocations.values()):
                self.next_while_outstanding += 1
            while not self.queue and not self.stopping and self.init_error is None:
                self.cond.wait(0.5)
            if self.stopping or self.init_error is not None:
                return None
            inv = self.invocations[self.queue.popleft()]
            inv['state'] = 'delivered'
            inv['delivered_at_ms'] = now_ms()
            inv['deadline_ms'] = inv['delivered_at_ms'] + inv['timeout_ms']
            headers = {
                'Lambda-Runtime-Aws-Request-Id': inv['request_id'],
                'Lambda-Runtime-Deadline-Ms': str(inv['deadline_ms']),
                'Lambda-Runtime-Invoked-Function-Arn': self.function_arn,
            }
            if inv['trace_id']:
                headers['Lambda-Runtime-Trace-Id'] = inv['trace_id']
            if inv['client_context'] is not None:
                headers['Lambda-Runtime-Client-Context'] = _as_text(inv['client_context'])
            if inv['cognito_identity'] is not None:
                headers['Lambda-Runtime-Cognito-Identity'] = _as_text(inv['cognito_identity'])
            inv['headers_seen_on_next'] = headers
            return inv, headers

    def requeue(self, rid):
        """Delivery failed (client vanished): put the event back in front."""
        with self.cond:
            inv = self.invocations[rid]
            inv.update(state='queued', delivered_at_ms=None, deadline_ms=None,
                       headers_seen_on_next=None)
            self.queue.appendleft(rid)
            self.cond.notify_all()

    def complete(self, rid, kind, body, headers):
        """Record /response or /error; returns (status, reply object)."""
        with self.cond:
            inv = self.invocations.get(rid)
            if inv is None or inv['state'] == 'queued':
                return 400, _err('InvalidRequestID', f'Invalid request ID: "{rid}"')
            if inv['state'] == 'done':
                inv['refused_posts'].append(kind)
                return 403, _err('InvalidStateTransition',
                                 f'Invalid state transition: invocation {rid} already '
                                 f'has a {inv["kind"]}')
            error_type = headers.get('Lambda-Runtime-Function-Error-Type')
            if kind == 'error' and not error_type:
                return 400, _err('InvalidRequest',
                                 'Lambda-Runtime-Function-Error-Type header is required')
            if kind == 'response' and len(body) > MAX_RESPONSE_BYTES:
                inv['oversize_attempts'] += 1
                return 413, _err('RequestEntityTooLarge',
                                 f'Exceeded maximum allowed payload size '
                                 f'({MAX_RESPONSE_BYTES} bytes).')
            text = body.decode('utf-8', errors='replace')
            inv.update(state='done', kind=kind, body=text, body_json=_try_json(text),
                       error_type=error_type if kind == 'error' else None,
                       result_headers=dict(headers), completed_at_ms=now_ms())
            inv['late'] = inv['completed_at_ms'] > inv['deadline_ms']
            self.cond.notify_all()
        self.save()
        return 202, {'status': 'OK'}

    def record_init_error(self, body, headers):
        with self.cond:
            if self.init_error is not None or any(
                    i['state'] != 'queued' for i in self.invocations.values()):
                return 403, _err('InvalidStateTransition',
                                 'init/error is only allowed once, before the first /next')
            text = body.decode('utf-8', errors='replace')
            self.init_error = {'error_type': headers.get('Lambda-Runtime-Function-Error-Type'),
                               'body': text, 'body_json': _try_json(text),
                               'headers': dict(headers), 'at_ms': now_ms()}
            self.cond.notify_all()
        self.save()
        return 202, {'status': 'OK'}


def _as_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def _try_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _err(error_type, message):
    return {'errorType': error_type, 'errorMessage': message}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'   # keep-alive; every reply has Content-Length
    # headers and body go out as two writes: without this, Nagle's algorithm
    # holds the body until the client's delayed ACK (40 ms an answer)
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def _read_body(self):
        """The request body (Content-Length or chunked); None if unusable."""
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b';')[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b'\r\n', b'\n', b''):
                        pass  # trailers
                    return b''.join(chunks)
                total += size
                if total > MAX_READ_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        try:
            n = int(self.headers.get('Content-Length', '0'))
        except ValueError:
            return None
        if not 0 <= n <= MAX_READ_BYTES:
            return None
        return self.rfile.read(n)

    def _reply(self, status, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj, default=str).encode()
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False

    def _reset(self):
        """Abort the connection with a TCP RST (SO_LINGER 0), no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            # rfile holds a reference to the socket's fd: drop it so that
            # close() really closes (-> RST); wfile becomes a dummy so the
            # base class can still flush it.
            self.rfile.close()
            self.wfile = io.BytesIO()
            self.connection.close()
        except OSError:
            pass

    def _next_fault(self, fault):
        if fault['kind'] == 'reset':
            self._reset()
        elif fault['kind'] == 'close':
            self.close_connection = True
        else:
            self._reply(fault['status'], _err('ServiceUnavailable' if fault['status'] >= 500
                                              else 'InvalidRequest',
                                              'injected fault'))

    def do_GET(self):
        rt = self.server.runtime
        self._read_body()
        if self.path == f'{API}/invocation/next':
            fault = rt.take_next_fault()
            if fault:
                self._next_fault(fault)
                return
            got = rt.next_invocation()
            if got is None:
                self._reply(403 if rt.init_error else 503,
                            _err('InvalidStateTransition' if rt.init_error else 'ServiceUnavailable',
                                 'the environment is shutting down'))
                return
            inv, headers = got
            if not self._reply(200, None, headers, raw=inv['_payload_bytes']):
                rt.requeue(inv['request_id'])
            return
        if self.path == '/_rt/results':
            self._reply(200, rt.results())
            return
        if self.path == '/_rt/progress':
            self._reply(200, rt.progress())
            return
        self._reply(404, _err('NotFound', f'no route GET {self.path}'))

    def do_POST(self):
        rt = self.server.runtime
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._reply(400, _err('InvalidRequest', 'unreadable request body'))
            return
        headers = {k: v for k, v in self.headers.items()}
        m = _INVOCATION_RE.match(self.path)
        if m:
            status, obj = rt.complete(m.group(1), m.group(2), body, headers)
            self._reply(status, obj)
            return
        if self.path == f'{API}/init/error':
            self._reply(*rt.record_init_error(body, headers))
            return
        if self.path == '/_rt/invoke':
            try:
                rid = rt.enqueue(json.loads(body or b'{}'))
            except ValueError as e:
                self._reply(400, {'error': str(e)})
                return
            self._reply(200, {'request_id': rid})
            return
        if self.path == '/_rt/next_faults':
            try:
                rt.add_next_faults(json.loads(body or b'[]'))
            except ValueError as e:
                self._reply(400, {'error': str(e)})
                return
            self._reply(200, {'ok': True})
            return
        if self.path == '/_rt/shutdown':
            self._reply(200, {'ok': True})
            rt.stop()
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        self._reply(404, _err('NotFound', f'no route POST {self.path}'))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, runtime):
        super().__init__(addr, Handler)
        self.runtime = runtime

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    p = argparse.ArgumentParser(description='Lambda Runtime API emulator')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--port-file')
    p.add_argument('--events', help='JSON list of events to queue at start')
    p.add_argument('--results', help='write results JSON here (after each result)')
    p.add_argument('--timeout-ms', type=int, default=30000,
                   help='default invocation timeout (deadline = delivery + this)')
    p.add_argument('--function-name', default='devcloud-test')
    p.add_argument('--region', default='eu-west-1')
    p.add_argument('--account', default='123456789012')
    args = p.parse_args(argv)

    runtime = Runtime(args.function_name, args.region, args.account,
                      args.timeout_ms, args.results)
    if args.events:
        with open(args.events) as f:
            for event in json.load(f):
                runtime.enqueue(event)
    server = Server((args.host, args.port), runtime)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    print(f'rtemu listening on {args.host}:{port}', file=sys.stderr, flush=True)
    def cleanup():
        runtime.stop()
        runtime.save()

    serve_until_stopped(server, cleanup)
    return 0


if __name__ == '__main__':
    sys.exit(main())
