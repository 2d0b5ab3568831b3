#!/usr/bin/python3
"""A stand-in for the Drone CI server's queue API, on loopback.

    GET /api/queue    Authorization: Bearer <token>

answers the stages a test set (a JSON array, Drone's shape: empty fields
left out) when the token is the admin token; 401 {"message": "Unauthorized"}
without a token or with a wrong one, 403 {"message": "Forbidden"} for the
non-admin ``user_token``; 404 "404 page not found" for any other path and
405 for another method, as Drone's router does.

Faults, consumed in order by the next queue requests, each
{"kind": ..., "count": 1, "delay_s": 0, "status": ...}:
    error500   500 {"message": "Internal Server Error"}
    unauthorized  401 whatever the token (a revoked token)
    slow       waits delay_s, then answers normally
    reset      drops the connection with a TCP RST, no answer
    truncated  200 with the queue's JSON cut in half (a complete HTTP answer)
    html       an HTML error page from a proxy (status 502 unless given)
Every request is recorded: method, path, status, time, and whether the
token was right; the Authorization header itself is never recorded (only
"Bearer [redacted]" or what kind of header it was), so no test output can
show the token.

In-process (what harness.DroneEmu uses):
    server = DroneServer(token)  ... server.start(); server.url; server.stop()
As a process (for the demo):
    /usr/bin/python3 tests/emulator/droneemu.py --token-file F [--port 0]
        [--port-file FILE] [--stages stages.json]
"""

import argparse
import http.server
import io
import json
import socket
import struct
import sys
import threading
import time

from serving import serve_until_stopped, write_port_file

FAULT_KINDS = ('error500', 'unauthorized', 'slow', 'reset', 'truncated', 'html')
HTML_PAGE = (b'<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n'
             b'<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n'
             b'</body>\r\n</html>\r\n')


def stage(stage_id, status='pending', machine=None, build_id=None, os='linux', arch='amd64',
          type='docker', labels=None, created=1764748800, **extra):
    """A stage as Drone's /api/queue shows it: empty fields left out."""
    out = {'id': stage_id, 'repo_id': 1, 'build_id': build_id or stage_id, 'number': 1,
           'name': 'default', 'kind': 'pipeline', 'type': type, 'status': status,
           'errignore': False, 'exit_code': 0, 'machine': machine, 'os': os, 'arch': arch,
           'created': created, 'updated': created, 'version': 1, 'on_success': True,
           'on_failure': False, 'labels': labels}
    out.update(extra)
    return {k: v for k, v in out.items() if v not in (None, '', {}, [])}


def _describe_auth(header, token, user_token):
    if header is None:
        return 'none'
    if not header.startswith('Bearer '):
        return 'not-bearer'
    given = header[len('Bearer '):]
    if given == token:
        return 'admin'
    if user_token and given == user_token:
        return 'user'
    return 'wrong'


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'drone-emu'
    sys_version = ''

    def log_message(self, fmt, *args):   # quiet: requests() is the log
        pass

    def _send(self, status, body, ctype='application/json'):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _reset(self):
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
            self.rfile.close()
            self.wfile = io.BytesIO()
            self.connection.close()
        except OSError:
            pass

    def _decide(self, record):
        """(status, body, content type), or None to drop the connection."""
        drone = self.server.drone
        text = 'text/plain; charset=utf-8'
        if self.path.split('?', 1)[0] != '/api/queue':
            return 404, b'404 page not found\n', text
        if self.command != 'GET':
            return 405, b'405 method not allowed\n', text
        fault = drone.take_fault()
        kind = fault['kind'] if fault else None
        record['fault'] = kind
        if kind == 'slow':
            time.sleep(fault['delay_s'])
        elif kind == 'reset':
            return None
        elif kind == 'error500':
            return fault.get('status') or 500, b'{"message":"Internal Server Error"}\n', None
        elif kind == 'unauthorized':
            return 401, b'{"message":"Unauthorized"}\n', None
        elif kind == 'html':
            return fault.get('status') or 502, HTML_PAGE, 'text/html'
        if record['auth'] in ('none', 'not-bearer', 'wrong'):
            return 401, b'{"message":"Unauthorized"}\n', None
        if record['auth'] == 'user':
            return 403, b'{"message":"Forbidden"}\n', None
        body = json.dumps(drone.serve_stages()).encode() + b'\n'
        if kind == 'truncated':
            body = body[:max(len(body) // 2, 1)]
        return 200, body, None

    def _handle(self):
        drone = self.server.drone
        auth = _describe_auth(self.headers.get('Authorization'), drone.token, drone.user_token)
        record = {'method': self.command, 'path': self.path, 'auth': auth,
                  'authorization': 'Bearer [redacted]' if auth in ('admin', 'user', 'wrong')
                  else auth, 'time': time.time(), 'status': None, 'fault': None}
        reply = self._decide(record)
        record['status'] = reply[0] if reply else 0
        # recorded before the answer goes out: a client that has its answer sees its record
        drone.record(record)
        if reply is None:
            return self._reset()
        status, body, ctype = reply
        return self._send(status, body, ctype or 'application/json')

    def do_GET(self):
        self._handle()

    def do_POST(self):
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        self._handle()

    do_PUT = do_DELETE = do_POST


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, drone, port):
        super().__init__(('127.0.0.1', port), _Handler)
        self.drone = drone

    def handle_error(self, request, client_address):   # a reset client is not news
        pass


class DroneServer:
    """The queue API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, token, user_token=None, stages=None):
        if not token:
            raise ValueError('a Drone server needs an admin token')
        self.token = token
        self.user_token = user_token
        self._lock = threading.Lock()
        self._stages = list(stages or [])
        self._script = []
        self._faults = []
        self._requests = []
        self._server = None
        self._thread = None
        self.port = None

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}'

    def start(self, port=0):
        self._server = _Server(self, port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={'poll_interval': 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def set_stages(self, stages):
        if not isinstance(stages, list) or not all(isinstance(s, dict) for s in stages):
            raise ValueError('stages must be a list of objects')
        with self._lock:
            self._stages = json.loads(json.dumps(stages))

    def stages(self):
        with self._lock:
            return json.loads(json.dumps(self._stages))

    def script(self, stage_lists):
        """Serve these queues one answered request each, in order; the last
        one stays (a stage that lands between two reads of one run)."""
        if not stage_lists or not all(isinstance(q, list) for q in stage_lists):
            raise ValueError('a script is a non-empty list of stage lists')
        with self._lock:
            self._script = json.loads(json.dumps(stage_lists))

    def serve_stages(self):
        """The queue one request gets: the script's next, else the stages."""
        with self._lock:
            if self._script:
                self._stages = self._script.pop(0)
            return json.loads(json.dumps(self._stages))

    def fault(self, kind, count=1, delay_s=0, status=None):
        if kind not in FAULT_KINDS:
            raise ValueError(f'unknown fault {kind!r} (one of {", ".join(FAULT_KINDS)})')
        with self._lock:
            self._faults.append({'kind': kind, 'count': int(count), 'delay_s': float(delay_s),
                                 'status': status})

    def take_fault(self):
        with self._lock:
            while self._faults and self._faults[0]['count'] <= 0:
                self._faults.pop(0)
            if not self._faults:
                return None
            self._faults[0]['count'] -= 1
            return dict(self._faults[0])

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def record(self, record):
        with self._lock:
            self._requests.append(record)

    def requests(self):
        with self._lock:
            return [dict(r) for r in self._requests]

    def clear(self):
        with self._lock:
            self._requests.clear()
            self._faults.clear()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--token-file', required=True, help='file holding the admin token')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--port-file')
    p.add_argument('--stages', help='a JSON file with the stages to serve')
    args = p.parse_args(argv)
    with open(args.token_file) as f:
        token = f.read().strip()
    stages = []
    if args.stages:
        with open(args.stages) as f:
            stages = json.load(f)
    server = DroneServer(token, stages=stages)
    server._server = _Server(server, args.port)
    server.port = server._server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, server.port)
    serve_until_stopped(server._server)
    return 0


if __name__ == '__main__':
    sys.exit(main())
