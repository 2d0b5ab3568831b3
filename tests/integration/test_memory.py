"""Memory over time: valgrind memcheck on one representative run of each
function, and one bootstrap serving thousands of warm invocations with a
flat RSS.

memcheck cannot see a static binary's malloc (glibc's is linked in, not
interposable), so the valgrind runs use build/dyn/<fn>/bootstrap: the same
code, -O1 -g, linked dynamically (`make dyn`). Each runs through the Runtime
API emulator against the AWS emulator (and Slack, Drone stand-ins) like the
other integration tests, serves two invocations (state kept across them is
exercised), then the emulator shuts down: /next fails, the function releases
its state and exits, and memcheck's report must show no error and no
definitely or indirectly lost block.

The soak serves SOAK_INVOCATIONS (default 10,000) warm invocations of the
static stopper on an empty account (a DescribeInstances each) from one
process and compares VmRSS after the 1,000th with VmRSS after the last: less
than 1 MB of growth, whatever the time it took.

    DEVCLOUD_BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_memory.py
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from binaries import BUILD, bootstrap_path, require
from harness import (RTEMU, AwsEmu, DroneEmu, SlackReceiver, _Daemon, _merge_env, base_env,
                     http_json)
import test_build_monitor
import test_image_pruner
import test_scaler
import test_stopper
import test_terminator

VALGRIND = shutil.which("valgrind") or "/usr/bin/valgrind"
VALGRIND_ERROR_EXIT = 97
SOAK_INVOCATIONS = int(os.environ.get("SOAK_INVOCATIONS", "10000"))
SOAK_FIRST = 1000
# growth allowed between the first checkpoint and the last (kB of VmRSS)
SOAK_MAX_GROWTH_KB = 1024


class Runtime:
    """rtemu, driven over one kept-alive control connection."""

    def __init__(self, timeout_ms=60000, function_name="devcloud-test", region="eu-west-1"):
        self.daemon = _Daemon(RTEMU, ["--timeout-ms", str(timeout_ms), "--function-name",
                                      function_name, "--region", region], "rtemu")
        self.url = f"http://127.0.0.1:{self.daemon.port}"
        self.api = f"127.0.0.1:{self.daemon.port}"
        self.conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30)

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.conn.request(method, path, body=data,
                          headers={"Content-Type": "application/json"} if data else {})
        resp = self.conn.getresponse()
        text = resp.read()
        assert resp.status == 200, (path, resp.status, text)
        return json.loads(text)

    def invoke(self, payload, count=1):
        for _ in range(count):
            self._call("POST", "/_rt/invoke", {"payload": payload})

    def progress(self):
        return self._call("GET", "/_rt/progress")

    def results(self):
        return self._call("GET", "/_rt/results")

    def wait_done(self, n, proc, timeout_s):
        deadline = time.monotonic() + timeout_s
        while True:
            p = self.progress()
            if p["done"] >= n:
                return p
            assert proc.poll() is None, f"the bootstrap exited ({proc.returncode}) after {p}"
            assert time.monotonic() < deadline, f"only {p} after {timeout_s} s"
            time.sleep(0.05)

    def shutdown(self):
        try:
            http_json("POST", f"{self.url}/_rt/shutdown", timeout=3)
        except OSError:
            pass

    def close(self):
        self.conn.close()
        self.daemon.stop(self.shutdown)
        self.daemon.cleanup()


def env_for(rt, aws, extra, function_name="devcloud-test"):
    env = _merge_env(base_env(function_name, aws.region, aws), extra)
    env["AWS_LAMBDA_RUNTIME_API"] = rt.api
    return env


# ---- valgrind memcheck -------------------------------------------------------


def memcheck(function, aws, events, env=None):
    """Runs build/dyn/<function>/bootstrap under memcheck for `events`, then
    shuts the Runtime API down; returns (results, valgrind report)."""
    binary = require(os.path.join(BUILD, "dyn", function, "bootstrap"))
    if not os.path.exists(VALGRIND):
        pytest.fail("valgrind is not installed: `make test` installs it")
    work = tempfile.mkdtemp(prefix="memcheck-")
    log = os.path.join(work, "valgrind.log")
    rt = Runtime()
    proc = None
    try:
        for ev in events:
            rt.invoke(ev)
        cmd = [VALGRIND, "--tool=memcheck", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect", "--show-leak-kinds=definite,indirect",
               f"--error-exitcode={VALGRIND_ERROR_EXIT}", "--track-origins=yes",
               "--num-callers=30", f"--log-file={log}", binary]
        with open(os.path.join(work, "stderr"), "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                    env=env_for(rt, aws, env), cwd=work)
            rt.wait_done(len(events), proc, timeout_s=240)
            results = rt.results()["invocations"]
            rt.shutdown()        # /next fails from now on: the function exits
            rc = proc.wait(timeout=120)
        with open(log) as f:
            report = f.read()
        with open(os.path.join(work, "stderr"), errors="replace") as f:
            stderr = f.read()
        assert rc != VALGRIND_ERROR_EXIT, f"memcheck found errors:\n{report}"
        assert re.search(r"ERROR SUMMARY: 0 errors from 0 contexts", report), report
        assert "Invalid read" not in report and "Invalid write" not in report, report
        assert "definitely lost: 0 bytes" in report or "All heap blocks were freed" in report, report
        assert "indirectly lost: 0 bytes" in report or "All heap blocks were freed" in report, report
        # the function ran its invocations, it did not just start and stop
        assert [r["state"] for r in results] == ["done"] * len(events), (results, stderr)
        return results, report
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        rt.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


def summary(report):
    lines = [l.split("== ", 1)[-1] for l in report.splitlines()
             if "in use at exit" in l or "definitely lost" in l or "ERROR SUMMARY" in l]
    return "; ".join(lines)


def test_stopper_is_memcheck_clean(emu):
    aws = emu.reset(test_stopper.fleet())
    results, report = memcheck("stopper", aws, [test_stopper.SCHEDULED] * 2,
                               env=test_stopper.FAST)
    assert results[0]["kind"] == "response"
    assert sorted(results[0]["body_json"]["stopped"]) == test_stopper.ids(1, 2, 3, 4, 7)
    print(f"\nstopper: {summary(report)}")


def test_terminator_is_memcheck_clean(emu):
    aws = emu.reset(test_terminator.unprotected(test_terminator.fleet()))
    results, report = memcheck("terminator", aws, [test_terminator.SCHEDULED] * 2)
    assert sorted(results[0]["body_json"]["terminated"]) == test_terminator.ids(1, 2, 4, 5, 8)
    print(f"\nterminator: {summary(report)}")


def test_image_pruner_is_memcheck_clean(emu):
    aws = emu.reset(test_image_pruner.account())
    results, report = memcheck("image_pruner", aws, [test_image_pruner.SCHEDULED] * 2,
                               env=test_image_pruner.ENV)
    assert results[0]["kind"] == "response"
    test_image_pruner.assert_pruned(aws)
    print(f"\nimage_pruner: {summary(report)}")


def test_build_monitor_is_memcheck_clean(emu):
    tbm = test_build_monitor
    with SlackReceiver() as slack:
        aws = emu.reset(tbm.account([]))
        tbm.seed(aws, slack, [tbm.image(1, 54), tbm.image(2, 30, name="devbox-2026-11-25")],
                 [tbm.builder()])
        results, report = memcheck("build_monitor", aws, [tbm.SCHEDULED] * 2,
                                   env=tbm.param_env())
        assert results[0]["kind"] == "response", results[0]
        assert len(slack.messages()) >= 1
    print(f"\nbuild_monitor: {summary(report)}")


def test_scaler_is_memcheck_clean(emu):
    ts = test_scaler
    with DroneEmu() as drone:
        aws = emu.reset(ts.account(n_members=1))
        drone.set_stages([ts.drone_stage(i) for i in range(1, 11)])
        results, report = memcheck("scaler", aws, [ts.SCHEDULED] * 2, env=ts.env(drone))
        out = results[0]["body_json"]
        assert results[0]["kind"] == "response", results[0]
        assert out["desired"] == {"before": 1, "after": 4}
    print(f"\nscaler: {summary(report)}")


# ---- RSS over thousands of warm invocations ----------------------------------


def vmrss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_rss_stays_flat_over_warm_invocations(emu):
    assert SOAK_INVOCATIONS > SOAK_FIRST
    aws = emu.reset({"instances": []})
    binary = os.path.abspath(require(bootstrap_path("stopper")))
    rt = Runtime()
    proc = None
    rss = {}
    try:
        rt.invoke(test_stopper.SCHEDULED, SOAK_FIRST)
        started = time.monotonic()
        proc = subprocess.Popen([binary], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, cwd=os.path.dirname(binary),
                                env=env_for(rt, aws, {"AWS_LAMBDA_LOG_LEVEL": "WARN"}))
        rt.wait_done(1, proc, timeout_s=60)
        rss[1] = vmrss_kb(proc.pid)
        rt.wait_done(SOAK_FIRST, proc, timeout_s=600)
        rss[SOAK_FIRST] = vmrss_kb(proc.pid)
        done = SOAK_FIRST
        while done < SOAK_INVOCATIONS:
            batch = min(1000, SOAK_INVOCATIONS - done)
            rt.invoke(test_stopper.SCHEDULED, batch)
            done += batch
            rt.wait_done(done, proc, timeout_s=600)
            rss[done] = vmrss_kb(proc.pid)
        elapsed = time.monotonic() - started
        results = rt.results()["invocations"]
        assert len(results) == SOAK_INVOCATIONS
        # every invocation answered, each a success with nothing to stop
        assert {r["kind"] for r in results} == {"response"}, \
            [r for r in results if r["kind"] != "response"][:3]
        assert all(r["body_json"]["stopped"] == [] for r in results)
        # each one listed the account: the work was done, not skipped
        assert len(aws.calls("DescribeInstances")) == SOAK_INVOCATIONS
        assert proc.poll() is None      # one process served them all
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        rt.close()
    growth = rss[SOAK_INVOCATIONS] - rss[SOAK_FIRST]
    print(f"\nRSS over {SOAK_INVOCATIONS} warm invocations of the stopper in one process "
          f"({elapsed:.1f} s): " + ", ".join(f"#{n}: {kb} kB" for n, kb in sorted(rss.items()))
          + f"; growth from #{SOAK_FIRST} to #{SOAK_INVOCATIONS}: {growth} kB")
    assert growth < SOAK_MAX_GROWTH_KB, rss
