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
FUNCTION_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:devcloud-test"

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulator"))

from harness import Event, base_env, run_lambda, run_local  # noqa: E402


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


def run(bootstrap, events, env=None):
    r = run_lambda(bootstrap, events, env=env, timeout_s=60)
    assert not r.timed_out, f"timed out\n--- stderr\n{r.stderr}"
    return r


def result(r, i, kind):
    got = r.results[i]
    assert got is not None, f"event {i} has no result\n--- stderr\n{r.stderr}"
    assert got["kind"] == kind, got
    return got


def command(bootstrap, args, stdin=b"", env=None):
    return subprocess.run([bootstrap] + args, input=stdin, env=base_env() | (env or {}),
                          capture_output=True, timeout=60)


def closed_port():
    """A port nothing listens on (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- Runtime API mode --------------------------------------------------------


def test_request_fields(echo_fn):
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    r = run(echo_fn, [
        Event({"hello": "world"}, request_id="req-1", timeout_ms=42_000, trace_id=trace,
              client_context={"client": {"app_title": "t"}},
              cognito_identity={"cognitoIdentityId": "eu-west-1:x"}),
        Event([1, 2, 3], request_id="req-2"),
    ])
    first = result(r, 0, "response")
    assert first["result_headers"].get("Content-Type") == "application/json"
    got = first["body_json"]
    assert got["payload"] == {"hello": "world"}
    assert got["request_id"] == "req-1"
    assert got["function_arn"] == FUNCTION_ARN
    assert 30_000 < got["remaining_ms"] <= 42_000
    assert got["trace_env"] == trace
    assert json.loads(got["client_context"]) == {"client": {"app_title": "t"}}
    assert json.loads(got["cognito_identity"]) == {"cognitoIdentityId": "eu-west-1:x"}
    assert got["invocation"] == 1
    # the next invocation has no trace id: the variable must not leak into it
    got = result(r, 1, "response")["body_json"]
    assert got["payload"] == [1, 2, 3]
    assert got["request_id"] == "req-2"
    assert got["trace_env"] is None
    assert got["client_context"] is None and got["cognito_identity"] is None
    assert got["invocation"] == 2  # one process, init once
    assert r.raw["next_while_outstanding"] == 0


def test_function_error(echo_fn):
    r = run(echo_fn, [
        {"fail": "Stopper.InstancesNotStopped",
         "message": "cannot stop 'i-0abc': UnauthorizedOperation"},
        {},
    ])
    err = result(r, 0, "error")
    assert err["error_type"] == "Stopper.InstancesNotStopped"
    assert err["body_json"] == {"errorMessage": "cannot stop 'i-0abc': UnauthorizedOperation",
                                "errorType": "Stopper.InstancesNotStopped",
                                "stackTrace": []}
    result(r, 1, "response")  # the loop goes on
    assert "Stopper.InstancesNotStopped" in r.stderr  # and the failure is logged


def test_init_error(echo_fn):
    r = run(echo_fn, [{}], env={"ECHO_FAIL_INIT": "1"})
    assert r.init_error is not None, r.stderr
    assert r.init_error["error_type"] == "Runtime.InitError"
    doc = r.init_error["body_json"]
    assert doc["errorType"] == "Runtime.InitError"
    assert "ECHO_FAIL_INIT" in doc["errorMessage"]
    assert doc["stackTrace"] == []
    assert r.results == [None]
    assert r.next_calls == 0
    # the harness stops a process still alive once init/error is in
    assert r.exit_code is None or r.exit_code != 0
    assert "ECHO_FAIL_INIT" in r.stderr


def test_init_error_exits(echo_fn):
    env = {"ECHO_FAIL_INIT": "1", "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{closed_port()}"}
    p = command(echo_fn, [], env=env)
    assert p.returncode == 1
    assert b"ECHO_FAIL_INIT" in p.stderr


def test_response_too_large(echo_fn):
    r = run(echo_fn, [{"big": 6 * 1024 * 1024 + 1}, {"big": 6 * 1024 * 1024}])
    big = result(r, 0, "error")
    assert big["error_type"] == "Function.ResponseSizeTooLarge"
    assert big["body_json"]["errorType"] == "Function.ResponseSizeTooLarge"
    assert big["oversize_attempts"] == 0  # never tried to send it
    assert len(result(r, 1, "response")["body"]) == 6 * 1024 * 1024


def test_crash(echo_fn):
    r = run(echo_fn, [{"crash": True}, {}])
    assert r.exit_code is not None and r.exit_code != 0
    assert r.results == [None, None]


NEXT_ATTEMPTS = 5          # runtime/lambda_internal.h: LAMBDA_NEXT_ATTEMPTS
NEXT_BACKOFF_S = 0.05 + 0.1 + 0.2 + 0.4


def test_runtime_api_unreachable(echo_fn):
    env = {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{closed_port()}"}
    start = time.monotonic()
    p = command(echo_fn, [], env=env)
    elapsed = time.monotonic() - start
    assert p.returncode == 1
    assert NEXT_BACKOFF_S <= elapsed < 10, f"took {elapsed:.1f}s"
    err = p.stderr.decode()
    assert f"after {NEXT_ATTEMPTS} attempts" in err, err
    # a warning per retry and one final error, not a loop of them
    assert len(err.splitlines()) == NEXT_ATTEMPTS, err


@pytest.mark.parametrize("faults", [
    # (a connection closed without an answer comes first: on a connection it
    # reuses, libcurl itself retries that once, on a new one, unseen by us)
    [{"kind": "close"}, {"kind": "reset"}, {"kind": "status", "status": 503}],
    [{"kind": "status", "status": 500, "count": NEXT_ATTEMPTS - 1}],
], ids=["close-reset-503", "500-x4"])
def test_next_transient_failures_are_retried(echo_fn, faults):
    r = run_lambda(echo_fn, [Event({"k": 1}, request_id="after-faults"), {"k": 2}],
                   next_faults=faults, timeout_s=60)
    assert not r.timed_out, r.stderr
    n = sum(f.get("count", 1) for f in faults)
    assert r.raw["next_faults_served"] == n, r.raw
    got = result(r, 0, "response")["body_json"]
    assert got["request_id"] == "after-faults" and got["payload"] == {"k": 1}
    assert got["invocation"] == 1  # the same process: no cold start
    assert result(r, 1, "response")["body_json"]["invocation"] == 2
    assert r.exit_code is None, r.stderr  # still waiting for more
    assert r.stderr.count("retrying in") == n, r.stderr


def test_next_failing_persistently_ends_the_process(echo_fn):
    r = run_lambda(echo_fn, [{}], next_faults=[{"kind": "status", "status": 502, "count": 50}],
                   timeout_s=60)
    assert not r.timed_out, r.stderr
    assert r.exit_code == 1, r.stderr
    assert r.results == [None]
    assert r.raw["next_faults_served"] == NEXT_ATTEMPTS
    assert r.stderr.count("retrying in") == NEXT_ATTEMPTS - 1, r.stderr
    assert f"after {NEXT_ATTEMPTS} attempts: status 502" in r.stderr, r.stderr


def test_next_refused_with_4xx_is_not_retried(echo_fn):
    r = run_lambda(echo_fn, [{}], next_faults=[{"kind": "status", "status": 403, "count": 50}],
                   timeout_s=60)
    assert r.exit_code == 1, r.stderr
    assert r.raw["next_faults_served"] == 1
    assert "retrying" not in r.stderr
    assert "status 403" in r.stderr


def test_next_connect_timeout_is_short(echo_fn):
    """A Runtime API whose accept queue is full never completes a connection:
    each attempt gives up after 1 s (not libcurl's default), then the
    process exits after its retries."""
    listener = socket.socket()
    fillers = []
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        # fill the accept queue: from then on the kernel drops new SYNs
        while len(fillers) < 16:
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect(("127.0.0.1", port))
            except (socket.timeout, BlockingIOError):
                c.close()
                break
            fillers.append(c)
        else:
            pytest.skip("the kernel kept accepting connections into a full queue")
        env = {"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        start = time.monotonic()
        p = command(echo_fn, [], env=env)
        elapsed = time.monotonic() - start
    finally:
        for c in fillers:
            c.close()
        listener.close()
    err = p.stderr.decode()
    assert p.returncode == 1, err
    assert f"after {NEXT_ATTEMPTS} attempts" in err, err
    assert "Timeout was reached" in err, err
    assert NEXT_ATTEMPTS * 1.0 <= elapsed < NEXT_ATTEMPTS * 1.0 + NEXT_BACKOFF_S + 3, (
        f"took {elapsed:.1f}s\n{err}")


def test_payload_not_logged(echo_fn):
    r = run(echo_fn, [
        {"password": SECRET},
        {"fail": "Some.Error", "message": "no secrets here", "password": SECRET},
    ], env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"})
    assert SECRET in result(r, 0, "response")["body"]  # it did go through
    result(r, 1, "error")
    assert SECRET not in r.logs


def test_json_logs(echo_fn):
    r = run(echo_fn, [Event({"fail": "X.Y", "message": "m"}, request_id="j-1")],
            env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    lines = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    failed = [x for x in lines if x.get("errorType") == "X.Y"]
    assert failed, r.stderr
    assert failed[0]["level"] == "ERROR" and failed[0]["requestId"] == "j-1"
    assert failed[0]["timestamp"].endswith("Z")


# ---- local mode ---------------------------------------------------------------


def test_local_event_stdin(echo_fn):
    rc, out, err = run_local(echo_fn, {"k": "v"})
    assert rc == 0, err
    got = json.loads(out)
    assert got["payload"] == {"k": "v"}
    assert got["request_id"].startswith("local-")
    assert 290_000 < got["remaining_ms"] <= 300_000  # 5 minutes, not Lambda's 15


def test_local_event_file(echo_fn, tmp_path):
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    p = command(echo_fn, ["--event", str(event)], env={"LOCAL_TIMEOUT_MS": "5000"})
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["payload"] == {"from": "file"}
    assert 0 < got["remaining_ms"] <= 5000


def test_local_failure(echo_fn):
    rc, out, err = run_local(echo_fn, {"fail": "A.B", "message": "went wrong"})
    assert rc == 1
    assert json.loads(out) == {"errorType": "A.B", "errorMessage": "went wrong"}
    assert "went wrong" in err


def test_local_init_failure(echo_fn):
    rc, out, err = run_local(echo_fn, {}, env={"ECHO_FAIL_INIT": "1"})
    assert rc == 1
    assert "ECHO_FAIL_INIT" in err
    # the same JSON as any other failure, as --help promises
    doc = json.loads(out)
    assert set(doc) == {"errorType", "errorMessage"}, doc
    assert doc["errorType"] == "Runtime.InitError"
    assert "ECHO_FAIL_INIT" in doc["errorMessage"]


def test_help(echo_fn):
    p = command(echo_fn, ["--help"])
    assert p.returncode == 0
    out = p.stdout.decode()
    assert "ECHO_FAIL_INIT" in out  # the function's configuration
    assert "AWS_LAMBDA_RUNTIME_API" in out and "LOCAL_TIMEOUT_MS" in out
    assert "default: 300000 (5 minutes)" in out
    assert "Runtime.InitError" in out


def test_version(echo_fn):
    p = command(echo_fn, ["--version"])
    assert p.returncode == 0
    assert p.stdout.decode().startswith("echo_fn ")


@pytest.mark.parametrize("args", [["--bogus"], ["extra"], ["--event"]])
def test_bad_usage(echo_fn, args):
    p = command(echo_fn, args)
    assert p.returncode == 2
    assert b"usage:" in p.stderr


def test_missing_event_file(echo_fn, tmp_path):
    p = command(echo_fn, ["--event", str(tmp_path / "missing.json")])
    assert p.returncode == 2
    assert b"missing.json" in p.stderr


def test_no_runtime_api_no_event(echo_fn):
    p = command(echo_fn, [])
    assert p.returncode == 2
    assert b"usage:" in p.stderr
