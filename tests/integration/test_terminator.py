"""The terminator, end to end: the real bootstrap (static, and ASan/UBSan where it
matters) run through the Runtime API emulator against the strict local AWS,
checking what changed in the emulated account.
"""

import datetime
import json
import subprocess

import pytest

from binaries import assert_init_error, assert_no_credentials_logged, bootstrap_path, require
from harness import AwsEmu, Event, run_lambda, run_local, scheduled_event

SCHEDULED = scheduled_event("devcloud-terminator", time="2026-11-27T03:00:00Z")

GONE = ("shutting-down", "terminated")


def ago(hours):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def bid(n):
    return f"i-0b0000000000{n:05d}"


def builder(n, hours, state="running", launched_hours=None, **extra):
    """A builder whose network interface attached `hours` ago; it launched
    `launched_hours` ago (default: at the same time)."""
    tags = {"devcloud:role": "builder", "Name": f"nightly-{n}"}
    tags.update(extra.pop("tags", {}))
    launched = hours if launched_hours is None else launched_hours
    return dict(id=bid(n), state=state, tags=tags, attach_time=ago(hours),
                launch_time=ago(launched), **extra)


def devbox(n, hours):
    return dict(id=f"i-0d0000000000{n:05d}", state="running", attach_time=ago(hours),
                launch_time=ago(hours), tags={"devcloud:role": "devbox", "Name": f"dev{n}"})


def fleet():
    """Builders for each rule of the terminator, and dev boxes it must not touch."""
    return {"instances": [
        builder(1, 72),                                 # old: terminated
        builder(2, 60, launched_hours=1),               # stopped and started: old by its ENI
        builder(3, 2),                                  # young: kept
        builder(4, 100, disable_api_termination=True),  # protected: reported
        builder(5, 80, state="stopped"),                # stopped, old: terminated
        builder(6, 90, tags={"aws:autoscaling:groupName": "builders"}),   # its group's
        builder(7, 500, state="terminated"),            # gone already: not listed
        builder(8, 49, state="pending"),                # stuck pending, old: terminated
        builder(9, 47),                                 # young: kept
        devbox(1, 300),
        devbox(2, 1),
    ]}


def states(aws):
    return {i["id"]: i["state"] for i in aws.state()["instances"]}


def ids(*ns):
    return sorted(bid(n) for n in ns)


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


def unprotected(state):
    for inst in state["instances"]:
        inst.pop("disable_api_termination", None)
    return state


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_old_builders_are_terminated(aws, flavour):
    aws.set_state(unprotected(fleet()))
    run = run_lambda(require(bootstrap_path("terminator", flavour)), [SCHEDULED], aws=aws)
    out = run.response(0)
    assert sorted(out["terminated"]) == ids(1, 2, 4, 5, 8)
    assert out["failed"] == [] and out["dry_run"] is False
    kept = {k["id"]: k["age_hours"] for k in out["kept"]}
    assert sorted(kept) == ids(3, 6, 9)
    assert abs(kept[bid(3)] - 2.0) <= 0.1 and abs(kept[bid(9)] - 47.0) <= 0.1
    assert abs(kept[bid(6)] - 90.0) <= 0.1
    st = states(aws)
    assert all(st[i] in GONE for i in ids(1, 2, 4, 5, 8)), st
    assert all(st[i] == "running" for i in ids(3, 6, 9))
    assert st["i-0d000000000000001"] == "running" and st["i-0d000000000000002"] == "running"
    # one call: every old builder in one batch, the dev boxes never named
    calls = aws.calls("TerminateInstances")
    assert [sorted(c["params"]["InstanceIds"]) for c in calls] == [ids(1, 2, 4, 5, 8)]
    # the listing asked for builders in the four billed states
    filters = {f["Name"]: f["Values"] for f in aws.calls("DescribeInstances")[0]["params"]["Filters"]}
    assert filters == {"tag:devcloud:role": ["builder"],
                       "instance-state-name": ["pending", "running", "stopping", "stopped"]}
    assert "since its network interface attached" in run.stderr
    assert f"keeping {bid(6)} (nightly-6): member of Auto Scaling group 'builders'" in run.stderr


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_a_protected_builder_is_reported_after_the_others_are_terminated(aws, flavour):
    run = run_lambda(require(bootstrap_path("terminator", flavour)), [SCHEDULED], aws=aws)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "Terminator.InstancesNotTerminated"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith(f"1 instance not terminated: {bid(4)} (OperationNotPermitted: "), msg
    st = states(aws)
    assert st[bid(4)] == "running"
    assert all(st[i] in GONE for i in ids(1, 2, 5, 8))
    assert all(st[i] == "running" for i in ids(3, 6, 9))
    calls = aws.calls("TerminateInstances")
    # the batch is refused, then each is tried alone
    assert [len(c["params"]["InstanceIds"]) for c in calls] == [5, 1, 1, 1, 1, 1]
    assert calls[0]["error_code"] == "OperationNotPermitted"
    refused = [c["params"]["InstanceIds"] for c in calls[1:] if c["status"] != 200]
    assert refused == [[bid(4)]]
    assert f"cannot terminate '{bid(4)}' (nightly-4): OperationNotPermitted" in run.stderr


def test_every_page_is_read(aws):
    aws.set_state({"instances": [builder(n, 50 + n) for n in range(1, 12)] + [devbox(1, 300)]})
    aws.config(page_size=2)
    run = run_lambda(require(bootstrap_path("terminator")), [{}], aws=aws)
    out = run.response(0)
    assert sorted(out["terminated"]) == ids(*range(1, 12))
    describes = aws.calls("DescribeInstances")
    assert len(describes) == 6
    assert all("NextToken" in c["params"] for c in describes[1:])
    assert all(s in GONE for i, s in states(aws).items() if i.startswith("i-0b"))


def test_terminates_in_batches(aws):
    aws.set_state({"instances": [builder(n, 60) for n in range(1, 6)]})
    run = run_lambda(require(bootstrap_path("terminator")), [{}],
                     env={"TERMINATE_BATCH_SIZE": "2"}, aws=aws)
    assert sorted(run.response(0)["terminated"]) == ids(1, 2, 3, 4, 5)
    assert [len(c["params"]["InstanceIds"]) for c in aws.calls("TerminateInstances")] == [2, 2, 1]


@pytest.mark.parametrize("how", ["env", "event"])
def test_dry_run_changes_nothing(aws, how):
    env = {"DRY_RUN": "true"} if how == "env" else {}
    event = {} if how == "env" else {"dry_run": True}
    before = states(aws)
    run = run_lambda(require(bootstrap_path("terminator")), [event], env=env, aws=aws)
    out = run.response(0)
    assert out["dry_run"] is True
    # EC2's DryRun checks permissions, not termination protection
    assert sorted(out["terminated"]) == ids(1, 2, 4, 5, 8)
    assert out["failed"] == []
    assert states(aws) == before
    calls = aws.calls("TerminateInstances")
    assert calls and all(c["params"].get("DryRun") is True for c in calls)
    assert all(c["error_code"] == "DryRunOperation" for c in calls)
    assert f"would terminate {bid(1)} (nightly-1)" in run.stderr


def test_event_overrides(aws):
    run = run_lambda(require(bootstrap_path("terminator")),
                     [{"builder_lifetime_hours": 75, "builder_filters": "tag:Name=nightly-1,nightly-5"}],
                     aws=aws)
    out = run.response(0)
    assert out["terminated"] == ids(5)              # 80 h
    assert [k["id"] for k in out["kept"]] == ids(1)  # 72 h
    st = states(aws)
    assert st[bid(5)] in GONE and st[bid(2)] == "running"


def test_a_state_filter_of_the_callers_own_is_not_doubled(aws):
    run = run_lambda(require(bootstrap_path("terminator")), [{}],
                     env={"BUILDER_FILTERS": "tag:devcloud:role=builder;instance-state-name=stopped"},
                     aws=aws)
    assert run.response(0)["terminated"] == ids(5)
    names = [f["Name"] for f in aws.calls("DescribeInstances")[0]["params"]["Filters"]]
    assert names == ["tag:devcloud:role", "instance-state-name"]


@pytest.mark.parametrize("flavour", ["static", "asan"])
@pytest.mark.parametrize("kind", ["throttle", "error500", "reset", "truncate", "malformed"])
def test_failed_listing_terminates_nothing(aws, kind, flavour):
    aws.fault("DescribeInstances", kind, count=10)
    before = states(aws)
    run = run_lambda(require(bootstrap_path("terminator", flavour)), [SCHEDULED], aws=aws)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "Terminator.ListFailed"
    assert r["body_json"]["errorMessage"].endswith("; nothing was terminated")
    assert aws.calls("TerminateInstances") == []
    assert states(aws) == before


def test_slow_listing_past_the_deadline_terminates_nothing(aws):
    aws.fault("DescribeInstances", "slow", count=10, delay_s=6)
    before = states(aws)
    run = run_lambda(require(bootstrap_path("terminator")), [Event({}, timeout_ms=4000)],
                     aws=aws, timeout_s=20)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "Terminator.ListFailed"
    assert "nothing was terminated" in r["body_json"]["errorMessage"]
    assert aws.calls("TerminateInstances") == []
    assert states(aws) == before


@pytest.mark.parametrize("kind", ["throttle", "error500", "reset", "truncate"])
def test_one_fault_is_retried(aws, kind):
    aws.set_state(unprotected(fleet()))
    aws.fault("DescribeInstances", kind, count=1)
    aws.fault("TerminateInstances", kind, count=1)
    run = run_lambda(require(bootstrap_path("terminator")), [{}], aws=aws)
    assert sorted(run.response(0)["terminated"]) == ids(1, 2, 4, 5, 8)
    assert "retrying DescribeInstances" in run.stderr
    assert all(s in GONE for i, s in states(aws).items() if i in ids(1, 2, 4, 5, 8))


def test_denied_listing_terminates_nothing(aws):
    state = aws.state()
    state["denied_actions"] = ["ec2:DescribeInstances"]
    aws.set_state(state)
    before = states(aws)
    run = run_lambda(require(bootstrap_path("terminator")), [{}], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Terminator.ListFailed"
    msg = r["body_json"]["errorMessage"]
    assert "UnauthorizedOperation" in msg and "nothing was terminated" in msg
    assert aws.calls("TerminateInstances") == []
    assert states(aws) == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_missing_permission_to_terminate_is_a_failure_even_in_a_dry_run(aws, dry_run):
    state = aws.state()
    state["denied_actions"] = ["ec2:TerminateInstances"]
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("terminator")), [{"dry_run": dry_run}], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Terminator.InstancesNotTerminated"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith("5 instances not terminated: ") and "UnauthorizedOperation" in msg
    calls = aws.calls("TerminateInstances")
    assert len(calls) == 1     # the batch, never split: the refusal is not about an instance
    assert all(c["error_code"] == "UnauthorizedOperation" for c in calls)
    assert all(s == "running" for i, s in states(aws).items() if i in ids(1, 2, 4))


@pytest.mark.parametrize("kind,code", [("throttle", "RequestLimitExceeded"),
                                       ("error500", "InternalError")])
def test_a_batch_fault_is_one_call_never_one_per_instance(aws, kind, code):
    aws.set_state({"instances": [builder(n, 60) for n in range(1, 31)]})
    aws.fault("TerminateInstances", kind, count=3)
    run = run_lambda(require(bootstrap_path("terminator")), [{}],
                     env={"TERMINATE_BATCH_SIZE": "20"}, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Terminator.InstancesNotTerminated"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith("20 instances not terminated: " + bid(1)), msg
    assert code in msg and "; and 10 more" in msg
    # the first batch: its three attempts, then nothing one by one; the next batch goes
    sizes = [len(sent_ids(c)) for c in aws.calls("TerminateInstances")]
    assert sizes == [20, 20, 20, 10]
    st = states(aws)
    assert all(st[bid(n)] == "running" for n in range(1, 21))
    assert all(st[bid(n)] in GONE for n in range(21, 31))
    assert "result: " not in run.stderr


@pytest.mark.parametrize("env,name", [
    ({"BUILDER_FILTERS": "tag:devcloud:role"}, "BUILDER_FILTERS"),
    ({"BUILDER_LIFETIME_HOURS": "0"}, "BUILDER_LIFETIME_HOURS"),
    ({"BUILDER_LIFETIME_HOURS": "8761"}, "BUILDER_LIFETIME_HOURS"),
    ({"BUILDER_LIFETIME_HOURS": "48h"}, "BUILDER_LIFETIME_HOURS"),
    ({"TERMINATE_BATCH_SIZE": "1001"}, "TERMINATE_BATCH_SIZE"),
    ({"DRY_RUN": "yes"}, "DRY_RUN"),
    ({"AWS_REGION": None, "AWS_DEFAULT_REGION": None}, "AWS_REGION"),
])
def test_bad_config_is_an_init_error(aws, env, name):
    run = run_lambda(require(bootstrap_path("terminator")), [{}], env=env, aws=aws, timeout_s=10)
    assert_init_error(run, aws, name)


@pytest.mark.parametrize("event,needle", [
    ({"dry_runn": True}, "dry_runn"),
    ({"builder_lifetime_hours": 0}, "builder_lifetime_hours"),
    ({"builder_lifetime_hours": "48"}, "builder_lifetime_hours"),
    ({"builder_filters": "Name"}, "builder_filters"),
    ([1, 2], "JSON object"),
    ("not json", "JSON"),
])
@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_bad_event_is_refused_before_any_call(aws, event, needle, flavour):
    run = run_lambda(require(bootstrap_path("terminator", flavour)),
                     [event if not isinstance(event, str) else Event(event)], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "Terminator.InvalidEvent"
    assert needle in r["body_json"]["errorMessage"]
    assert aws.calls() == []


def test_no_secrets_or_payloads_in_logs(aws):
    aws.set_state(unprotected(fleet()))
    marker = "payload-marker-5c1a"
    run = run_lambda(require(bootstrap_path("terminator")),
                     [{"builder_filters": f"tag:devcloud:role=builder;tag:x={marker}"}, {}],
                     env={"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, aws=aws)
    assert run.response(0)["terminated"] == []
    assert sorted(run.response(1)["terminated"]) == ids(1, 2, 4, 5, 8)
    assert_no_credentials_logged(run.logs)
    assert marker not in run.stdout


def test_second_invocation_in_the_same_sandbox(aws):
    aws.set_state(unprotected(fleet()))
    run = run_lambda(require(bootstrap_path("terminator")), [{}, {}], aws=aws)
    assert sorted(run.response(0)["terminated"]) == ids(1, 2, 4, 5, 8)
    second = run.response(1)
    # the first run's builders are shutting down or gone: not listed again
    assert second["terminated"] == [] and second["failed"] == []
    assert sorted(k["id"] for k in second["kept"]) == ids(3, 6, 9)


def test_help_and_version():
    path = require(bootstrap_path("terminator"))
    env = {"PATH": "/usr/bin:/bin"}
    out = subprocess.run([path, "--help"], capture_output=True, text=True, env=env, timeout=10)
    assert out.returncode == 0, out.stderr
    for name in ("BUILDER_FILTERS", "BUILDER_LIFETIME_HOURS", "TERMINATE_BATCH_SIZE", "DRY_RUN",
                 "builder_lifetime_hours", "AWS_REGION"):
        assert name in out.stdout, name
    out = subprocess.run([path, "--version"], capture_output=True, text=True, env=env, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith("terminator ")


def test_local_mode(aws):
    before = states(aws)
    rc, out, err = run_local(require(bootstrap_path("terminator")), {"dry_run": True}, aws=aws)
    assert rc == 0, err
    got = json.loads(out)
    assert got["dry_run"] is True and sorted(got["terminated"]) == ids(1, 2, 4, 5, 8)
    assert states(aws) == before
    rc, out, err = run_local(require(bootstrap_path("terminator")), {"bogus": 1}, aws=aws)
    assert rc == 1
    assert json.loads(out)["errorType"] == "Terminator.InvalidEvent"
    rc, out, err = run_local(require(bootstrap_path("terminator")), {}, aws=aws)
    assert rc == 1
    assert json.loads(out)["errorType"] == "Terminator.InstancesNotTerminated"


@pytest.mark.parametrize("event,env,rc", [
    ({}, {}, 1),                    # the protected builder fails the run
    ({"dry_run": True}, {}, 0),
    ({"bogus": 1}, {}, 1),
    ({}, {"AWS_SECRET_ACCESS_KEY": "wrong"}, 1),
    ({}, {"BUILDER_LIFETIME_HOURS": "0"}, 1),
], ids=["run", "dry-run", "bad-event", "bad-credentials", "bad-config"])
def test_no_leaks_in_local_mode(aws, event, env, rc):
    """The ASan/UBSan build exits normally in local mode, so LeakSanitizer runs."""
    env = dict(env, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    got, out, err = run_local(require(bootstrap_path("terminator", "asan")), event, env=env, aws=aws)
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert got == rc, err
