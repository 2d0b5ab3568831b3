"""Faults on the destructive calls, then the next scheduled run: the account
ends exactly as after fault-free runs (the real static bootstraps against
the emulator, comparing the whole emulated account).

Two classes of fault, on each destructive call (StopInstances,
TerminateInstances, CreateTags, DeregisterImage, DeleteSnapshot):
 - the call fails before acting: throttled past the retries, a 500, a reset;
 - the call acts and its answer is lost: a reset, a 500 after the commit, a
   timeout (the answer withheld longer than the client waits).
The reference is the same seed run twice with no fault: the second run
settles what the first one started (stopping -> stopped), as the second run
after a fault does.
"""

import copy
import datetime

import pytest

from binaries import bootstrap_path, require
from harness import AwsEmu, Event, run_lambda, scheduled_event

MARKER = "devcloud:deregistered-image"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def ago(hours):
    return (NOW - datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


def ami(n):
    return f"ami-0c{n:015x}"


def snap(n, part=""):
    return f"snap-0c{n:014x}{part or '0'}"


def instance(prefix, n, role, hours, state="running", tags=None):
    return dict(id=f"i-0{prefix}{n:015x}", state=state, launch_time=ago(hours),
                attach_time=ago(hours),
                tags=dict({"devcloud:role": role, "Name": f"{role}-{n}"}, **(tags or {})))


def image(n, hours, snapshots, family=True):
    return {"id": ami(n), "name": f"devbox-{n:02d}", "creation_date": ago(hours)[:-1] + ".000Z",
            "tags": {"devcloud:role": "devbox-image"} if family else {}, "snapshots": snapshots}


SHARED = snap(0xee)

# One account every function works on: four dev boxes to stop (one opts
# out), three old builders to terminate (one stopped), a young one to keep,
# five family images of which three go (with one, two and one-plus-a-shared
# snapshot), and an image outside the family that keeps the shared snapshot.
SEED = {
    "instances": [
        instance("d", 1, "devbox", 5), instance("d", 2, "devbox", 6),
        instance("d", 3, "devbox", 7), instance("d", 4, "devbox", 8),
        instance("d", 5, "devbox", 9, tags={"devcloud:keep-running": "true"}),
        instance("b", 1, "builder", 72), instance("b", 2, "builder", 60, state="stopped"),
        instance("b", 3, "builder", 100), instance("b", 4, "builder", 2),
    ],
    "images": [
        image(1, 1, [snap(1)]), image(2, 2, [snap(2)]),
        image(3, 30, [snap(3)]), image(4, 40, [snap(4, "a"), snap(4, "b")]),
        image(5, 50, [snap(5), SHARED]),
        image(99, 500, [snap(99), SHARED], family=False),
    ],
}

FUNCTIONS = {
    "stopper": ({"STOP_BATCH_SIZE": "2"}, scheduled_event("devcloud-stopper")),
    "terminator": ({"TERMINATE_BATCH_SIZE": "2"}, scheduled_event("devcloud-terminator")),
    "image_pruner": ({"MAX_IMAGES_COUNT": "2"}, scheduled_event("devcloud-image-pruner")),
}
# the function each destructive call belongs to
ACTIONS = {"StopInstances": "stopper", "TerminateInstances": "terminator",
           "CreateTags": "image_pruner", "DeregisterImage": "image_pruner",
           "DeleteSnapshot": "image_pruner"}
LOST = ["lost_reset", "lost_500", "lost_timeout"]
BEFORE = ["throttle", "error500", "reset"]
# an invocation this long leaves the client ~2 s for a call (1.5 s margin);
# a withheld answer comes later than that
SHORT_MS = 3500
WITHHELD_S = 8


# where EC2 takes an instance by itself once asked to
SETTLES = {"stopping": "stopped", "shutting-down": "terminated"}


def settled(state):
    """The account once EC2 has finished what it was asked (a stopping
    instance is stopped a moment later, whichever run asked), less the
    emulator's count of the DescribeInstances calls that saw an instance
    (which depends on the number of runs)."""
    state = copy.deepcopy(state)
    for inst in state["instances"]:
        inst.pop("describes_seen", None)
        inst["state"] = SETTLES.get(inst["state"], inst["state"])
    return state


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


def run(aws, function, env=None, timeout_ms=None):
    fn_env, event = FUNCTIONS[function]
    return run_lambda(require(bootstrap_path(function)),
                      [Event(event, timeout_ms=timeout_ms) if timeout_ms else event],
                      env=dict(fn_env, **(env or {})), aws=aws, timeout_s=30)


_reference = {}


def reference(aws, function):
    """The account after two fault-free scheduled runs of the function."""
    if function not in _reference:
        aws.reset(copy.deepcopy(SEED))
        for _ in range(2):
            run(aws, function).response(0)
        _reference[function] = settled(aws.state())
    return _reference[function]


def test_the_reference_runs_did_their_work(emu):
    """The references are not the seed: each function acted on the account."""
    stopped = reference(emu, "stopper")
    assert sorted(i["id"] for i in stopped["instances"] if i["state"] == "stopped") == sorted(
        [f"i-0d{n:015x}" for n in (1, 2, 3, 4)] + [f"i-0b{2:015x}"])
    terminated = reference(emu, "terminator")
    assert sorted(i["id"] for i in terminated["instances"] if i["state"] == "terminated") == [
        f"i-0b{n:015x}" for n in (1, 2, 3)]
    pruned = reference(emu, "image_pruner")
    assert [i["id"] for i in pruned["images"]] == [ami(1), ami(2), ami(99)]
    assert [s["id"] for s in pruned["snapshots"]] == [snap(1), snap(2), SHARED, snap(99)]
    assert all(s["tags"] == {} for s in pruned["snapshots"])


def faulted_then_clean(aws, action, kind, count, env=None, timeout_ms=None):
    """The fault on `action` during one run, then a clean run; returns both runs."""
    function = ACTIONS[action]
    aws.reset(copy.deepcopy(SEED))
    aws.fault(action, kind, count=count, delay_s=WITHHELD_S if kind == "lost_timeout" else 0)
    first = run(aws, function, env=env, timeout_ms=timeout_ms)
    hit = [c for c in aws.calls(action) if c["fault"] == kind]
    assert hit, f"the fault never fired: {[c['action'] for c in aws.calls()]}"
    aws.clear_faults()
    second = run(aws, function)
    return first, second, hit


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("kind,attempts", [("lost_reset", 1), ("lost_reset", 3),
                                           ("lost_500", 1), ("lost_500", 3),
                                           ("lost_timeout", 1)])
def test_an_action_whose_answer_was_lost(emu, action, kind, attempts):
    want = reference(emu, ACTIONS[action])
    timeout_ms = SHORT_MS if kind == "lost_timeout" else None
    first, second, hit = faulted_then_clean(emu, action, kind, 1,
                                            env={"AWS_MAX_ATTEMPTS": str(attempts)},
                                            timeout_ms=timeout_ms)
    # the action went through, though its caller never heard so
    assert hit[0]["status"] == 200
    if attempts > 1:
        # the retry finds the work done (a NotFound is "done"): no failure at all
        first.response(0)
    second.response(0)
    assert settled(emu.state()) == want


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("kind", BEFORE)
def test_an_action_that_failed_before_acting(emu, action, kind):
    want = reference(emu, ACTIONS[action])
    first, second, hit = faulted_then_clean(emu, action, kind, 100,
                                            env={"AWS_MAX_ATTEMPTS": "2"})
    assert all(c["status"] != 200 for c in hit)
    r = first.results[0]
    assert r is not None and r["kind"] == "error", r
    second.response(0)
    assert settled(emu.state()) == want


def snapshot_record(aws, snapshot_id):
    return next((s for s in aws.state()["snapshots"] if s["id"] == snapshot_id), None)


def test_a_failed_snapshot_deletion_is_repaired_by_the_next_run(emu):
    """The reproduced bug: DeregisterImage went through, DeleteSnapshot did not;
    the snapshot was then found through no image, and stayed forever."""
    want = reference(emu, "image_pruner")
    emu.reset(copy.deepcopy(SEED))
    emu.fault("DeleteSnapshot", "error500", count=100)
    first = run(emu, "image_pruner", env={"AWS_MAX_ATTEMPTS": "1"})
    r = first.results[0]
    assert r["kind"] == "error" and r["error_type"] == "ImagePruner.ImagesNotDeleted", r
    assert emu.image_ids() == [ami(1), ami(2), ami(99)]
    # each one left behind carries the image it went with
    for n, part in [(3, ""), (4, "a"), (4, "b"), (5, "")]:
        assert snapshot_record(emu, snap(n, part))["tags"] == {MARKER: ami(n)}
    assert snapshot_record(emu, SHARED)["tags"] == {}
    emu.clear_faults()
    second = run(emu, "image_pruner").response(0)
    assert second["deleted"] == []
    assert sorted((s["snapshot"], s["image"]) for s in second["swept"]) == [
        (snap(3), ami(3)), (snap(4, "a"), ami(4)), (snap(4, "b"), ami(4)), (snap(5), ami(5))]
    assert settled(emu.state()) == want


def test_a_marked_snapshot_another_image_uses_is_never_deleted(emu):
    state = copy.deepcopy(SEED)
    gone = ami(0x77)
    # marked by a run whose image is gone since, but the image outside the
    # family uses it; and one whose image is still registered (and kept)
    state["snapshots"] = [{"id": SHARED, "tags": {MARKER: gone}},
                          {"id": snap(1), "tags": {MARKER: ami(1)}},
                          {"id": snap(0x78), "tags": {MARKER: gone}}]
    emu.reset(state)
    for _ in range(2):
        out = run(emu, "image_pruner").response(0)
        assert [s["snapshot"] for s in out["swept"]] in ([snap(0x78)], [])
    snapshots = [s["id"] for s in emu.state()["snapshots"]]
    assert SHARED in snapshots and snap(1) in snapshots and snap(0x78) not in snapshots
    assert [c["params"]["SnapshotId"] for c in emu.calls("DeleteSnapshot")
            if c["params"]["SnapshotId"] in (SHARED, snap(1))] == []
