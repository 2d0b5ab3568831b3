#!/usr/bin/python3
"""Benchmarks: our static bootstraps against the usual Python + boto3 Lambdas
(bench/reference/), side by side in the same run, against the local AWS
emulator (tests/emulator/awsemu.py) and the Runtime API emulator's server
(tests/emulator/rtemu.py, run in this process so that it can timestamp every
request on the monotonic clock the child processes share).

    bench/run.py [--build build] [--cold-runs 30] [--instances 10000]
                 [--images 2000] [--out bench/RESULTS.md] [--readme README.md]
                 [--no-callgrind] [--json FILE]

Measured for the stopper, the terminator and the image pruner:
  * cold start: process start (just before fork) to the first GET /next, and
    to the first response of a no-op invocation (an account with nothing to
    do); median and p95 over --cold-runs runs of each, ours and the
    reference alternating;
  * a warm invocation on a large account (--instances instances for the
    stopper and the terminator, --images images for the image pruner, pages
    of 1000): the invocation's wall time (delivery to response) and CPU time
    (/proc/<pid>/stat between the two GET /next), and the whole process's CPU
    time and peak RSS (wait4's rusage); both sides must leave the account in
    the same state, or the run fails;
  * the deployment zip's size;
  * callgrind's instruction count of ours for each warm run (an unstripped
    twin of the bootstrap, build/bench/<fn>/bootstrap, in local mode), with
    the functions that cost most.
Writes bench/RESULTS.md (and the README's Performance table between its
bench markers); prints the same tables.
"""

import argparse
import datetime
import io
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tests' / 'emulator'))

import harness  # noqa: E402
import rtemu    # noqa: E402

PYTHON = '/usr/bin/python3'
REFERENCE = ROOT / 'bench' / 'reference'
FUNCTIONS = ('stopper', 'terminator', 'image_pruner')
PAGE_SIZE = 1000
CLK_TCK = os.sysconf('SC_CLK_TCK')
README_BEGIN = '<!-- bench:begin (written by bench/run.py) -->'
README_END = '<!-- bench:end -->'
# Published Lambda cold starts (maxday/lambda-perf, https://maxday.github.io/lambda-perf/,
# 2026-07/08, 128 MB, median Init Duration), as recorded in the project's notes.
PUBLISHED = [
    ('Rust, provided.al2023 (x86_64)', 15.9),
    ('C++ (aws-lambda-cpp), provided.al2', 15.5),
    ('Go, provided.al2023', 42.0),
    ('Python 3.13', 80.0),
    ('Node.js 22', 128.0),
]


# --------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------

def _iso(t):
    return t.strftime('%Y-%m-%dT%H:%M:%S.000Z')


def _hex(prefix, n):
    return f'{prefix}-{n:017x}'


def stopper_account(n):
    """n running dev boxes: Auto Scaling members, opt-outs of every kind, the rest to stop."""
    now = datetime.datetime.now(datetime.timezone.utc)
    future, past = (now + datetime.timedelta(days=3)).date(), (now - datetime.timedelta(days=3)).date()
    instances = []
    for i in range(n):
        tags = {'devcloud:role': 'devbox', 'Name': f'dev-{i}'}
        k = i % 50
        if k == 0:
            tags['aws:autoscaling:groupName'] = 'devboxes'
        elif k == 1:
            tags['devcloud:keep-running'] = 'true'
        elif k == 2:
            tags['devcloud:keep-running'] = future.isoformat()
        elif k == 3:
            tags['devcloud:keep-running'] = past.isoformat()     # expired: stopped
        elif k == 4:
            tags['devcloud:keep-running'] = 'false'
        elif k == 5:
            tags['devcloud:keep-running'] = 'next week'          # unreadable: kept
        instances.append({'id': _hex('i', 0x1000000 + i), 'state': 'running', 'tags': tags,
                          'launch_time': _iso(now - datetime.timedelta(hours=9))})
    return {'instances': instances}


def terminator_account(n):
    """n builders of ages 0-96 h (some restarted, some stopped), a few in a group."""
    now = datetime.datetime.now(datetime.timezone.utc)
    instances = []
    for i in range(n):
        tags = {'devcloud:role': 'builder', 'Name': f'nightly-{i}'}
        if i % 40 == 0:
            tags['aws:autoscaling:groupName'] = 'builders'
        attach = now - datetime.timedelta(hours=(i * 7) % 97, minutes=i % 60)
        launch = now - datetime.timedelta(hours=1)   # restarted: LaunchTime is young
        instances.append({'id': _hex('i', 0x2000000 + i),
                          'state': 'stopped' if i % 7 == 0 else 'running', 'tags': tags,
                          'attach_time': _iso(attach), 'launch_time': _iso(launch)})
    return {'instances': instances}


def pruner_account(n):
    """n dev-box images (one snapshot each, a few sharing one), some in use."""
    base = datetime.datetime(2026, 1, 1, 3, tzinfo=datetime.timezone.utc)
    images, instances = [], []
    for i in range(n):
        snaps = [_hex('snap', 0x3000000 + i)]
        if i % 100 == 1:
            snaps.append(_hex('snap', 0x3000000 + i - 1))   # shares its neighbour's
        images.append({'id': _hex('ami', 0x3000000 + i), 'name': f'devbox-{i}',
                       'creation_date': _iso(base + datetime.timedelta(hours=i)),
                       'tags': {'devcloud:role': 'devbox-image'}, 'snapshots': snaps,
                       'deprecated': i % 13 == 0})
    for i in range(3, n, 97):          # about one image in a hundred
        instances.append({'id': _hex('i', 0x4000000 + i), 'image_id': _hex('ami', 0x3000000 + i),
                          'tags': {'devcloud:role': 'devbox'}})
    templates = [{'id': _hex('lt', 0x5000001), 'name': 'devbox',
                  'versions': [{'number': 1, 'image_id': _hex('ami', 0x3000000 + 3)},
                               {'number': 2, 'image_id': _hex('ami', 0x3000000 + 5)}]}]
    return {'images': images, 'instances': instances, 'launch_templates': templates}


ACCOUNTS = {'stopper': stopper_account, 'terminator': terminator_account,
            'image_pruner': pruner_account}


def outcome(fn, state):
    """What a function's run leaves in the account, to compare both sides."""
    if fn == 'image_pruner':
        return {'images': sorted(i['id'] for i in state['images']),
                'snapshots': sorted(s['id'] for s in state['snapshots'])}
    return {'instances': sorted((i['id'], i['state']) for i in state['instances'])}


# --------------------------------------------------------------------------
# One process through the Runtime API
# --------------------------------------------------------------------------

def _proc_sample(pid):
    """(cpu seconds, VmHWM kB, VmRSS kB) of a live process, or None."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            fields = f.read().rsplit(')', 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK
        hwm = rss = 0
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    hwm = int(line.split()[1])
                elif line.startswith('VmRSS:'):
                    rss = int(line.split()[1])
        return cpu, hwm, rss
    except (OSError, IndexError, ValueError):
        return None


class TimedRuntime(rtemu.Runtime):
    """rtemu's Runtime, timestamping each GET /next and each result, and
    sampling the process's CPU and memory when it asks for the next event
    (it is then blocked, so the figures are those of the work before)."""

    def __init__(self):
        super().__init__('devcloud-bench', harness.DEFAULT_REGION, harness.ACCOUNT, 300000)
        self.pid = None
        self.next_at, self.next_samples, self.done_at = [], [], []

    def next_invocation(self):
        self.next_at.append(time.monotonic())
        # a fast process can ask before Popen() has returned its pid to us
        deadline = time.monotonic() + 2
        while self.pid is None and time.monotonic() < deadline:
            time.sleep(0.001)
        self.next_samples.append(_proc_sample(self.pid) if self.pid else None)
        return super().next_invocation()

    def complete(self, rid, kind, body, headers):
        status, obj = super().complete(rid, kind, body, headers)
        if status == 202:
            with self.cond:
                self.done_at.append(time.monotonic())
                self.cond.notify_all()
        return status, obj


def run_process(cmd, env, events, timeout_s=600):
    """Run one Lambda process for ``events``; returns its figures."""
    runtime = TimedRuntime()
    server = rtemu.Server(('127.0.0.1', 0), runtime)
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.05},
                              daemon=True)
    thread.start()
    for ev in events:
        runtime.enqueue({'payload': ev})
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f'127.0.0.1:{server.server_address[1]}')
    logs = tempfile.TemporaryFile()
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=logs,
                                stderr=subprocess.STDOUT, cwd=os.path.dirname(cmd[-1])
                                if cmd[0] != PYTHON else str(REFERENCE))
        runtime.pid = proc.pid
        deadline = t0 + timeout_s
        with runtime.cond:
            while (len(runtime.done_at) < len(events) and runtime.init_error is None
                   and proc.poll() is None and time.monotonic() < deadline):
                runtime.cond.wait(0.05)
            # the sample taken when it asks for the event after the last one
            while (len(runtime.next_at) <= len(events) and proc.poll() is None
                   and runtime.init_error is None and time.monotonic() < deadline):
                runtime.cond.wait(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = status
        results = runtime.results()
        logs.seek(0)
        out = logs.read().decode('utf-8', errors='replace')
    finally:
        runtime.stop()
        server.shutdown()
        server.server_close()
        logs.close()
    invs = results['invocations']
    if results['init_error'] or any(i['state'] != 'done' for i in invs):
        raise RuntimeError(f'{cmd} did not answer every event: {results["init_error"]}\n'
                           f'{out[-3000:]}')
    return {
        'first_next_ms': (runtime.next_at[0] - t0) * 1000,
        'first_done_ms': (runtime.done_at[0] - t0) * 1000,
        'invocation_ms': [(d - n) * 1000 for n, d in zip(runtime.next_at, runtime.done_at)],
        'invocation_cpu_s': [b[0] - a[0] for a, b in zip(runtime.next_samples,
                                                         runtime.next_samples[1:]) if a and b],
        'init_cpu_s': runtime.next_samples[0][0] if runtime.next_samples[0] else None,
        'cpu_s': usage.ru_utime + usage.ru_stime,
        # VmHWM when it asked for the event after the last one: wait4's
        # ru_maxrss would count the forking Python parent's pages too
        'peak_rss_kb': max(s[1] for s in runtime.next_samples if s),
        'results': [{'kind': i['kind'], 'body': i['body_json'], 'error_type': i['error_type']}
                    for i in invs],
        'logs': out,
    }


def command(side, fn, build):
    if side == 'ours':
        return [str(build / fn / 'bootstrap')]
    if side == 'floor':
        return [str(build / 'bench' / 'floor')]
    return [PYTHON, str(REFERENCE / 'bootstrap.py'), fn]


def lambda_env(aws, fn):
    env = harness.base_env(f'devcloud-{fn}', aws.region, aws)
    env['AWS_LAMBDA_FUNCTION_NAME'] = f'devcloud-{fn}'
    return env


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------

def pct(values, p):
    s = sorted(values)
    if not s:
        return float('nan')
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class _Captured(Exception):
    """Raised by the before-send hook: the request is made and signed, not sent."""


def signed_requests(aws, env, calls):
    """The raw HTTP/1.1 bytes of each call ({service, action, params} as the
    emulator logged them), made and signed now by botocore with the
    function's credentials: what the floor sends in its place."""
    import botocore.config
    import botocore.session
    from botocore import xform_name
    out = []
    session = botocore.session.Session()
    for call in calls:
        client = session.create_client(
            call['service'], region_name=aws.region, endpoint_url=aws.url,
            aws_access_key_id=env['AWS_ACCESS_KEY_ID'],
            aws_secret_access_key=env['AWS_SECRET_ACCESS_KEY'],
            aws_session_token=env.get('AWS_SESSION_TOKEN'),
            config=botocore.config.Config(retries={'max_attempts': 1}))
        grabbed = []

        def grab(request, **_):
            grabbed.append(request)
            raise _Captured()
        client.meta.events.register('before-send', grab)
        # params botocore 1.29 does not know (the emulator's model overlay) are left out
        op = client.meta.service_model.operation_model(call['action'])
        params = {k: v for k, v in (call.get('params') or {}).items()
                  if k in op.input_shape.members}
        try:
            getattr(client, xform_name(call['action']))(**params)
        except _Captured:
            pass
        req = grabbed[0]
        body = req.body or b''
        body = body.encode() if isinstance(body, str) else body
        path = req.url.split('://', 1)[1]
        path = path[path.index('/'):] if '/' in path else '/'
        head = [f'{req.method} {path} HTTP/1.1', f'Host: {req.url.split("/")[2]}']
        head += [f'{k}: {v.decode() if isinstance(v, bytes) else v}'
                 for k, v in req.headers.items() if k.lower() != 'host']
        head.append(f'Content-Length: {len(body)}')
        raw = ('\r\n'.join(head) + '\r\n\r\n').encode() + body
        out.append(raw)
    return out


def floor_requests(build, aws, env, fn, path):
    """Writes the signed requests of the function's no-op run (one run of
    ours, through the emulator's call log) to path, for the floor."""
    aws.clear_calls()
    subprocess.run([str(build / fn / 'bootstrap'), '--event', '-'], input=b'{}', env=env,
                   capture_output=True, timeout=60, check=True)
    calls = [c for c in aws.calls() if c.get('status') == 200]
    with open(path, 'wb') as f:
        for raw in signed_requests(aws, env, calls):
            f.write(b'%d\n' % len(raw) + raw)
    return len(calls)


def cold_starts(build, runs, log):
    """Cold starts of ours and the reference, alternating; with them, when it
    is built, the floor (bench/floor.c: a static client that only does the
    Runtime API exchange and sends the function's own no-op AWS requests,
    signed in advance), the part of every figure that is the bench's own
    fork, exec and emulators."""
    out = {}
    floor = (build / 'bench' / 'floor').exists()
    with harness.AwsEmu(state={}, page_size=PAGE_SIZE) as aws:
        for fn in FUNCTIONS:
            env = lambda_env(aws, fn)
            figures = {'ours': [], 'reference': []}
            if floor:
                figures['floor'] = []
                requests = tempfile.NamedTemporaryFile(prefix=f'floor-{fn}-', delete=False)
                requests.close()
                floor_requests(build, aws, env, fn, requests.name)
                floor_env = dict(env, FLOOR_REQUESTS=requests.name)
            for n in range(runs):
                sides = ['ours', 'reference'] if n % 2 == 0 else ['reference', 'ours']
                for side in sides + (['floor'] if floor else []):
                    r = run_process(command(side, fn, build), floor_env if side == 'floor' else env,
                                    [{}], timeout_s=60)
                    if r['results'][0]['kind'] != 'response':
                        raise RuntimeError(f'{side} {fn}: no-op invocation failed: '
                                           f'{r["results"][0]}\n{r["logs"][-2000:]}')
                    figures[side].append(r)
            if floor:
                os.unlink(requests.name)
            out[fn] = {side: {
                'first_next_ms': [r['first_next_ms'] for r in rs],
                'first_done_ms': [r['first_done_ms'] for r in rs],
                'peak_rss_kb': [r['peak_rss_kb'] for r in rs],
                'cpu_s': [r['cpu_s'] for r in rs],
            } for side, rs in figures.items()}
            log(f'cold {fn}: ours {statistics.median(out[fn]["ours"]["first_done_ms"]):.1f} ms, '
                f'reference {statistics.median(out[fn]["reference"]["first_done_ms"]):.1f} ms '
                f'(median to the first response, {runs} runs)')
    return out


def warm_runs(build, sizes, log):
    out = {}
    with harness.AwsEmu(page_size=PAGE_SIZE) as aws:
        for fn in FUNCTIONS:
            state = ACCOUNTS[fn](sizes[fn])
            env = lambda_env(aws, fn)
            out[fn] = {}
            for side in ('ours', 'reference'):
                aws.reset(state)
                aws.config(page_size=PAGE_SIZE)
                r = run_process(command(side, fn, build), env, [{}])
                r['calls'] = len(aws.calls())
                r['outcome'] = outcome(fn, aws.state())
                if r['results'][0]['kind'] != 'response':
                    raise RuntimeError(f'{side} {fn} failed on the large account: '
                                       f'{r["results"][0]}\n{r["logs"][-2000:]}')
                del r['logs']
                out[fn][side] = r
                log(f'warm {fn} ({sizes[fn]}) {side}: {r["invocation_ms"][0]:.0f} ms, '
                    f'{r["invocation_cpu_s"][0] if r["invocation_cpu_s"] else float("nan"):.2f} s CPU in '
                    f'the invocation, {r["cpu_s"]:.2f} s CPU and {r["peak_rss_kb"] / 1024:.1f} MiB '
                    f'peak RSS for the process, {r["calls"]} AWS calls')
            if out[fn]['ours']['outcome'] != out[fn]['reference']['outcome']:
                raise RuntimeError(f'{fn}: ours and the reference left the account differently')
            changed = out[fn]['ours']['outcome'] != outcome(fn, _normalised(aws, state))
            if not changed:
                raise RuntimeError(f'{fn}: the large account needs work, yet nothing changed')
            for side in ('ours', 'reference'):
                out[fn][side]['outcome'] = None   # compared; too large to keep
    return out


def _normalised(aws, state):
    aws.reset(state)
    return aws.state()


def callgrind(build, sizes, log):
    if not shutil.which('valgrind'):
        log('callgrind: valgrind is not installed, skipped')
        return None
    out = {}
    with harness.AwsEmu(page_size=PAGE_SIZE) as aws, tempfile.TemporaryDirectory() as tmp:
        for fn in FUNCTIONS:
            binary = build / 'bench' / fn / 'bootstrap'
            if not binary.exists():
                log(f'callgrind: {binary} is not built, skipped')
                continue
            aws.reset(ACCOUNTS[fn](sizes[fn]))
            aws.config(page_size=PAGE_SIZE)
            cg = os.path.join(tmp, f'{fn}.out')
            env = lambda_env(aws, fn)
            proc = subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={cg}',
                                   str(binary), '--event', '-'], input=b'{}', env=env,
                                  capture_output=True, timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f'callgrind {fn}: exit {proc.returncode}\n'
                                   f'{proc.stderr.decode(errors="replace")[-3000:]}')
            total = None
            with open(cg) as f:
                for line in f:
                    if line.startswith(('summary:', 'totals:')):
                        total = int(line.split()[1])
            ann = subprocess.run(['callgrind_annotate', '--inclusive=no', cg],
                                 capture_output=True, text=True).stdout
            out[fn] = {'instructions': total, 'top': _top_functions(ann, 8)}
            log(f'callgrind {fn}: {total:,} instructions')
    return out


def _top_functions(annotate, n):
    """The n functions with the most instructions of their own:
    [(count, name)], from callgrind_annotate's table
    ("1,234 (25.00%)  ???:name [binary]")."""
    top = []
    for line in annotate.splitlines():
        m = re.match(r'^\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?(\S.*?)(?:\s+\[.*\])?$', line)
        if not m or ':' not in m.group(2) or 'PROGRAM TOTALS' in line:
            continue
        top.append((int(m.group(1).replace(',', '')), m.group(2).split(':', 1)[1]))
        if len(top) == n:
            break
    return top


def zip_sizes(build):
    out = {}
    for fn in FUNCTIONS:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
            z.write(REFERENCE / f'{fn}.py', f'{fn}.py')
        ours = build / f'{fn}.zip'
        out[fn] = {'ours': ours.stat().st_size if ours.exists() else None,
                   'reference': len(buf.getvalue())}
    return out


def machine():
    model = 'unknown'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem_kb = int(f.readline().split()[1])
    import boto3
    import botocore
    return {'nproc': os.cpu_count(), 'cpu': model, 'memory_gib': round(mem_kb / 1024 ** 2, 1),
            'kernel': platform.release(), 'python': platform.python_version(),
            'boto3': boto3.__version__, 'botocore': botocore.__version__,
            'loadavg': os.getloadavg()[0]}


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------

def _ratio(ref, ours):
    return f'{ref / ours:.0f}x' if ours and ref / ours >= 10 else (
        f'{ref / ours:.1f}x' if ours else 'n/a')


def report(data):
    m, sizes = data['machine'], data['sizes']
    L = ['# Benchmarks: ours vs. a Python + boto3 reference', '',
         f'Written by `bench/run.py` (`make bench`) on {data["date"]}. Machine: {m["nproc"]} '
         f'CPUs ({m["cpu"]}), {m["memory_gib"]} GiB, Linux {m["kernel"]}, load average '
         f'{m["loadavg"]:.2f} at the start; reference: Python {m["python"]}, boto3 '
         f'{m["boto3"]} (botocore {m["botocore"]}), Debian\'s packages, through '
         f'`bench/reference/bootstrap.py` (GET /next, handler, POST /response, as the '
         f'Python runtime interface client does).', '',
         'Both sides run as whole processes against the same local AWS emulator '
         f'(pages of {PAGE_SIZE}) and the same Runtime API server; the emulator\'s own '
         'time is in the wall times, not in the CPU times or memory.', '']
    cold = data.get('cold')
    if cold:
        n = len(cold['stopper']['ours']['first_next_ms'])
        L += ['## Cold start', '',
              f'Process start (just before fork) to the first `GET /next`, and to the first '
              f'response of a no-op invocation (an account with nothing to do: the function '
              f'lists, finds nothing and answers); {n} runs of each, alternating.', '',
              '| function | ours: to /next, median / p95 | reference | ratio | ours: to the '
              'response, median / p95 | reference | ratio | peak RSS ours / reference |',
              '|---|---|---|---|---|---|---|---|']
        for fn in FUNCTIONS:
            o, r = cold[fn]['ours'], cold[fn]['reference']
            row = [fn]
            for key in ('first_next_ms', 'first_done_ms'):
                om, rm = statistics.median(o[key]), statistics.median(r[key])
                row += [f'{om:.1f} / {pct(o[key], 95):.1f} ms',
                        f'{rm:.0f} / {pct(r[key], 95):.0f} ms', _ratio(rm, om)]
            row.append(f'{statistics.median(o["peak_rss_kb"]) / 1024:.1f} / '
                       f'{statistics.median(r["peak_rss_kb"]) / 1024:.1f} MiB')
            L.append('| ' + ' | '.join(row) + ' |')
        if all('floor' in cold[fn] for fn in FUNCTIONS):
            L += ['', 'The bench\'s own part of these figures, measured in the same runs: '
                  '`bench/floor.c`, a static client that does only the Runtime API exchange '
                  'and sends the very AWS requests the function\'s no-op run makes (signed '
                  'in advance by the bench with botocore; no TLS, no signing, no parsing of '
                  'its own). Its times are the fork, the exec and the two emulators\' '
                  'answers, which both sides pay; net of them, what remains is each side\'s '
                  'own time.', '',
                  '| function | floor: to /next / to the response (median) | net to /next, '
                  'ours / reference | ratio | net to the response, ours / reference | ratio |',
                  '|---|---|---|---|---|---|']
            for fn in FUNCTIONS:
                f = cold[fn]['floor']
                row = [fn, f'{statistics.median(f["first_next_ms"]):.1f} / '
                       f'{statistics.median(f["first_done_ms"]):.1f} ms']
                for key in ('first_next_ms', 'first_done_ms'):
                    on, rn = _net(cold[fn], key)
                    row += [f'{on:.2f} / {rn:.0f} ms', _ratio(rn, on)]
                L.append('| ' + ' | '.join(row) + ' |')
        L += ['', 'Published Lambda cold starts for other runtimes (median Init Duration at '
              '128 MB, maxday/lambda-perf, https://maxday.github.io/lambda-perf/, July-August '
              '2026): ' + '; '.join(f'{name} {ms:g} ms' for name, ms in PUBLISHED) + '. '
              'Those are measured inside Lambda (Init Duration: the runtime\'s start to its '
              'first `/next`); ours above is the same span on this machine, without '
              'Lambda\'s sandbox.', '']
    warm = data.get('warm')
    if warm:
        L += ['## A warm invocation on a large account', '',
              f'The stopper and the terminator on {sizes["stopper"]:,} and '
              f'{sizes["terminator"]:,} instances, the image pruner on {sizes["image_pruner"]:,} '
              'images; every page listed, then every stop, termination or deletion made. '
              'Both sides left the account in the same state. Invocation: from delivery to '
              'the response (wall; includes the emulator\'s time) and the CPU time the '
              'function spent in it; process: the whole process, init included.', '',
              '| function | AWS calls ours / ref | invocation wall ours / ref | invocation CPU '
              'ours / ref | ratio | process CPU ours / ref | ratio | peak RSS ours / ref | ratio |',
              '|---|---|---|---|---|---|---|---|---|']
        for fn in FUNCTIONS:
            o, r = warm[fn]['ours'], warm[fn]['reference']
            oc = o['invocation_cpu_s'][0] if o['invocation_cpu_s'] else float('nan')
            rc = r['invocation_cpu_s'][0] if r['invocation_cpu_s'] else float('nan')
            L.append(f'| {fn} | {o["calls"]} / {r["calls"]} | {o["invocation_ms"][0] / 1000:.2f} / '
                     f'{r["invocation_ms"][0] / 1000:.2f} s | {oc:.2f} / {rc:.2f} s | '
                     f'{_ratio(rc, oc)} | {o["cpu_s"]:.2f} / {r["cpu_s"]:.2f} s | '
                     f'{_ratio(r["cpu_s"], o["cpu_s"])} | {o["peak_rss_kb"] / 1024:.1f} / '
                     f'{r["peak_rss_kb"] / 1024:.1f} MiB | '
                     f'{_ratio(r["peak_rss_kb"], o["peak_rss_kb"])} |')
        L += ['', 'CPU in the invocation comes from /proc/<pid>/stat (10 ms ticks); the '
              'process figures from wait4(2).', '']
    L += ['## Deployment zip', '', '| function | ours | reference |', '|---|---|---|']
    for fn, z in data['zips'].items():
        L.append(f'| {fn} | {z["ours"] / 1024 ** 2:.2f} MiB (static bootstrap) | '
                 f'{z["reference"] / 1024:.1f} KiB (the handler; boto3 {m["boto3"]} '
                 'comes with the Lambda Python runtime, outside the zip) |'
                 if z['ours'] else f'| {fn} | not built | {z["reference"]} B |')
    cg = data.get('callgrind')
    if cg:
        L += ['', '## Instructions (callgrind, ours)', '',
              'Instructions executed by a whole local run (`bootstrap --event -`) of the '
              'warm case above, under `valgrind --tool=callgrind` (an unstripped twin of '
              'the bootstrap): a figure that does not depend on the machine\'s load.', '']
        for fn, c in cg.items():
            L.append(f'- {fn}: {c["instructions"]:,} instructions; most costly (self): ' +
                     '; '.join(f'`{name}` {count / c["instructions"]:.0%}'
                               for count, name in c['top'][:6]))
    targets = data.get('targets')
    if targets:
        L += ['', '## Targets', '']
        L += [f'- {t}: {"met" if ok else "NOT met"} ({detail})' for t, ok, detail in targets]
    return '\n'.join(L) + '\n'


def _net(cold_fn, key):
    """(ours, reference) medians of `key` less the floor's median (ms)."""
    floor = statistics.median(cold_fn['floor'][key])
    return (statistics.median(cold_fn['ours'][key]) - floor,
            statistics.median(cold_fn['reference'][key]) - floor)


def targets(data):
    out = []
    cold, warm = data.get('cold'), data.get('warm')
    if cold:
        worst = min(statistics.median(cold[fn]['reference']['first_next_ms'])
                    / statistics.median(cold[fn]['ours']['first_next_ms']) for fn in FUNCTIONS)
        out.append(('cold start at least 100x faster (median, process start to the first '
                    '/next, what Lambda reports as Init Duration)',
                    worst >= 100, f'lowest ratio {worst:.0f}x'))
        worst = min(statistics.median(cold[fn]['reference']['first_done_ms'])
                    / statistics.median(cold[fn]['ours']['first_done_ms']) for fn in FUNCTIONS)
        detail = f'lowest ratio {worst:.0f}x'
        if all('floor' in cold[fn] for fn in FUNCTIONS):
            net = min(r / o if o > 0 else float('inf')
                      for o, r in (_net(cold[fn], 'first_done_ms') for fn in FUNCTIONS))
            floor = max(statistics.median(cold[fn]['floor']['first_done_ms']) for fn in FUNCTIONS)
            bound = min(statistics.median(cold[fn]['reference']['first_done_ms'])
                        / statistics.median(cold[fn]['floor']['first_done_ms']) for fn in FUNCTIONS)
            detail += (f'; the bench\'s floor alone takes up to {floor:.1f} ms of it, so that '
                       f'even a client doing nothing but the same calls reaches only '
                       f'{bound:.0f}x; net of the floor, the lowest ratio is {net:.0f}x')
        out.append(('cold start to the first response of a no-op invocation at least 100x '
                    'faster (median; both include the emulator\'s answers)',
                    worst >= 100, detail))
    if warm:
        for fn in ('stopper', 'terminator'):
            o, r = warm[fn]['ours'], warm[fn]['reference']
            cpu = r['cpu_s'] / o['cpu_s'] if o['cpu_s'] else float('inf')
            rss = r['peak_rss_kb'] / o['peak_rss_kb']
            out.append((f'{fn}: at least 10x less CPU than the reference', cpu >= 10,
                        f'{cpu:.1f}x, whole process'))
            out.append((f'{fn}: at least 10x less peak RSS', rss >= 10, f'{rss:.1f}x'))
        peak = max(warm[fn]['ours']['peak_rss_kb'] for fn in FUNCTIONS) / 1024
        out.append(('our peak RSS under 16 MB', peak * 1024 * 1024 < 16e6,
                    f'highest {peak:.1f} MiB'))
    return out


def readme_table(data):
    cold, warm = data['cold'], data['warm']
    lines = ['| function | cold start to the first /next, ours / Python+boto3 (median) | '
             'to the first response (median) | '
             'warm run on the large account: CPU, ours / reference | peak RSS, ours / reference |',
             '|---|---|---|---|---|']
    for fn in FUNCTIONS:
        on = statistics.median(cold[fn]['ours']['first_next_ms'])
        rn = statistics.median(cold[fn]['reference']['first_next_ms'])
        oc = statistics.median(cold[fn]['ours']['first_done_ms'])
        rc = statistics.median(cold[fn]['reference']['first_done_ms'])
        o, r = warm[fn]['ours'], warm[fn]['reference']
        lines.append(f'| {fn} ({data["sizes"][fn]:,} {"images" if fn == "image_pruner" else "instances"}) '
                     f'| {on:.1f} ms / {rn:.0f} ms ({_ratio(rn, on)}) '
                     f'| {oc:.1f} ms / {rc:.0f} ms ({_ratio(rc, oc)}) '
                     f'| {o["cpu_s"]:.2f} s / {r["cpu_s"]:.2f} s ({_ratio(r["cpu_s"], o["cpu_s"])}) '
                     f'| {o["peak_rss_kb"] / 1024:.1f} MiB / {r["peak_rss_kb"] / 1024:.0f} MiB '
                     f'({_ratio(r["peak_rss_kb"], o["peak_rss_kb"])}) |')
    m = data['machine']
    lines += ['', f'Measured by `make bench` on {data["date"]} ({m["nproc"]} CPUs, {m["cpu"]}, '
              f'{m["memory_gib"]} GiB); details, zip sizes and callgrind counts in '
              '[bench/RESULTS.md](bench/RESULTS.md).']
    return '\n'.join(lines)


def update_readme(path, table):
    text = path.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    path.write_text(f'{head}{README_BEGIN}\n{table}\n{README_END}{tail}')
    return True


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--build', default='build')
    p.add_argument('--cold-runs', type=int, default=30)
    p.add_argument('--instances', type=int, default=10000)
    p.add_argument('--images', type=int, default=2000)
    p.add_argument('--out', default=str(ROOT / 'bench' / 'RESULTS.md'))
    p.add_argument('--readme', default=str(ROOT / 'README.md'),
                   help='README whose bench markers get the summary table ("" for none)')
    p.add_argument('--json', help='also write every figure as JSON here')
    p.add_argument('--no-callgrind', action='store_true')
    args = p.parse_args(argv)
    build = Path(args.build).resolve()
    sizes = {'stopper': args.instances, 'terminator': args.instances,
             'image_pruner': args.images}

    def log(msg):
        print(msg, flush=True)

    data = {'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
            'machine': machine(), 'sizes': sizes}
    data['zips'] = zip_sizes(build)
    data['cold'] = cold_starts(build, args.cold_runs, log) if args.cold_runs else None
    data['warm'] = warm_runs(build, sizes, log)
    data['callgrind'] = None if args.no_callgrind else callgrind(build, sizes, log)
    data['targets'] = targets(data)
    text = report(data)
    Path(args.out).write_text(text)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))
    if args.readme and data['cold'] and update_readme(Path(args.readme), readme_table(data)):
        log(f'updated the Performance table in {args.readme}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
