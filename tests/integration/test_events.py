"""What an invocation may ask for, end to end, for every scheduled function.

An event does exactly what it says, or nothing: the Lambda console's
EventBridge test template with "dry_run": true added is a dry run; an unknown
key in it is refused before any AWS call. And because anyone allowed to
invoke a function can send an event, an event only narrows what the
configuration allows: DRY_RUN=true is final, event filters are added to the
configured ones, a lifetime or keep count may grow but not shrink.
"""

import datetime

import pytest

from binaries import bootstrap_path, require
from harness import AwsEmu, SlackReceiver, run_lambda

# The Lambda console's "EventBridge (CloudWatch Events)" test template, as pasted.
CONSOLE_TEMPLATE = {
    "id": "cdc73f9d-aea9-11e3-9d5a-835b769c0d9c",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "1970-01-01T00:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/ExampleRule"],
    "detail": {},
}

DESTRUCTIVE = ("StopInstances", "TerminateInstances", "DeregisterImage", "DeleteSnapshot")


def console(**overrides):
    return dict(CONSOLE_TEMPLATE, **overrides)


def iso(hours_ago):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now - datetime.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def devbox(n):
    return {"id": f"i-0d{n:015x}", "state": "running",
            "tags": {"devcloud:role": "devbox", "Name": f"dev-{n}"}}


def builder(n, age_hours):
    return {"id": f"i-0b{n:015x}", "state": "running", "launch_time": iso(age_hours),
            "attach_time": iso(age_hours),
            "tags": {"devcloud:role": "builder", "Name": f"nightly-{n}"}}


def image(n, age_hours):
    return {"id": f"ami-0a{n:015x}", "name": f"devbox-{n:02d}", "creation_date": iso(age_hours),
            "tags": {"devcloud:role": "devbox-image"}, "snapshots": [f"snap-0a{n:015x}"]}


def account():
    """Two dev boxes, builders aged 10/60/100 h, eight images a day apart."""
    return {
        "instances": [devbox(1), devbox(2), builder(1, 10), builder(2, 60), builder(3, 100)],
        "images": [image(n, 24 * n) for n in range(1, 9)],
    }


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


@pytest.fixture
def aws(emu):
    return emu.reset(account())


def destructive_calls(aws):
    return [c for c in aws.calls() if c["action"] in DESTRUCTIVE and not c["params"].get("DryRun")]


def snapshot(aws):
    st = aws.state()
    return ({i["id"]: i["state"] for i in st["instances"]},
            sorted(i["id"] for i in st["images"]),
            sorted(s["id"] for s in st.get("snapshots", [])))


def run(fn, event, aws, env=None, **kw):
    return run_lambda(require(bootstrap_path(fn)), [event], aws=aws, env=env or {}, **kw)


def error(r):
    res = r.results[0]
    assert res is not None and res["kind"] == "error", res
    return res["error_type"], res["body_json"]["errorMessage"]


# ---- the console template with "dry_run": true is a dry run ----

@pytest.mark.parametrize("fn", ["stopper", "terminator", "image_pruner"])
def test_console_template_with_dry_run_changes_nothing(aws, fn):
    before = snapshot(aws)
    r = run(fn, console(dry_run=True), aws)
    out = r.response(0)
    assert out["dry_run"] is True
    assert destructive_calls(aws) == []
    assert snapshot(aws) == before
    # and it did look: EC2's DryRun was asked for what a real run would do
    assert [c for c in aws.calls() if c["params"].get("DryRun")]


def test_console_template_with_dry_run_for_the_build_monitor(aws):
    with SlackReceiver() as slack:
        r = run("build_monitor", console(dry_run=True, force_alert=True), aws,
                env={"SLACK_WEBHOOK_URL": slack.url})
        out = r.response(0)
        assert out["dry_run"] is True and out["alerted"] is True and "message" in out
        assert slack.messages() == []


def test_console_template_as_is_runs_for_real(aws):
    out = run("stopper", console(), aws).response(0)
    assert out["dry_run"] is False
    assert sorted(out["stopped"]) == [devbox(1)["id"], devbox(2)["id"]]


@pytest.mark.parametrize("fn,prefix", [("stopper", "Stopper"), ("terminator", "Terminator"),
                                       ("image_pruner", "ImagePruner"),
                                       ("build_monitor", "BuildMonitor")])
def test_unknown_key_in_the_template_is_refused_before_any_call(aws, fn, prefix):
    env = {"DRY_RUN": "true"} if fn == "build_monitor" else {}
    r = run(fn, console(dryrun=True), aws, env=env)
    kind, msg = error(r)
    assert kind == f"{prefix}.InvalidEvent"
    assert "unknown key 'dryrun' in the scheduled event" in msg
    assert aws.calls() == []


def test_another_kind_of_eventbridge_event_is_refused(aws):
    spot = dict(CONSOLE_TEMPLATE, source="aws.ec2",
                **{"detail-type": "EC2 Spot Instance Interruption Warning",
                   "detail": {"instance-id": devbox(1)["id"], "instance-action": "terminate"}})
    kind, msg = error(run("stopper", spot, aws))
    assert kind == "Stopper.InvalidEvent"
    assert "not 'EC2 Spot Instance Interruption Warning' events from 'aws.ec2'" in msg
    assert aws.calls() == []


# ---- DRY_RUN=true in the configuration is final ----

@pytest.mark.parametrize("fn,prefix", [("stopper", "Stopper"), ("terminator", "Terminator"),
                                       ("image_pruner", "ImagePruner"),
                                       ("build_monitor", "BuildMonitor")])
@pytest.mark.parametrize("scheduled", [False, True])
def test_configured_dry_run_cannot_be_turned_off(aws, fn, prefix, scheduled):
    before = snapshot(aws)
    event = console(dry_run=False) if scheduled else {"dry_run": False}
    kind, msg = error(run(fn, event, aws, env={"DRY_RUN": "true"}))
    assert kind == f"{prefix}.InvalidEvent"
    assert "DRY_RUN=true in the function's configuration is final" in msg
    assert aws.calls() == []
    assert snapshot(aws) == before


@pytest.mark.parametrize("fn", ["stopper", "terminator", "image_pruner"])
def test_configured_dry_run_holds_for_a_plain_event(aws, fn):
    before = snapshot(aws)
    out = run(fn, {}, aws, env={"DRY_RUN": "true"}).response(0)
    assert out["dry_run"] is True
    assert destructive_calls(aws) == [] and snapshot(aws) == before


def test_configured_hibernation_cannot_be_turned_off(aws):
    kind, msg = error(run("stopper", {"hibernate": False}, aws, env={"HIBERNATE": "true"}))
    assert kind == "Stopper.InvalidEvent"
    assert "HIBERNATE=true in the function's configuration is final" in msg
    assert aws.calls() == []


# ---- event filters narrow the configured ones, never replace them ----

def test_stopper_event_filters_cannot_reach_beyond_the_dev_boxes(aws):
    # the builders are not dev boxes: an event naming them finds nothing to stop
    out = run("stopper", {"instance_filters": "tag:devcloud:role=builder"}, aws).response(0)
    assert out["stopped"] == [] and destructive_calls(aws) == []
    filters = aws.calls("DescribeInstances")[0]["params"]["Filters"]
    assert {"Name": "tag:devcloud:role", "Values": ["devbox"]} in filters
    assert {"Name": "tag:devcloud:role", "Values": ["builder"]} in filters


def test_stopper_event_filters_narrow(aws):
    out = run("stopper", {"instance_filters": "tag:Name=dev-2"}, aws).response(0)
    assert out["stopped"] == [devbox(2)["id"]]
    assert snapshot(aws)[0][devbox(1)["id"]] == "running"


def test_terminator_event_filters_cannot_reach_the_dev_boxes(aws):
    # week-old dev boxes: as builders they would be far past their lifetime
    st = account()
    for inst in st["instances"][:2]:
        inst["launch_time"] = inst["attach_time"] = iso(24 * 7)
    aws.set_state(st)
    out = run("terminator", {"builder_filters": "tag:devcloud:role=devbox"}, aws).response(0)
    assert out["terminated"] == [] and destructive_calls(aws) == []


def test_image_pruner_event_filters_cannot_reach_beyond_the_family(aws):
    # seven golden images outside the family: as a family of their own, two would go
    st = account()
    st["images"] += [dict(image(90 + n, 1000 + n), tags={"devcloud:role": "golden"})
                     for n in range(7)]
    aws.set_state(st)
    out = run("image_pruner", {"image_filters": "tag:devcloud:role=golden"}, aws).response(0)
    assert out["deleted"] == [] and destructive_calls(aws) == []


# ---- limits may grow, never shrink ----

def test_terminator_lifetime_shorter_than_configured_is_refused(aws):
    kind, msg = error(run("terminator", {"builder_lifetime_hours": 1}, aws))
    assert kind == "Terminator.InvalidEvent"
    assert "'builder_lifetime_hours' (1) cannot be below BUILDER_LIFETIME_HOURS (48)" in msg
    assert aws.calls() == []


def test_terminator_longer_lifetime_is_honoured(aws):
    out = run("terminator", {"builder_lifetime_hours": 80}, aws).response(0)
    assert out["terminated"] == [builder(3, 0)["id"]]     # 100 h; 60 h kept
    assert snapshot(aws)[0][builder(2, 0)["id"]] == "running"


def test_image_pruner_smaller_keep_count_is_refused(aws):
    kind, msg = error(run("image_pruner", {"max_images_count": 2}, aws))
    assert kind == "ImagePruner.InvalidEvent"
    assert "'max_images_count' (2) cannot be below MAX_IMAGES_COUNT (5)" in msg
    assert aws.calls() == []


def test_image_pruner_larger_keep_count_is_honoured(aws):
    out = run("image_pruner", {"max_images_count": 7}, aws).response(0)
    assert [d["image"] for d in out["deleted"]] == [image(8, 0)["id"]]
