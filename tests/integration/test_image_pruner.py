"""The image pruner, end to end: the real bootstrap (static, and ASan/UBSan
where it matters) run through the Runtime API emulator against the strict
local AWS, checking exactly which images and snapshots remain.

Deleting an image cannot be undone, so most of this file proves that a
failed, throttled, denied or incomplete listing never leads to a deletion.
"""

import datetime
import json
import time

import pytest

from binaries import assert_init_error, assert_no_credentials_logged, bootstrap_path, require
from harness import AwsEmu, Event, run_lambda, run_local, scheduled_event

SCHEDULED = scheduled_event("devcloud-image-pruner", time="2026-11-27T03:00:00Z")

FAMILY_TAGS = {"devcloud:role": "devbox-image"}
BASE = datetime.datetime(2026, 11, 27, 0, 0, tzinfo=datetime.timezone.utc)
LISTINGS = ["DescribeImages", "DescribeSnapshots", "DescribeInstances",
            "DescribeLaunchTemplateVersions", "DescribeAutoScalingGroups",
            "DescribeLaunchConfigurations", "GetParameter"]
DESTRUCTIVE = ["CreateTags", "DeregisterImage", "DeleteSnapshot"]
MARKER = "devcloud:deregistered-image"


def ami(n):
    return f"ami-0a{n:015x}"


def snap(n):
    return f"snap-0a{n:015x}"


def lt(n):
    return f"lt-0a{n:015x}"


def image(n, age_hours, **extra):
    created = BASE - datetime.timedelta(hours=age_hours)
    rec = {"id": ami(n), "name": f"devbox-{n:02d}",
           "creation_date": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
           "tags": dict(FAMILY_TAGS), "snapshots": [snap(n)]}
    rec.update(extra)
    return rec


SHARED = snap(0xfff)    # behind ami 6 (deleted) and ami 99 (outside the family)


def account():
    """Thirteen family images and two outside it; with 3 kept:
    1-3 newest and 12 (pending) kept; 4 (stopped instance), 7 (template
    $Default), 8 (template via SSM), 9 (a group's numbered version), 10 (a
    launch configuration), 11 (a mixed-instances override's numbered
    version) in use; 5 (deprecated), 6, 13 (its instance is terminated)
    deleted. 6 shares a snapshot with 99, 13 one with the disabled 98."""
    images = [image(n, n) for n in range(1, 14)]
    images[4]["deprecated"] = True
    images[5]["snapshots"] = [snap(6), SHARED]
    images[11]["state"] = "pending"
    images += [
        image(99, 500, tags={"devcloud:role": "golden"}, snapshots=[snap(99), SHARED]),
        image(98, 600, tags={}, state="disabled", snapshots=[snap(98), snap(13)]),
    ]
    return {
        "images": images,
        "instances": [
            {"id": "i-0d000000000000001", "state": "stopped", "image_id": ami(4),
             "tags": {"Name": "alice"}},
            {"id": "i-0d000000000000002", "state": "running", "image_id": ami(1),
             "tags": {"Name": "bob"}},
            {"id": "i-0d000000000000009", "state": "terminated", "image_id": ami(13),
             "tags": {"Name": "gone"}},
        ],
        "launch_templates": [
            {"id": lt(1), "name": "devbox", "default_version": 1, "versions": [
                {"number": 1, "image_id": ami(7)}, {"number": 2, "image_id": ami(9)},
                {"number": 3, "image_id": ami(1)}]},
            {"id": lt(2), "name": "golden", "default_version": 1, "versions": [
                {"number": 1, "image_id": "resolve:ssm:/devcloud/golden-ami"}]},
            {"id": lt(3), "name": "spot", "default_version": 3, "versions": [
                {"number": 1, "image_id": ami(11)}, {"number": 2, "image_id": ami(2)},
                {"number": 3, "image_id": ami(3)}]},
            {"id": lt(4), "name": "bare", "default_version": 1, "versions": [
                {"number": 1, "image_id": None}]},
        ],
        "launch_configurations": [{"name": "old-agents", "image_id": ami(10)},
                                  {"name": "unused", "image_id": ami(5)}],
        "auto_scaling_groups": [
            {"name": "drone-agents", "launch_template": {"id": lt(1), "version": "2"}},
            {"name": "old-group", "launch_configuration": "old-agents"},
            {"name": "mixed", "mixed_instances_policy": {
                "launch_template": {"name": "devbox", "version": "$Latest"},
                "overrides": [{"instance_type": "t3.large"},
                              {"instance_type": "m5.large",
                               "launch_template": {"name": "spot", "version": "1"}}]}},
        ],
        "parameters": [{"name": "/devcloud/golden-ami", "type": "String", "value": ami(8),
                        "data_type": "aws:ec2:image"}],
    }


KEPT = [ami(n) for n in (1, 2, 3, 12)]
IN_USE = [ami(n) for n in (4, 7, 8, 9, 10, 11)]
DELETED = [ami(n) for n in (5, 6, 13)]
ENV = {"MAX_IMAGES_COUNT": "3"}


def all_images():
    return sorted([ami(n) for n in range(1, 14)] + [ami(99), ami(98)])


def all_snapshots():
    return sorted([snap(n) for n in range(1, 14)] + [snap(99), snap(98), SHARED])


def images(aws):
    return sorted(aws.image_ids())


def snapshots(aws):
    return sorted(aws.snapshot_ids())


def destructive_calls(aws):
    return [c for c in aws.calls() if c["action"] in DESTRUCTIVE]


def assert_untouched(aws):
    assert destructive_calls(aws) == []
    assert images(aws) == all_images()
    assert snapshots(aws) == all_snapshots()


def assert_pruned(aws):
    assert images(aws) == sorted(set(all_images()) - set(DELETED))
    assert snapshots(aws) == sorted(set(all_snapshots()) - {snap(5), snap(6)})


PRUNED = {
    "deleted": [{"image": ami(5), "snapshots": [snap(5)]},
                {"image": ami(6), "snapshots": [snap(6)]},
                {"image": ami(13), "snapshots": []}],
    "kept": KEPT, "in_use": IN_USE, "failed": [], "swept": [],
}


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


@pytest.fixture
def aws(emu):
    return emu.reset(account())


def fail_later_calls(aws, action, kind, let_through):
    """A fault on `action` once `let_through` calls went by (a later page, or
    the second listing of the same action): a "slow" fault of no delay
    answers normally and uses those calls up."""
    if let_through:
        aws.fault(action, "slow", count=let_through, delay_s=0)
    aws.fault(action, kind, count=10)


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_scheduled_run_prunes_exactly_the_unused_old_images(aws, flavour):
    run = run_lambda(require(bootstrap_path("image_pruner", flavour)), [SCHEDULED], env=ENV, aws=aws)
    assert run.response(0) == dict(PRUNED, dry_run=False)
    assert_pruned(aws)
    calls = [c["action"] for c in aws.calls()]
    # every listing before the first deletion, and each deletion went through
    first = calls.index("CreateTags")
    assert set(LISTINGS) <= set(calls[:first])
    assert not set(LISTINGS) & set(calls[first:])
    assert [c["params"]["ImageId"] for c in aws.calls("DeregisterImage")] == DELETED
    # each image's snapshots were marked just before it went (13's only one is shared)
    assert [(c["params"]["Resources"], c["params"]["Tags"]) for c in aws.calls("CreateTags")] == [
        ([snap(5)], [{"Key": MARKER, "Value": ami(5)}]),
        ([snap(6)], [{"Key": MARKER, "Value": ami(6)}])]
    assert calls[calls.index("DeregisterImage") - 1] == "CreateTags"
    marked = aws.calls("DescribeSnapshots")[0]["params"]
    assert marked["OwnerIds"] == ["self"]
    assert marked["Filters"] == [{"Name": "tag-key", "Values": [MARKER]}]
    assert [c["params"]["SnapshotId"] for c in aws.calls("DeleteSnapshot")] == [snap(5), snap(6)]
    assert all(c["status"] == 200 for c in destructive_calls(aws))
    # the family: our own images, deprecated ones too; the snapshot check: every own image
    family, own = [c["params"] for c in aws.calls("DescribeImages")]
    assert family["Owners"] == ["self"] and family["IncludeDeprecated"] is True
    assert family["Filters"] == [{"Name": "tag:devcloud:role", "Values": ["devbox-image"]}]
    assert own["Owners"] == ["self"] and "Filters" not in own
    assert own["IncludeDeprecated"] is True and own["IncludeDisabled"] is True
    states = aws.calls("DescribeInstances")[0]["params"]["Filters"]
    assert states == [{"Name": "instance-state-name",
                       "Values": ["pending", "running", "shutting-down", "stopping", "stopped"]}]
    # the numbered versions were looked up on their own (Auto Scaling answers a
    # template named by name with its id too)
    lookups = [c["params"] for c in aws.calls("DescribeLaunchTemplateVersions")][1:]
    assert {(p.get("LaunchTemplateId") or p.get("LaunchTemplateName"), tuple(p["Versions"]))
            for p in lookups} == {(lt(1), ("2",)), (lt(3), ("1",))}
    assert aws.calls("GetParameter")[0]["params"] == {"Name": "/devcloud/golden-ami",
                                                      "WithDecryption": False}
    # the logs say why each image stayed
    assert f"keeping {ami(4)} (devbox-04): in use by instance i-0d000000000000001 (alice)" in run.stderr
    assert f"keeping {ami(1)} (devbox-01): one of the newest 3" in run.stderr
    assert f"keeping {ami(12)} (devbox-12): state is 'pending'" in run.stderr
    assert "via SSM parameter /devcloud/golden-ami" in run.stderr
    assert f"keeping snapshot {SHARED} of {ami(6)}: also used by {ami(99)}" in run.stderr
    assert f"keeping snapshot {snap(13)} of {ami(13)}: also used by {ami(98)}" in run.stderr
    assert "3 deleted (2 snapshots), 4 kept, 6 in use, 0 failed" in run.stderr


def test_every_page_is_read(aws):
    """A use that only shows on a listing's last page still keeps its image."""
    state = account()
    # 24 more instances before alice's: it is on the last of six pages
    state["instances"] = [
        {"id": f"i-0e{n:015x}", "state": "running", "image_id": ami(1)} for n in range(24)
    ] + state["instances"]
    state["auto_scaling_groups"] += [
        {"name": f"aa-{n:02d}", "launch_template": {"name": "devbox", "version": "$Latest"}}
        for n in range(12)
    ]
    aws.set_state(state)
    aws.config(page_size=5)
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env=ENV, aws=aws)
    assert run.response(0) == dict(PRUNED, dry_run=False)
    assert_pruned(aws)
    for action, pages in [("DescribeInstances", 6), ("DescribeAutoScalingGroups", 3)]:
        calls = aws.calls(action)
        assert len(calls) == pages, action
        assert all("NextToken" in c["params"] for c in calls[1:])
    # 13 family images on 3 pages, then 15 own ones on 3
    assert len(aws.calls("DescribeImages")) == 6


@pytest.mark.parametrize("how", ["env", "event"])
def test_dry_run_changes_nothing(aws, how):
    env = dict(ENV, DRY_RUN="true") if how == "env" else ENV
    event = {} if how == "env" else {"dry_run": True}
    run = run_lambda(require(bootstrap_path("image_pruner")), [event], env=env, aws=aws)
    assert run.response(0) == dict(PRUNED, dry_run=True)
    assert images(aws) == all_images() and snapshots(aws) == all_snapshots()
    calls = destructive_calls(aws)
    assert len(calls) == 2 + 3 + 2
    assert all(c["params"].get("DryRun") is True and c["error_code"] == "DryRunOperation"
               for c in calls)
    assert f"would deregister {ami(5)} (devbox-05)" in run.stderr
    assert f"would delete snapshot {snap(5)} of {ami(5)}" in run.stderr


@pytest.mark.parametrize("keep", ["12", "13", "1000"])
def test_n_or_fewer_available_images_list_only_the_family(aws, keep):
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env={"MAX_IMAGES_COUNT": keep},
                     aws=aws)
    out = run.response(0)
    assert out["deleted"] == [] and out["in_use"] == [] and out["failed"] == []
    assert sorted(out["kept"]) == sorted(ami(n) for n in range(1, 14))
    assert [c["action"] for c in aws.calls()] == ["DescribeImages", "DescribeSnapshots"]
    assert_untouched(aws)


def test_no_images_at_all(aws):
    aws.set_state({"images": [], "instances": []})
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], aws=aws)
    assert run.response(0) == {"deleted": [], "kept": [], "in_use": [], "failed": [],
                               "swept": [], "dry_run": False}
    assert [c["action"] for c in aws.calls()] == ["DescribeImages", "DescribeSnapshots"]


def test_ties_at_the_boundary_are_kept(aws):
    same = 5
    aws.set_state({"images": [image(1, 1), image(2, same), image(3, same), image(4, same),
                              image(5, same + 1)]})
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env={"MAX_IMAGES_COUNT": "2"},
                     aws=aws)
    out = run.response(0)
    assert out["kept"] == [ami(1), ami(2), ami(3), ami(4)]
    assert out["deleted"] == [{"image": ami(5), "snapshots": [snap(5)]}]
    assert images(aws) == [ami(n) for n in range(1, 5)]


def test_event_overrides(aws):
    run = run_lambda(require(bootstrap_path("image_pruner")),
                     [{"max_images_count": 10, "image_filters": "name=devbox-0*;state=available",
                       "dry_run": True}], env=ENV, aws=aws)
    out = run.response(0)
    # devbox-01 .. devbox-09 less the pending 12 (not matched anyway): nothing beyond 10
    assert out["deleted"] == [] and sorted(out["kept"]) == sorted(ami(n) for n in range(1, 10))
    params = aws.calls("DescribeImages")[0]["params"]
    # the event's filters narrow the configured family: both must match
    assert params["Filters"] == [{"Name": "tag:devcloud:role", "Values": ["devbox-image"]},
                                 {"Name": "name", "Values": ["devbox-0*"]},
                                 {"Name": "state", "Values": ["available"]}]
    run = run_lambda(require(bootstrap_path("image_pruner")), [{"max_images_count": 6}], env=ENV,
                     aws=aws)
    out = run.response(0)
    assert [d["image"] for d in out["deleted"]] == [ami(13)]
    assert images(aws) == sorted(set(all_images()) - {ami(13)})


# ---- fail closed ----

@pytest.mark.parametrize("kind", ["throttle", "error500", "reset", "truncate", "malformed"])
@pytest.mark.parametrize("action,let_through,needle", [
    ("DescribeImages", 0, "cannot list the images (tag:devcloud:role=devbox-image)"),
    ("DescribeImages", 1, "cannot list the account's own images"),
    ("DescribeSnapshots", 0, "cannot list the snapshots marked devcloud:deregistered-image"),
    ("DescribeInstances", 0, "cannot list the instances"),
    ("DescribeLaunchTemplateVersions", 0,
     "cannot list the launch templates' $Default and $Latest versions"),
    ("DescribeLaunchTemplateVersions", 1, "cannot look up launch template"),
    ("DescribeAutoScalingGroups", 0, "cannot list the Auto Scaling groups"),
    ("DescribeLaunchConfigurations", 0, "cannot list the launch configurations"),
    ("GetParameter", 0, "cannot read SSM parameter '/devcloud/golden-ami'"),
])
def test_a_failed_listing_deletes_nothing(aws, action, let_through, needle, kind):
    fail_later_calls(aws, action, kind, let_through)
    run = run_lambda(require(bootstrap_path("image_pruner")), [SCHEDULED],
                     env=dict(ENV, AWS_MAX_ATTEMPTS="1"), aws=aws)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "ImagePruner.ListFailed"
    msg = r["body_json"]["errorMessage"]
    assert needle in msg and msg.endswith("; nothing was deleted"), msg
    assert_untouched(aws)


@pytest.mark.parametrize("flavour", ["static", "asan"])
@pytest.mark.parametrize("action,pages_before", [
    ("DescribeImages", 1),                # the family's second page
    ("DescribeImages", 4),                # the own listing's second page
    ("DescribeInstances", 1),
    ("DescribeAutoScalingGroups", 1),
])
@pytest.mark.parametrize("kind", ["malformed", "truncate"])
def test_a_broken_later_page_deletes_nothing(aws, action, pages_before, kind, flavour):
    state = account()
    state["instances"] = [{"id": f"i-0e{n:015x}", "state": "running", "image_id": ami(1)}
                          for n in range(8)] + state["instances"]
    state["auto_scaling_groups"] += [{"name": f"aa-{n:02d}", "launch_configuration": "unused"}
                                     for n in range(6)]
    aws.set_state(state)
    aws.config(page_size=5)
    fail_later_calls(aws, action, kind, pages_before)
    run = run_lambda(require(bootstrap_path("image_pruner", flavour)), [{}], env=ENV, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.ListFailed", r
    assert "nothing was deleted" in r["body_json"]["errorMessage"]
    # the client retried the page (AWS_MAX_ATTEMPTS defaults to 3) before giving up
    assert len([c for c in aws.calls(action) if c["fault"] == kind]) == 3
    assert destructive_calls(aws) == []
    assert images(aws) == all_images() and snapshots(aws) == all_snapshots()


@pytest.mark.parametrize("denied", [
    "ec2:DescribeImages", "ec2:DescribeSnapshots", "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLaunchConfigurations",
    "ssm:GetParameter",
])
def test_a_denied_listing_deletes_nothing(aws, denied):
    state = account()
    state["denied_actions"] = [denied]
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env=ENV, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.ListFailed", r
    msg = r["body_json"]["errorMessage"]
    assert any(code in msg for code in ("UnauthorizedOperation", "AccessDenied")), msg
    assert_untouched(aws)
    # access denied is not worth a retry
    assert len(aws.calls(denied.split(":")[1])) == 1


@pytest.mark.parametrize("action", LISTINGS)
def test_a_throttle_that_clears_still_prunes(aws, action):
    aws.fault(action, "throttle", count=2)
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env=ENV, aws=aws)
    assert run.response(0) == dict(PRUNED, dry_run=False)
    assert_pruned(aws)
    assert f"retrying {action}" in run.stderr


def test_slow_listing_past_the_deadline_deletes_nothing(aws):
    aws.fault("DescribeAutoScalingGroups", "slow", count=10, delay_s=4)
    run = run_lambda(require(bootstrap_path("image_pruner")), [Event({}, timeout_ms=4000)],
                     env=ENV, aws=aws, timeout_s=20)
    r = run.results[0]
    assert r is not None and r["kind"] == "error", r
    assert r["error_type"] == "ImagePruner.ListFailed"
    msg = r["body_json"]["errorMessage"]
    assert "cannot list the Auto Scaling groups" in msg and "timed out" in msg, msg
    # the emulator records the abandoned call once its delay is over: wait for
    # it, so that it does not show up in the next test's calls
    deadline = time.monotonic() + 10
    while not aws.calls("DescribeAutoScalingGroups") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(aws.calls("DescribeAutoScalingGroups")) == 1
    assert destructive_calls(aws) == []
    assert images(aws) == all_images()


# ---- failures while deleting ----

@pytest.mark.parametrize("dry_run", [False, True])
def test_refused_deregistration_leaves_the_snapshots(aws, dry_run):
    state = account()
    state["denied_actions"] = ["ec2:DeregisterImage"]
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("image_pruner")), [{"dry_run": dry_run}], env=ENV,
                     aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.ImagesNotDeleted"
    msg = r["body_json"]["errorMessage"]
    assert msg.startswith(f"3 deletions failed: {ami(5)} (UnauthorizedOperation"), msg
    assert aws.calls("DeleteSnapshot") == []
    assert len(aws.calls("DeregisterImage")) == 3     # each image was tried
    assert images(aws) == all_images() and snapshots(aws) == all_snapshots()


def test_refused_snapshot_deletion_is_reported_after_the_rest(aws):
    state = account()
    state["denied_actions"] = ["ec2:DeleteSnapshot"]
    aws.set_state(state)
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env=ENV, aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.ImagesNotDeleted"
    assert r["body_json"]["errorMessage"].startswith(
        f"2 deletions failed: {snap(5)} of {ami(5)} (UnauthorizedOperation")
    # the images went; their snapshots stay, and the response says which
    assert images(aws) == sorted(set(all_images()) - set(DELETED))
    assert snapshots(aws) == all_snapshots()
    # the error document carries no result: the logs tell it, one bounded line an item
    for i in DELETED:
        assert f"deregistered {i}" in run.stderr
    assert f"cannot delete snapshot '{snap(5)}' of {ami(5)}: UnauthorizedOperation" in run.stderr
    assert f"cannot delete snapshot '{snap(6)}' of {ami(6)}: UnauthorizedOperation" in run.stderr
    assert "result: " not in run.stderr


# ---- configuration, events, logs ----

@pytest.mark.parametrize("env,name", [
    ({"MAX_IMAGES_COUNT": "0"}, "MAX_IMAGES_COUNT"),
    ({"MAX_IMAGES_COUNT": "1001"}, "MAX_IMAGES_COUNT"),
    ({"MAX_IMAGES_COUNT": "five"}, "MAX_IMAGES_COUNT"),
    ({"IMAGE_FILTERS": "tag:devcloud:role"}, "IMAGE_FILTERS"),
    ({"DRY_RUN": "yes"}, "DRY_RUN"),
    ({"AWS_REGION": None, "AWS_DEFAULT_REGION": None}, "AWS_REGION"),
])
def test_bad_config_is_an_init_error(aws, env, name):
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}], env=env, aws=aws, timeout_s=10)
    assert_init_error(run, aws, name)


@pytest.mark.parametrize("event,needle", [
    ({"dry_runn": True}, "dry_runn"),
    ({"max_images_count": 0}, "max_images_count"),
    ({"max_images_count": "3"}, "max_images_count"),
    ({"image_filters": "name"}, "image_filters"),
    ([1, 2], "JSON object"),
])
@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_bad_event_is_refused_before_any_call(aws, event, needle, flavour):
    run = run_lambda(require(bootstrap_path("image_pruner", flavour)), [event], aws=aws)
    r = run.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.InvalidEvent"
    assert needle in r["body_json"]["errorMessage"]
    assert aws.calls() == []


def test_no_secrets_or_payloads_in_logs(aws):
    marker = "payload-marker-5d1c"
    run = run_lambda(require(bootstrap_path("image_pruner")),
                     [{"image_filters": f"tag:devcloud:role=devbox-image;tag:x={marker}"}, {}],
                     env=dict(ENV, AWS_LAMBDA_LOG_LEVEL="TRACE"), aws=aws)
    run.response(1)
    assert_no_credentials_logged(run.logs)
    assert marker not in run.stdout


def test_second_invocation_finds_nothing_more(aws):
    run = run_lambda(require(bootstrap_path("image_pruner")), [{}, {}], env=ENV, aws=aws)
    assert run.response(0)["deleted"] == PRUNED["deleted"]
    second = run.response(1)
    assert second["deleted"] == [] and second["failed"] == []
    assert_pruned(aws)


@pytest.mark.parametrize("event,env,setup,rc", [
    ({}, {}, None, 0),
    ({"dry_run": True}, {}, None, 0),
    ({}, {"AWS_MAX_ATTEMPTS": "1"}, "fault", 1),
    ({}, {}, "deny", 1),
    ({"bogus": 1}, {}, None, 1),
    ({}, {"MAX_IMAGES_COUNT": "0"}, None, 1),
], ids=["run", "dry-run", "list-failed", "delete-failed", "bad-event", "bad-config"])
def test_no_leaks_in_local_mode(aws, event, env, setup, rc):
    """The ASan/UBSan build exits normally in local mode, so LeakSanitizer runs."""
    if setup == "fault":
        aws.fault("DescribeAutoScalingGroups", "error500", count=10)
    elif setup == "deny":
        state = account()
        state["denied_actions"] = ["ec2:DeleteSnapshot"]
        aws.set_state(state)
    env = dict(ENV, **env, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    got, out, err = run_local(require(bootstrap_path("image_pruner", "asan")), event, env=env,
                              aws=aws)
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert got == rc, err
    if rc == 0:
        assert json.loads(out)["dry_run"] is bool(event.get("dry_run"))
