"""The stopper, end to end: the real bootstrap (static, and ASan/UBSan where it
matters) run through the Runtime API emulator against the strict local AWS,
checking what changed in the emulated account.
"""

import datetime
import json

import pytest

from binaries import assert_init_error, assert_no_credentials_logged, bootstrap_path, require
from harness import AwsEmu, Event, run_lambda, run_local, scheduled_event

SCHEDULED = scheduled_event("devcloud-stopper", time="2026-11-27T18:00:00Z")


def future(days):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)).strftime("%Y-%m-%d")


def devbox(n, name, state="running", **extra):
    tags = {"devcloud:role": "devbox", "Name": name}
    tags.update(extra.pop("tags", {}))
    return dict(id=f"i-0d0000000000{n:05d}", state=state, tags=tags, **extra)


def fleet():
    """A dev cloud with one instance for each rule of the stopper."""
    return {"instances": [
        devbox(1, "alice"),
        devbox(2, "bob"),
        devbox(3, "carol", hibernation=True),
        devbox(4, "dave", state="pending", running_after_describes=2),
        devbox(5, "erin", tags={"devcloud:keep-running": future(3)}),
        devbox(6, "frank", tags={"devcloud:keep-running": "tomorow"}),
        devbox(7, "gina", tags={"devcloud:keep-running": "2020-01-01"}),
        devbox(8, "drone-agent", tags={"aws:autoscaling:groupName": "drone-agents"}),
        devbox(9, "hank", state="stopped"),
        dict(id="i-0b000000000000001", state="running", tags={"devcloud:role": "builder"}),
    ]}


def ids(*ns):
    return sorted(f"i-0d0000000000{n:05d}" for n in ns)


def states(aws):
    return {i["id"]: i["state"] for i in aws.state()["instances"]}


def sent_ids(call):
    """The instance ids a call named, also when a fault answered it before parsing."""
    return sorted(v for k, v in call["raw"].items() if k.startswith("InstanceId."))


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


@pytest.fixture
def aws(emu):
    return emu.reset(fleet())


FAST = {"PENDING_POLL_INTERVAL_MS": "100"}


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_scheduled_run_on_a_mixed_fleet(aws, flavour):
    run = run_lambda(require(bootstrap_path("stopper", flavour)), [SCHEDULED], env=FAST, aws=aws)
    out = run.response(0)
    assert sorted(out["stopped"]) == ids(1, 2, 3, 4, 7)
    assert out["hibernated"] == [] and out["failed"] == [] and out["dry_run"] is False
    reasons = {s["id"]: s["reason"] for s in out["skipped"]}
    assert sorted(reasons) == ids(5, 6, 8)
    assert "opted out until" in reasons[ids(5)[0]]
    assert "unreadable devcloud:keep-running value 'tomorow'" in reasons[ids(6)[0]]
    assert "Auto Scaling group 'drone-agents'" in reasons[ids(8)[0]]
    st = states(aws)
    for i in ids(1, 2, 3, 4, 7):
        assert st[i] in ("stopping", "stopped"), (i, st[i])
    for i in ids(5, 6, 8):
        assert st[i] == "running"
    assert st[ids(9)[0]] == "stopped"
    assert st["i-0b000000000000001"] == "running"
    # dave was never sent to StopInstances while pending: every stop call succeeded
    stops = aws.calls("StopInstances")
    assert stops and all(c["status"] == 200 for c in stops), stops
    stopped_ids = [i for c in stops for i in c["params"]["InstanceIds"]]
    assert sorted(stopped_ids) == ids(1, 2, 3, 4, 7)
    # every listing asked only for live instances with the configured filter
    first = aws.calls("DescribeInstances")[0]["params"]
    names = {f["Name"]: f["Values"] for f in first["Filters"]}
    assert names == {"tag:devcloud:role": ["devbox"], "instance-state-name": ["running", "pending"]}


def test_every_page_is_read(aws):
    state = {"instances": [devbox(n, f"dev{n}") for n in range(1, 24)]}
    aws.set_state(state)
    aws.config(page_size=5)
    run = run_lambda(require(bootstrap_path("stopper")), [{}], aws=aws)
    out = run.response(0)
    assert sorted(out["stopped"]) == ids(*range(1, 24))
    describes = aws.calls("DescribeInstances")
    assert len(describes) == 5
    assert all("NextToken" in c["params"] for c in describes[1:])
    assert set(states(aws).values()) <= {"stopping", "stopped"}


def test_stops_in_batches(aws):
    aws.set_state({"instances": [devbox(n, f"dev{n}") for n in range(1, 8)]})
    run = run_lambda(require(bootstrap_path("stopper")), [{}], env={"STOP_BATCH_SIZE": "3"}, aws=aws)
    assert len(run.response(0)["stopped"]) == 7
    assert [len(c["params"]["InstanceIds"]) for c in aws.calls("StopInstances")] == [3, 3, 1]


@pytest.mark.parametrize("how", ["env", "event"])
def test_dry_run_changes_nothing(aws, how):
    env = dict(FAST, DRY_RUN="true") if how == "env" else FAST
    event = {} if how == "env" else {"dry_run": True}
    before = states(aws)
    run = run_lambda(require(bootstrap_path("stopper")), [event], env=env, aws=aws)
    out = run.response(0)
    assert out["dry_run"] is True
    assert sorted(out["stopped"]) == ids(1, 2, 3, 4, 7)
    assert states(aws) == before
    stops = aws.calls("StopInstances")
    assert stops and all(c["params"].get("DryRun") is True for c in stops)
    assert all(c["error_code"] == "DryRunOperation" for c in stops)


def test_hibernates_where_configured(aws):
    run = run_lambda(require(bootstrap_path("stopper")), [{}], env=dict(FAST, HIBERNATE="true"), aws=aws)
    out = run.response(0)
    assert out["hibernated"] == ids(3)
    hib_calls = [c for c in aws.calls("StopInstances") if c["params"].get("Hibernate")]
    assert [c["params"]["InstanceIds"] for c in hib_calls] == [ids(3)]
    carol = aws.instance(ids(3)[0])
    assert carol["hibernated"] is True


def test_event_filters_override(aws):
    run = run_lambda(require(bootstrap_path("stopper")),
                     [{"instance_filters": "tag:Name=alice,bob;tag:devcloud:role=devbox"}], aws=aws)
    assert sorted(run.response(0)["stopped"]) == ids(1, 2)
    assert states(aws)[ids(3)[0]] == "running"


@pytest.mark.parametrize("flavour", ["static", "asan"])
@pytest.mark.parametrize("kind", ["throttle", "error500", "reset", "truncate", "malformed"])
def test_failed_listing_stops_nothing(aws, kind, flavour):
    aws.fault("DescribeInstances", kind, count=10)
    before = states(aws)
    run = run_lambda(require(bootstrap_path("stopper", flavour)), [SCHEDULED], env=FAST, aws=aws)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "Stopper.ListFailed"
    assert "nothing was stopped" in r["body_json"]["errorMessage"]
    assert aws.calls("StopInstances") == []
    after = states(aws)
    assert not [i for i in after if after[i] != before[i] and after[i] in ("stopping", "stopped")]
    # the client retried: AWS_MAX_ATTEMPTS defaults to 3
    assert len(aws.calls("DescribeInstances")) == 3


def test_slow_listing_past_the_deadline_stops_nothing(aws):
    aws.fault("DescribeInstances", "slow", count=10, delay_s=6)
    before = states(aws)
    run = run_lambda(require(bootstrap_path("stopper")), [Event({}, timeout_ms=4000)], env=FAST,
                     aws=aws, timeout_s=20)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "Stopper.ListFailed"
    assert "timed out" in r["body_json"]["errorMessage"] or "no time left" in r["body_json"]["errorMessage"]
    assert aws.calls("StopInstances") == []
    assert states(aws) == before


def test_a_state_filter_of_the_callers_own_is_not_doubled(aws):
    run = run_lambda(require(bootstrap_path("stopper")),
                     [{"instance_filters": "tag:devcloud:role=devbox;instance-state-name=running"}],
                     aws=aws)
    assert sorted(run.response(0)["stopped"]) == ids(1, 2, 3, 7)   # dave is pending
    # INSTANCE_FILTERS, then the event's own (added: both must match), and no second state filter
    names = [f["Name"] for f in aws.calls("DescribeInstances")[0]["params"]["Filters"]]
    assert names == ["tag:devcloud:role", "tag:devcloud:role", "instance-state-name"]


@pytest.mark.parametrize("kind", ["throttle", "error500", "reset", "truncate", "malformed"])
def test_one_fault_is_retried(aws, kind):
    aws.fault("DescribeInstances", kind, count=1)
    aws.fault("StopInstances", kind, count=1)
    run = run_lambda(require(bootstrap_path("stopper")), [{}], env=FAST, aws=aws)
    assert sorted(run.response(0)["stopped"]) == ids(1, 2, 3, 4, 7)
    assert "retrying DescribeInstances" in run.stderr


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_stop_failures_are_reported_after_acting_on_the_rest(aws, flavour):
    # the batch of running boxes fails its 3 attempts: a fault of the call, not
    # of an instance, so it fails once, as a whole; dave, stopped once he runs,
    # still goes
    aws.fault("StopInstances", "error500", count=3)
    run = run_lambda(require(bootstrap_path("stopper", flavour)), [{}], env=FAST, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Stopper.InstancesNotStopped"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith("4 instances not stopped: " + ids(1)[0]), msg
    assert "InternalError" in msg
    st = states(aws)
    assert all(st[i] == "running" for i in ids(1, 2, 3, 7))
    assert st[ids(4)[0]] in ("stopping", "stopped")
    calls = aws.calls("StopInstances")
    assert [sent_ids(c) for c in calls] == [ids(1, 2, 3, 7)] * 3 + [ids(4)]
    assert [c["fault"] for c in calls][:3] == ["error500"] * 3


FIFTY = {"instances": [devbox(n, f"dev{n}") for n in range(1, 51)]}


@pytest.mark.parametrize("kind,code", [("throttle", "RequestLimitExceeded"),
                                       ("error500", "InternalError"),
                                       ("reset", "cannot call StopInstances")])
def test_a_batch_fault_is_one_call_never_fifty(aws, kind, code):
    # one throttled batch of 50 once became 50 throttled calls
    aws.set_state(FIFTY)
    # a reset on a kept-alive connection is also retried inside libcurl: keep resetting
    aws.fault("StopInstances", kind, count=100 if kind == "reset" else 3)
    run = run_lambda(require(bootstrap_path("stopper")), [{}], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Stopper.InstancesNotStopped"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith("50 instances not stopped: " + ids(1)[0]) and "; and 40 more" in msg, msg
    assert code in msg
    calls = aws.calls("StopInstances")
    # one call: its three attempts (a reset may cost libcurl one more)
    assert len(calls) == 3 if kind != "reset" else 3 <= len(calls) <= 6, calls
    assert all(len(sent_ids(c)) == 50 for c in calls)
    assert set(states(aws).values()) == {"running"}
    assert "not trying them one by one" in run.stderr
    # the logs name the failures one line each, never the whole result at once
    assert "result: " not in run.stderr
    assert max(len(line) for line in run.stderr.splitlines()) < 4096


def test_a_fault_that_clears_within_the_retries_stops_all(aws):
    aws.set_state(FIFTY)
    aws.fault("StopInstances", "throttle", count=2)
    run = run_lambda(require(bootstrap_path("stopper")), [{}], aws=aws)
    assert len(run.response(0)["stopped"]) == 50
    assert len(aws.calls("StopInstances")) == 3


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_pending_that_never_runs_is_reported(aws, flavour):
    state = fleet()
    state["instances"][3]["running_after_describes"] = None
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("stopper", flavour)), [Event({}, timeout_ms=5000)],
                     env={"PENDING_POLL_INTERVAL_MS": "200"}, aws=aws, timeout_s=20)
    r = run.results[0]
    assert r is not None, "the function must answer before Lambda's deadline"
    assert r["kind"] == "error" and r["error_type"] == "Stopper.InstancesNotStopped"
    assert ids(4)[0] in r["body_json"]["errorMessage"]
    assert "still pending" in r["body_json"]["errorMessage"]
    st = states(aws)
    assert all(st[i] in ("stopping", "stopped") for i in ids(1, 2, 3, 7))
    assert st[ids(4)[0]] == "pending"


@pytest.mark.parametrize("env,names", [
    ({"INSTANCE_FILTERS": "tag:devcloud:role"}, "INSTANCE_FILTERS"),
    ({"INSTANCE_FILTERS": " ; "}, "INSTANCE_FILTERS"),
    ({"HIBERNATE": "maybe"}, "HIBERNATE"),
    ({"DRY_RUN": "yes"}, "DRY_RUN"),
    ({"STOP_BATCH_SIZE": "0"}, "STOP_BATCH_SIZE"),
    ({"AWS_REGION": None, "AWS_DEFAULT_REGION": None}, "AWS_REGION"),
    ({"AWS_MAX_ATTEMPTS": "many"}, "AWS_MAX_ATTEMPTS"),
])
def test_bad_config_is_an_init_error(aws, env, names):
    run = run_lambda(require(bootstrap_path("stopper")), [{}], env=env, aws=aws, timeout_s=10)
    assert_init_error(run, aws, names)


@pytest.mark.parametrize("event,needle", [
    ({"dry_runn": True}, "dry_runn"),
    ({"dry_run": "true"}, "dry_run"),
    ([1, 2], "JSON object"),
    ("not json", "JSON"),
    ({"instance_filters": "Name"}, "instance_filters"),
])
@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_bad_event_is_refused_before_any_call(aws, event, needle, flavour):
    run = run_lambda(require(bootstrap_path("stopper", flavour)),
                     [event if not isinstance(event, str) else Event(event)], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Stopper.InvalidEvent"
    assert needle in r["body_json"]["errorMessage"]
    assert aws.calls() == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_missing_permission_is_a_failure_even_in_a_dry_run(aws, dry_run):
    state = aws.state()
    state["denied_actions"] = ["ec2:StopInstances"]
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("stopper")), [{"dry_run": dry_run}], env=FAST, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Stopper.InstancesNotStopped"
    msg = r["body_json"]["errorMessage"]
    assert "UnauthorizedOperation" in msg
    # a refusal of the caller, not of an instance: the batch of running boxes is
    # one call, never split; dave, once running, is one more (a dry run does
    # not wait for him)
    calls = aws.calls("StopInstances")
    assert [sorted(c["params"]["InstanceIds"]) for c in calls] == (
        [ids(1, 2, 3, 7)] if dry_run else [ids(1, 2, 3, 7), ids(4)])
    assert all(c["error_code"] == "UnauthorizedOperation" for c in calls)


def test_bad_credentials_stop_nothing_and_leak_nothing(aws):
    run = run_lambda(require(bootstrap_path("stopper")), [{}],
                     env={"AWS_SECRET_ACCESS_KEY": "wrong-secret-value-123"}, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Stopper.ListFailed"
    assert "AuthFailure" in r["body_json"]["errorMessage"]
    assert aws.calls("StopInstances") == []
    assert len(aws.calls("DescribeInstances")) == 1   # a 4xx is never retried
    assert "wrong-secret-value-123" not in run.logs + json.dumps(run.raw)


def test_no_secrets_or_payloads_in_logs(aws):
    marker = "payload-marker-7f3e"
    run = run_lambda(require(bootstrap_path("stopper")),
                     [{"instance_filters": f"tag:devcloud:role=devbox;tag:x={marker}"}, {}],
                     env=dict(FAST, AWS_LAMBDA_LOG_LEVEL="TRACE"), aws=aws)
    run.response(1)
    assert_no_credentials_logged(run.logs)
    assert marker not in run.stdout


def test_json_logs(aws):
    run = run_lambda(require(bootstrap_path("stopper")), [Event({}, request_id="req-json-1")],
                     env=dict(FAST, AWS_LAMBDA_LOG_FORMAT="JSON"), aws=aws)
    run.response(0)
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert line["level"] in ("INFO", "WARN", "ERROR", "DEBUG")
        datetime.datetime.strptime(line["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert any(line.get("requestId") == "req-json-1" and "stopped" in line["message"] for line in lines)


def test_second_invocation_in_the_same_sandbox(aws):
    run = run_lambda(require(bootstrap_path("stopper")), [{}, {}], env=FAST, aws=aws)
    assert sorted(run.response(0)["stopped"]) == ids(1, 2, 3, 4, 7)
    second = run.response(1)
    assert second["stopped"] == [] and second["failed"] == []
    assert run.exit_code is None   # still waiting for the next event
    # one kept-alive connection served both invocations
    conns = {c["connection"] for c in aws.calls()}
    assert len(conns) == 1, conns


def test_local_mode(aws):
    rc, out, err = run_local(require(bootstrap_path("stopper")), {"dry_run": True}, aws=aws)
    assert rc == 0, err
    assert sorted(json.loads(out)["stopped"]) == ids(1, 2, 3, 4, 7)
    rc, out, err = run_local(require(bootstrap_path("stopper")), {"bogus": 1}, aws=aws)
    assert rc == 1
    assert json.loads(out)["errorType"] == "Stopper.InvalidEvent"


@pytest.mark.parametrize("event,env,rc", [
    ({}, {}, 0),
    ({"dry_run": True}, {}, 0),
    ({"dry_run": True, "hibernate": True}, {}, 0),
    ({"bogus": 1}, {}, 1),
    ({}, {"AWS_SECRET_ACCESS_KEY": "wrong"}, 1),
    ({}, {"INSTANCE_FILTERS": "x"}, 1),
], ids=["run", "dry-run", "dry-run-hibernate", "bad-event", "bad-credentials", "bad-config"])
def test_no_leaks_in_local_mode(aws, event, env, rc):
    """The ASan/UBSan build exits normally in local mode, so LeakSanitizer runs."""
    env = dict(env, PENDING_POLL_INTERVAL_MS="100",
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    got, out, err = run_local(require(bootstrap_path("stopper", "asan")), event, env=env, aws=aws)
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert got == rc, err
