"""The fault matrix: each function, on each call it makes, under each class of
fault, then the next scheduled run with no fault (the real static
bootstraps through the Runtime API emulator, against the local AWS, Slack
and Drone stand-ins).

Every cell runs the function once with the fault (a few invocations in one
process for the scaler, whose scale-in spans runs) and then once clean, and
checks:
 - no crash: every invocation came back with a result, the process is alive;
 - no hang: every result came before the invocation's deadline;
 - an error is a clear one (`<Function>.<Reason>` and a message), and a
   fault shorter than the retries (a throttling burst, one reset, one cut
   answer) is no error at all;
 - nothing destructive follows a listing that failed, in that invocation;
 - after the clean run the account is exactly what two fault-free runs
   leave (settling states such as stopping -> stopped, generated ids and the
   drain's command id normalised; see test_lost_answer and test_scaler).
The outcome of each cell ("ok", "ok after retries", "error <Type>") is
printed as a table at the end of the module and written to
build/fault-matrix.md; README.md's "Fault matrix" is that table.

The calls: every destructive call of every function, and one representative
listing per function (the one its decision rests on: DescribeInstances for
the stopper and terminator, DescribeImages for the image pruner and build
monitor, DescribeAutoScalingGroups for the scaler); the other listings
(the image pruner's in-use checks, the scaler's SSM and instance listings)
fail the same way through the same client and are covered by the
functions' own tests. Slack, Drone and SSM (the webhook parameter) have
their own rows, with "down" (every connection reset) as an extra column.
168 cells, about 6 minutes on 2 cores (the scaler's, three invocations per
run, are half of it); `-k stopper` or `-k "scaler and slow"` runs a part.
"""

import contextlib
import copy
import os
import re
import time

import pytest

import test_build_monitor as BM
import test_lost_answer as LA
import test_scaler as SC
from binaries import BUILD, assert_no_credentials_logged, bootstrap_path, require
from harness import AwsEmu, DroneEmu, Event, SlackReceiver, run_lambda

# ---- the fault classes (columns) ----

FAULTS = ["throttle", "error500", "slow", "reset", "truncated", "html",
          "expired_token", "unauthorized", "lost_answer", "down"]
# faults shorter than the retries (AWS_MAX_ATTEMPTS=3): they must not fail the run
TRANSIENT = {"throttle", "reset", "truncated"}
ATTEMPTS = "3"
# an invocation this long leaves each call ~1 s (the client keeps 1.5 s for
# itself); the slow answer comes later than the invocation's end
SHORT_MS = 2500
SLOW_S = 3.0
# Slack and Drone calls need 1 s for an attempt after the 1.5 s kept for
# the result: a longer invocation, a slower answer
SHORT_WEB_MS = 4000
SLOW_WEB_S = 4.5
# the build monitor reads its webhook parameter at init, within 8 s
SLOW_INIT_S = 9.0
MANY = 100          # a fault that outlasts every retry

# what each AWS fault class is in the emulator: (kind, count, AWS_MAX_ATTEMPTS)
AWS_FAULTS = {
    "throttle": ("throttle", 2, ATTEMPTS),          # a burst the retries absorb
    # persistent faults: two attempts show the retry without the backoff of a third
    "error500": ("error500", MANY, "2"),
    "slow": ("slow", 1, ATTEMPTS),
    "reset": ("reset", 1, ATTEMPTS),
    "truncated": ("truncate", 1, ATTEMPTS),         # half the body, then closed
    "html": ("html", MANY, "2"),                    # a proxy's 502 page
    "expired_token": ("expired_token", MANY, ATTEMPTS),
    "lost_answer": ("lost_500", 1, "1"),            # acted, then a 500; no retry
}

SERVICE_OF = {"DescribeInstances": "ec2", "StopInstances": "ec2", "TerminateInstances": "ec2",
              "DescribeImages": "ec2", "CreateTags": "ec2", "DeregisterImage": "ec2",
              "DeleteSnapshot": "ec2", "DescribeAutoScalingGroups": "autoscaling",
              "SetDesiredCapacity": "autoscaling", "CreateOrUpdateTags": "autoscaling",
              "DetachInstances": "autoscaling", "SendCommand": "ssm", "GetParameter": "ssm"}

LISTINGS = {"DescribeInstances", "DescribeImages", "DescribeSnapshots",
            "DescribeAutoScalingGroups", "DescribeLaunchTemplateVersions",
            "DescribeInstanceInformation", "ListCommandInvocations", "GetParameter"}
DESTRUCTIVE = {"StopInstances", "TerminateInstances", "CreateTags", "DeleteTags",
               "DeregisterImage", "DeleteSnapshot", "SetDesiredCapacity",
               "CreateOrUpdateTags", "DetachInstances", "SendCommand", "SetInstanceHealth"}

# ---- the calls (rows): function, call ----

ROWS = [
    ("stopper", "DescribeInstances"), ("stopper", "StopInstances"),
    ("terminator", "DescribeInstances"), ("terminator", "TerminateInstances"),
    ("image_pruner", "DescribeImages"), ("image_pruner", "CreateTags"),
    ("image_pruner", "DeregisterImage"), ("image_pruner", "DeleteSnapshot"),
    ("build_monitor", "GetParameter"), ("build_monitor", "DescribeImages"),
    ("build_monitor", "Slack webhook"),
    ("scaler", "Drone queue"), ("scaler", "DescribeAutoScalingGroups"),
    ("scaler", "SetDesiredCapacity"), ("scaler", "CreateOrUpdateTags"),
    ("scaler", "CreateTags"), ("scaler", "SendCommand"), ("scaler", "DetachInstances"),
    ("scaler", "TerminateInstances"),
]

HTML_PAGE = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
             "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n")

# Slack's faults, as answers of the receiver; None: not a fault Slack has
SLACK_FAULTS = {
    "throttle": [{"status": 429, "retry_after": 1, "body": "rate_limited"}],
    "error500": [{"status": 500, "body": "internal_error"}] * MANY,
    "slow": [{"delay_s": SLOW_WEB_S}],
    "reset": [{"reset": True}],
    "html": [{"status": 502, "body": HTML_PAGE}] * MANY,
    "unauthorized": [{"status": 403, "body": "invalid_token"}] * MANY,   # a revoked webhook
    "down": [{"reset": True}] * MANY,
}
# Drone's, as droneemu faults: (kind, count)
DRONE_FAULTS = {
    "error500": ("error500", MANY), "slow": ("slow", 1), "reset": ("reset", 1),
    "truncated": ("truncated", MANY), "html": ("html", MANY),
    "unauthorized": ("unauthorized", MANY), "down": ("reset", MANY),
}


# what an error message says of each fault (any of these)
CAUSES = {
    "error500": ("500", "InternalError", "InternalFailure", "InternalServerError"),
    "html": ("502",),
    "slow": ("timed out", "deadline", "time"),
    "expired_token": ("ExpiredToken",),
    "unauthorized": ("UnauthorizedOperation", "AccessDenied", "403", "401"),
}


def applies(call, fault):
    if call == "Slack webhook":
        return fault in SLACK_FAULTS
    if call == "Drone queue":
        return fault in DRONE_FAULTS
    if fault == "down":
        return call == "GetParameter"      # SSM down: the webhook cannot be read
    return True


CASES = [(fn, call, fault) for fn, call in ROWS for fault in FAULTS if applies(call, fault)]

# ---- the functions' accounts and runs ----

SCALER_RUNS = 3      # mark, look again, drain: a scale-in spans runs
SCALE_OUT_CALLS = ("SetDesiredCapacity", "CreateOrUpdateTags")
ERROR_TYPE = re.compile(r"^(Stopper|Terminator|ImagePruner|BuildMonitor|Scaler)\.[A-Z][A-Za-z]+$")


class World:
    def __init__(self, aws, slack, drone):
        self.aws, self.slack, self.drone = aws, slack, drone
        self.monitor_seed = None

    def seed(self, function, call):
        """The account (and Slack, Drone) a case starts from."""
        self.slack.clear()
        self.drone.clear()
        self.aws.clear_faults()
        if function in ("stopper", "terminator", "image_pruner"):
            self.aws.reset(copy.deepcopy(LA.SEED))
        elif function == "build_monitor":
            if self.monitor_seed is None:     # once: its times are relative to now
                self.monitor_seed = BM.account([BM.image(1, 54), BM.image(2, 30)],
                                               [BM.builder()], parameter_value=self.slack.url)
                for inst in self.monitor_seed["instances"]:
                    inst.setdefault("launch_time", BM.hours_ago(3))
            self.aws.reset(copy.deepcopy(self.monitor_seed))
        else:
            self.aws.clear_calls()
            SC.scenario(self.aws, self.drone, call if call in SCALE_OUT_CALLS else "CreateTags")

    def run(self, function, env=None, timeout_ms=None):
        extra = dict(env or {})
        if function in ("stopper", "terminator", "image_pruner"):
            fn_env, event = LA.FUNCTIONS[function]
            events = [event]
            extra = dict(fn_env, **extra)
        elif function == "build_monitor":
            events = [BM.SCHEDULED]
            extra = BM.param_env(**extra)
        else:
            events = [SC.SCHEDULED] * SCALER_RUNS
            extra = SC.env(self.drone, SCALE_IN_COOLDOWN_MINUTES="0", **extra)
        if timeout_ms:
            events = [Event(e, timeout_ms=timeout_ms) for e in events]
        return run_lambda(require(bootstrap_path(function)), events, env=extra,
                          aws=self.aws, timeout_s=60)

    def account(self, function):
        """The account, normalised as the function's convergence tests do."""
        if function == "scaler":
            return SC.settled(self.aws)
        state = LA.settled(self.aws.state())
        # a parameter's modification date is the seeding's: the rest must hold
        state["parameters"] = [{k: v for k, v in p.items() if k != "last_modified_date"}
                               for p in state.get("parameters", [])]
        return state


@pytest.fixture(scope="module")
def world():
    with AwsEmu() as aws, SlackReceiver() as slack, DroneEmu() as drone:
        yield World(aws, slack, drone)


_reference = {}


def reference(world, function, call):
    """The account after two fault-free runs."""
    key = (function, call if function == "scaler" and call in SCALE_OUT_CALLS else None)
    if key not in _reference:
        world.seed(function, call)
        for _ in range(2):
            r = world.run(function)
            assert all(x is not None and x["kind"] == "response" for x in r.results), r.results
        _reference[key] = world.account(function)
    return _reference[key]


# ---- the matrix, printed at the end ----

OUTCOMES = {}


def render():
    cols = [f for f in FAULTS if any((fn, call, f) in OUTCOMES for fn, call in ROWS)]
    lines = ["| function | call | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for fn, call in ROWS:
        if not any((fn, call, f) in OUTCOMES for f in cols):
            continue
        cells = [OUTCOMES.get((fn, call, f), "n/a" if not applies(call, f) else "not run")
                 for f in cols]
        lines.append(f"| {fn} | {call} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module", autouse=True)
def matrix(request):
    yield
    if not OUTCOMES:
        return
    table = render()
    path = os.path.join(BUILD, "fault-matrix.md")
    os.makedirs(BUILD, exist_ok=True)
    with open(path, "w") as f:
        f.write(table)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    # past pytest's capture, so that it shows with -q and in tests/run.sh's log
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_line(f"fault matrix (function, call x fault -> outcome; also in {path}):")
        for line in table.splitlines():
            reporter.write_line(line)


# ---- one cell ----

def arm(world, function, call, fault):
    """Injects the fault; returns (env, timeout_ms)."""
    env, timeout_ms = {"AWS_MAX_ATTEMPTS": ATTEMPTS}, None
    if fault == "slow":
        # the scaler reads the Drone queue before anything else
        web = call in ("Slack webhook", "Drone queue") or function == "scaler"
        timeout_ms = SHORT_WEB_MS if web else SHORT_MS
        if call == "GetParameter" and function == "build_monitor":
            timeout_ms = None
    if call == "Slack webhook":
        world.slack.script([{"delay_s": SLOW_WEB_S}] if fault == "slow" else SLACK_FAULTS[fault])
    elif call == "Drone queue":
        kind, count = DRONE_FAULTS[fault]
        world.drone.fault(kind, count=count, delay_s=SLOW_WEB_S if kind == "slow" else 0)
    elif fault == "unauthorized":
        st = world.aws.state()
        st["denied_actions"] = [f"{SERVICE_OF[call]}:{call}"]
        world.aws.set_state(st)
    elif fault == "down":
        env["AWS_MAX_ATTEMPTS"] = "2"
        world.aws.fault(call, "reset", count=MANY)
    else:
        kind, count, attempts = AWS_FAULTS[fault]
        env["AWS_MAX_ATTEMPTS"] = attempts
        delay = SLOW_WEB_S if function == "scaler" else SLOW_S
        if function == "build_monitor" and call == "GetParameter":
            delay = SLOW_INIT_S
        world.aws.fault(call, kind, count=count, delay_s=delay if kind == "slow" else 0)
    return env, timeout_ms


def fired(world, call, fault):
    """The fault reached the function (its calls while faulted)."""
    if call == "Slack webhook":
        if fault == "slow":      # recorded once its delay is over
            return wait_for(lambda: world.slack.requests())
        return [r for r in world.slack.requests() if r["status"] != 200]
    if call == "Drone queue":
        if fault == "slow":
            return wait_for(lambda: [r for r in world.drone.requests() if r.get("fault")])
        return [r for r in world.drone.requests() if r.get("fault")]
    if fault == "unauthorized":
        return [c for c in world.aws.calls(call) if c["status"] == 403 or
                c["error_code"] in ("UnauthorizedOperation", "AccessDenied",
                                    "AccessDeniedException")]
    if fault == "slow":
        # the slow call is logged once its delay is over: wait for it, so
        # that it lands (and acts) before the next run, not during it
        return wait_for(lambda: [c for c in world.aws.calls(call) if c["fault"] == "slow"])
    return [c for c in world.aws.calls(call) if c["fault"]]


def wait_for(probe):
    deadline = time.monotonic() + SLOW_INIT_S + 5
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.05)
    return []


def retried(world, call):
    """The faulted call was made again and answered."""
    if call == "Slack webhook":
        return bool(world.slack.messages())
    if call == "Drone queue":
        return any(r["status"] == 200 for r in world.drone.requests())
    return any(c["status"] == 200 and not c["fault"] for c in world.aws.calls(call))


def outcome(run):
    """(label, [error results]) of a faulted run."""
    errors = [r for r in run.results if r["kind"] == "error"]
    if errors:
        return "error " + errors[0]["error_type"], errors
    return "ok", []


def failed_listing_then_destructive(calls, results):
    """Destructive calls made, in an invocation that ended in error, after a
    listing of that invocation failed (and was not answered on a retry)."""
    bad = []
    for r in results:
        if r["kind"] != "error":
            continue
        start, end = r["delivered_at_ms"] / 1000, r["completed_at_ms"] / 1000
        mine = sorted((c for c in calls if start <= c["time"] <= end), key=lambda c: c["time"])
        failed = {}
        for c in mine:
            if c["action"] in LISTINGS:
                if c["status"] == 200 and not c["fault"]:
                    failed.pop(c["action"], None)
                else:
                    failed.setdefault(c["action"], c["time"])
            elif c["action"] in DESTRUCTIVE and failed:
                bad.append((c["action"], sorted(failed)))
    return bad


@pytest.mark.parametrize("function,call,fault", CASES,
                         ids=[f"{fn}-{call.replace(' ', '_')}-{f}" for fn, call, f in CASES])
def test_fault(world, function, call, fault):
    want = reference(world, function, call)
    world.seed(function, call)
    world.aws.clear_calls()
    env, timeout_ms = arm(world, function, call, fault)
    started = time.monotonic()
    first = world.run(function, env=env, timeout_ms=timeout_ms)
    took = time.monotonic() - started
    hit = fired(world, call, fault)
    assert hit, f"the fault never fired: {[c['action'] for c in world.aws.calls()]}"
    if fault in ("lost_answer", "truncated") and call in DESTRUCTIVE:
        assert hit[0]["status"] == 200, hit[0]      # it acted; only the answer was lost
    calls = world.aws.calls()

    if first.init_error is not None:
        # the build monitor reads its webhook parameter once, at init: an
        # SSM fault there fails the init (Lambda reports it as the
        # invocation's error and starts a new sandbox for the next one)
        assert (function, call) == ("build_monitor", "GetParameter"), first.init_error
        assert first.init_error["error_type"] == "Runtime.InitError"
        message = first.init_error["body_json"]["errorMessage"]
        assert "SLACK_WEBHOOK_PARAMETER" in message and "<html" not in message.lower()
        assert first.exit_code == 1, first.exit_code          # an exit, not a signal
        assert took < SLOW_INIT_S + 5, took
        assert not [c for c in calls if c["action"] in DESTRUCTIVE]
        assert_no_credentials_logged(first.logs)
        label = "init error Runtime.InitError"
        if fault in TRANSIENT:
            pytest.fail(f"a {fault} shorter than the retries failed the init: {message}")
    else:
        label = check_invocations(world, function, call, fault, first, calls, timeout_ms, took)

    # the next scheduled run, fault-free: as if nothing had happened
    world.aws.clear_faults()
    world.slack.clear()
    world.drone.clear()
    if fault == "unauthorized" and call not in ("Slack webhook", "Drone queue"):
        st = world.aws.state()
        st["denied_actions"] = []
        world.aws.set_state(st)
    second = world.run(function)
    assert all(r is not None and r["kind"] == "response" for r in second.results), (
        second.results, second.stderr[-3000:])
    assert world.account(function) == want
    if function == "build_monitor":
        assert len(world.slack.messages()) == 1      # the clean run's alert
    OUTCOMES[(function, call, fault)] = label


def check_invocations(world, function, call, fault, first, calls, timeout_ms, took):
    """The faulted run's invocations: no crash, no hang, clear errors, nothing
    destructive after a failed listing; returns the cell's label."""
    # no crash, no hang
    assert first.init_error is None and first.exit_code is None, (first.exit_code, first.stderr)
    assert all(r is not None for r in first.results), (first.results, first.stderr[-3000:])
    for r in first.results:
        assert not r["late"], f"a result after the deadline: {r}"
    limit_s = (timeout_ms or 30000) / 1000 * len(first.results) + 5
    assert took < limit_s, took

    label, errors = outcome(first)
    if errors and fault in CAUSES:
        # the first failed invocation met the fault: its message names it
        message = errors[0]["body_json"]["errorMessage"]
        assert any(c in message for c in CAUSES[fault]), (fault, message)
    for e in errors:
        assert ERROR_TYPE.match(e["error_type"]), e
        message = e["body_json"]["errorMessage"]
        assert message and len(message) < 4096, e
        assert "<html" not in message.lower(), e      # a proxy's page is named, not pasted
    assert_no_credentials_logged(first.logs)
    assert world.slack.secret not in first.logs and world.drone.token not in first.logs
    if fault in TRANSIENT and call != "Drone queue":
        assert not errors, f"a {fault} shorter than the retries failed the run: {errors}"
    if not errors and retried(world, call):
        label = "ok after retries"

    # nothing destructive after a failed listing
    assert failed_listing_then_destructive(calls, first.results) == []
    return label
