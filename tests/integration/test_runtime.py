"""The Lambda runtime (runtime/lambda.c), end to end: the real echo_fn binary
(static, and the ASan/UBSan build when it exists) against the Runtime API
emulator, exactly as Lambda runs a bootstrap, and as a command-line tool.

    DEVCLOUD_BUILD=build /usr/bin/python3 -m pytest tests/integration/test_runtime.py
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

BUILD = os.environ.get("DEVCLOUD_BUILD", "build")
SECRET = "sk-live-THIS-MUST-NOT-BE-LOGGED-0123456789"
ARN = "arn:aws:lambda:eu-west-1:123456789012:function:echo"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))


def _binaries():
    out = [pytest.param(os.path.join(BUILD, "tools", "echo_fn"), id="static")]
    asan = os.path.join(BUILD, "asan", "tools", "echo_fn")
    if os.path.exists(asan):
        out.append(pytest.param(asan, id="asan"))
    return out


@pytest.fixture(params=_binaries())
def echo_fn(request):
    path = request.param
    if not os.path.exists(path):
        pytest.skip(f"{path} is not built")
    return os.path.abspath(path)


# ---- the emulator, in the shape these tests need ----------------------------


class Run:
    """What happened when a bootstrap served a list of invocations."""

    def __init__(self, returncode, stderr, results, init_error, elapsed):
        self.returncode = returncode  # None if still running at the end
        self.stderr = stderr
        self.results = results  # request id -> Result (absent: no result)
        self.init_error = init_error  # Result, or None
        self.elapsed = elapsed


class Result:
    def __init__(self, kind, body, error_type=None, content_type=None):
        self.kind = kind  # "response" or "error"
        self.body = body  # bytes
        self.error_type = error_type  # the Lambda-Runtime-Function-Error-Type header
        self.content_type = content_type

    def json(self):
        return json.loads(self.body)


def run_runtime(bootstrap, invocations, env=None, timeout=60):
    """invocations: [{"id", "payload" (bytes), "headers": {...}}]."""
    from _rt_adapter import run_runtime as impl  # replaced once harness.py lands

    return impl(bootstrap, invocations, env or {}, timeout)


def invocation(request_id, payload, **headers):
    if not isinstance(payload, bytes):
        payload = json.dumps(payload).encode()
    return {"id": request_id, "payload": payload, "headers": headers}


def local(bootstrap, args, stdin=b"", env=None, timeout=60):
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    full_env.update(env or {})
    return subprocess.run([bootstrap] + args, input=stdin, env=full_env,
                          capture_output=True, timeout=timeout)


# ---- Runtime API mode --------------------------------------------------------


def test_request_fields(echo_fn):
    deadline = int(time.time() * 1000) + 42_000
    run = run_runtime(echo_fn, [
        invocation("req-1", {"hello": "world"}, **{
            "Lambda-Runtime-Deadline-Ms": str(deadline),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Lambda-Runtime-Client-Context": '{"client":{"app_title":"t"}}',
            "Lambda-Runtime-Cognito-Identity": '{"cognitoIdentityId":"eu-west-1:x"}',
        }),
        invocation("req-2", [1, 2, 3]),
    ])
    r1, r2 = run.results["req-1"], run.results["req-2"]
    assert r1.kind == "response" and r2.kind == "response"
    assert r1.content_type == "application/json"
    got = r1.json()
    assert got["payload"] == {"hello": "world"}
    assert got["request_id"] == "req-1"
    assert got["function_arn"] == ARN
    assert 30_000 < got["remaining_ms"] <= 42_000
    assert got["trace_env"] == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    assert got["client_context"] == '{"client":{"app_title":"t"}}'
    assert got["cognito_identity"] == '{"cognitoIdentityId":"eu-west-1:x"}'
    assert got["invocation"] == 1
    # the next invocation has no trace id: the variable must not leak into it
    got = r2.json()
    assert got["payload"] == [1, 2, 3]
    assert got["request_id"] == "req-2"
    assert got["trace_env"] is None
    assert got["client_context"] is None and got["cognito_identity"] is None
    assert got["invocation"] == 2  # one process, init once


def test_function_error(echo_fn):
    run = run_runtime(echo_fn, [
        invocation("req-f", {"fail": "Stopper.InstancesNotStopped",
                             "message": "cannot stop 'i-0abc': UnauthorizedOperation"}),
        invocation("req-ok", {}),
    ])
    err = run.results["req-f"]
    assert err.kind == "error"
    assert err.error_type == "Stopper.InstancesNotStopped"
    assert err.json() == {"errorMessage": "cannot stop 'i-0abc': UnauthorizedOperation",
                          "errorType": "Stopper.InstancesNotStopped", "stackTrace": []}
    assert run.results["req-ok"].kind == "response"  # the loop goes on
    assert "Stopper.InstancesNotStopped" in run.stderr  # and the failure is logged


def test_init_error(echo_fn):
    run = run_runtime(echo_fn, [invocation("never", {})], env={"ECHO_FAIL_INIT": "1"})
    assert run.returncode not in (None, 0)
    assert run.init_error is not None
    assert run.init_error.error_type == "Runtime.InitError"
    doc = run.init_error.json()
    assert doc["errorType"] == "Runtime.InitError"
    assert "ECHO_FAIL_INIT" in doc["errorMessage"]
    assert doc["stackTrace"] == []
    assert "never" not in run.results
    assert "ECHO_FAIL_INIT" in run.stderr


def test_response_too_large(echo_fn):
    run = run_runtime(echo_fn, [
        invocation("big", {"big": 6 * 1024 * 1024 + 1}),
        invocation("max", {"big": 6 * 1024 * 1024}),
    ])
    big = run.results["big"]
    assert big.kind == "error"
    assert big.error_type == "Function.ResponseSizeTooLarge"
    assert big.json()["errorType"] == "Function.ResponseSizeTooLarge"
    mx = run.results["max"]
    assert mx.kind == "response" and len(mx.body) == 6 * 1024 * 1024


def test_crash(echo_fn):
    run = run_runtime(echo_fn, [invocation("boom", {"crash": True}),
                                invocation("after", {})])
    assert run.returncode is not None and run.returncode != 0
    assert "boom" not in run.results
    assert "after" not in run.results


def test_runtime_api_unreachable(echo_fn):
    # a port that was free a moment ago: nothing listens there
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": "/usr/bin:/bin", "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
    start = time.monotonic()
    p = subprocess.run([echo_fn], env=env, capture_output=True, timeout=30)
    elapsed = time.monotonic() - start
    assert p.returncode != 0
    assert elapsed < 10, f"took {elapsed:.1f}s"
    assert b"Runtime API" in p.stderr
    assert len(p.stderr.splitlines()) < 5  # one failure, not a loop of them


def test_payload_not_logged(echo_fn):
    run = run_runtime(echo_fn, [
        invocation("s1", {"password": SECRET}),
        invocation("s2", {"fail": "Some.Error", "message": "no secrets here",
                          "password": SECRET}),
    ], env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"})
    assert run.results["s1"].kind == "response"
    assert SECRET in run.results["s1"].body.decode()  # it did go through
    assert run.results["s2"].kind == "error"
    assert SECRET not in run.stderr


def test_json_logs(echo_fn):
    run = run_runtime(echo_fn, [invocation("j1", {"fail": "X.Y", "message": "m"})],
                      env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    lines = [json.loads(x) for x in run.stderr.splitlines() if x.startswith("{")]
    failed = [x for x in lines if x.get("errorType") == "X.Y"]
    assert failed and failed[0]["level"] == "ERROR" and failed[0]["requestId"] == "j1"


# ---- local mode ---------------------------------------------------------------


def test_local_event_stdin(echo_fn):
    p = local(echo_fn, ["--event", "-"], stdin=b'{"k": "v"}')
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["payload"] == {"k": "v"}
    assert got["request_id"].startswith("local-")
    assert 890_000 < got["remaining_ms"] <= 900_000


def test_local_event_file(echo_fn, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    p = local(echo_fn, ["--event", str(event)], env={"LOCAL_TIMEOUT_MS": "5000"})
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["payload"] == {"from": "file"}
    assert 0 < got["remaining_ms"] <= 5000


def test_local_failure(echo_fn):
    p = local(echo_fn, ["--event", "-"], stdin=b'{"fail": "A.B", "message": "went wrong"}')
    assert p.returncode == 1
    assert json.loads(p.stdout) == {"errorType": "A.B", "errorMessage": "went wrong"}


def test_local_init_failure(echo_fn):
    p = local(echo_fn, ["--event", "-"], stdin=b"{}", env={"ECHO_FAIL_INIT": "1"})
    assert p.returncode == 1
    assert b"ECHO_FAIL_INIT" in p.stderr


def test_help(echo_fn):
    p = local(echo_fn, ["--help"])
    assert p.returncode == 0
    out = p.stdout.decode()
    assert "ECHO_FAIL_INIT" in out  # the function's configuration
    assert "AWS_LAMBDA_RUNTIME_API" in out and "LOCAL_TIMEOUT_MS" in out


def test_version(echo_fn):
    p = local(echo_fn, ["--version"])
    assert p.returncode == 0
    assert p.stdout.decode().startswith("echo_fn ")


@pytest.mark.parametrize("args", [["--bogus"], ["extra"], ["--event"]])
def test_bad_usage(echo_fn, args):
    p = local(echo_fn, args)
    assert p.returncode == 2
    assert b"usage:" in p.stderr


def test_missing_event_file(echo_fn, tmp_path):
    p = local(echo_fn, ["--event", str(tmp_path / "missing.json")])
    assert p.returncode == 2
    assert b"missing.json" in p.stderr


def test_no_runtime_api_no_event(echo_fn):
    p = local(echo_fn, [])
    assert p.returncode == 2
    assert b"usage:" in p.stderr
