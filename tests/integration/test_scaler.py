"""The scaler, end to end: the real bootstrap (static, and ASan/UBSan where it
matters) run through the Runtime API emulator against the strict local AWS
(an Auto Scaling group that launches, detaches and replaces like AWS's, Run
Command) and a Drone queue stand-in, checking what changed.

Never kill a busy agent: most of this file proves that a busy member is never
drained, that a stage landing during a drain undoes it, and that nothing is
taken away when the queue or a listing cannot be read.
"""

import copy
import datetime

import pytest

from binaries import assert_init_error, assert_no_credentials_logged, bootstrap_path, require
from harness import AwsEmu, DroneEmu, run_lambda, scheduled_event, drone_stage

GROUP = "drone-agents"
SCHEDULED = scheduled_event("devcloud-scaler", time="2026-12-04T10:00:00Z")
DRAINING = "devcloud:draining-since"


def iso(minutes_ago):
    # the time now, not at import: the suite may run long after this module loaded
    now = datetime.datetime.now(datetime.timezone.utc)
    return (now - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def agent(n):
    return f"i-0e{n:015x}"


def member_instance(n, age_minutes=60, **extra):
    rec = {"id": agent(n), "launch_time": iso(age_minutes), "attach_time": iso(age_minutes),
           "tags": {"aws:autoscaling:groupName": GROUP}, "ssm": {"online": True}}
    tags = extra.pop("tags", {})
    rec["tags"].update(tags)
    rec.update(extra)
    return rec


def account(n_members=3, desired=None, min_size=0, max_size=10, ages=None, **group_extra):
    ages = ages or [60] * n_members
    return {
        "launch_configurations": [{"name": "agents", "image_id": "ami-0a000000000000001",
                                   "instance_type": "c5.xlarge"}],
        "instances": [member_instance(i + 1, ages[i]) for i in range(n_members)],
        "auto_scaling_groups": [dict({
            "name": GROUP, "launch_configuration": "agents", "active": True,
            "min_size": min_size, "max_size": max_size,
            "desired_capacity": n_members if desired is None else desired,
            "new_instances_protected_from_scale_in": True, "launch_describes": 1,
            "instances": [{"id": agent(i + 1), "protected_from_scale_in": True}
                          for i in range(n_members)],
        }, **group_extra)],
    }


def running(n, machine):
    return drone_stage(n, "running", machine=machine)


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


@pytest.fixture
def aws(emu):
    return emu.reset(account())


@pytest.fixture
def drone():
    with DroneEmu() as d:
        yield d


def env(drone, **extra):
    return dict({"ASG_NAME": GROUP, "DRONE_SERVER": drone.url, "DRONE_TOKEN": drone.token},
                **extra)


def run(aws, drone, events=(SCHEDULED,), flavour="static", **extra):
    return run_lambda(require(bootstrap_path("scaler", flavour)), list(events), aws=aws,
                      env=env(drone, **extra))


def group_of(aws):
    return next(g for g in aws.state()["auto_scaling_groups"] if g["name"] == GROUP)


def members(aws):
    return sorted(m["id"] for m in group_of(aws)["instances"])


def instance(aws, iid):
    return next(i for i in aws.state()["instances"] if i["id"] == iid)


def error(r, i=0):
    res = r.results[i]
    assert res is not None and res["kind"] == "error", res
    return res["error_type"], res["body_json"]["errorMessage"]


# ---- scale-out ----

@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_a_burst_scales_out(aws, drone, flavour):
    aws.set_state(account(n_members=1))
    drone.set_stages([drone_stage(i) for i in range(1, 11)])       # 10 pending
    out = run(aws, drone, flavour=flavour).response(0)
    # ceil((10 pending + 1 warm + 3 headroom) / 4) = 4
    assert out["queue"] == {"pending": 10, "running": 0}
    assert out["desired"] == {"before": 1, "after": 4}
    calls = aws.calls("SetDesiredCapacity")
    assert [c["params"]["DesiredCapacity"] for c in calls] == [4]
    assert calls[0]["params"]["HonorCooldown"] is False
    assert group_of(aws)["desired_capacity"] == 4
    tags = group_of(aws)["tags"]
    assert "devcloud:last-scale-out" in tags
    assert out["draining"] == [] and out["detached"] == [] and out["terminated"] == []


def test_launching_instances_count_as_capacity(aws, drone):
    aws.set_state(account(n_members=1))
    drone.set_stages([drone_stage(i) for i in range(1, 11)])
    r = run(aws, drone, events=(SCHEDULED, SCHEDULED))
    assert r.response(0)["desired"] == {"before": 1, "after": 4}
    # the second run sees 3 launching: no second scale-out
    assert r.response(1)["desired"]["after"] == 4
    assert len(aws.calls("SetDesiredCapacity")) == 1


def test_stages_of_another_pool_do_not_count(aws, drone):
    aws.set_state(account(n_members=1))
    drone.set_stages([drone_stage(i, arch="arm64") for i in range(1, 11)] +
                     [drone_stage(20, os="windows")])
    out = run(aws, drone, MIN_INSTANCE_AGE_MINUTES="0").response(0)
    assert out["queue"] == {"pending": 0, "running": 0}
    assert aws.calls("SetDesiredCapacity") == []


def test_scale_out_is_capped_at_the_maximum(aws, drone):
    aws.set_state(account(n_members=1, max_size=2))
    drone.set_stages([drone_stage(i) for i in range(1, 41)])
    out = run(aws, drone).response(0)
    assert out["desired"] == {"before": 1, "after": 2}
    assert any("maximum" in s["reason"] for s in out["actions_skipped"])


# ---- scale-in ----

@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_idle_agents_are_drained_detached_then_reaped(aws, drone, flavour):
    drone.set_stages([])
    r = run(aws, drone, events=(SCHEDULED, SCHEDULED), flavour=flavour,
            SCALE_IN_COOLDOWN_MINUTES="0")
    out = r.response(0)
    # the newest first, at most 3 a run, none below the minimum of 0
    assert sorted(out["draining"]) == [agent(1), agent(2), agent(3)]
    assert sorted(out["detached"]) == [agent(1), agent(2), agent(3)]
    assert out["desired"] == {"before": 3, "after": 0}
    assert members(aws) == []
    for n in (1, 2, 3):
        tags = instance(aws, agent(n))["tags"]
        assert tags["devcloud:drained-from"] == GROUP and DRAINING in tags
        assert tags["devcloud:drain-reason"] == "scale-in"
        assert tags["devcloud:drain-command"]
    sends = aws.calls("SendCommand")
    assert len(sends) == 3
    p = sends[0]["params"]
    assert p["DocumentName"] == "AWS-RunShellScript"
    assert p["Parameters"]["commands"] == ["docker kill --signal=SIGINT drone-runner",
                                           "docker wait drone-runner", "poweroff"]
    detaches = aws.calls("DetachInstances")
    assert all(c["params"]["ShouldDecrementDesiredCapacity"] is True for c in detaches)
    # for each instance: mark, detach, then the drain (a powered-off agent is never a member)
    for n in (1, 2, 3):
        order = [c["action"] for c in aws.calls()
                 if c["action"] in ("CreateTags", "SendCommand", "DetachInstances") and
                 agent(n) in (c["params"].get("Resources", []) + c["params"].get("InstanceIds", []))]
        assert order[:5] == ["CreateTags"] * 3 + ["DetachInstances", "SendCommand"], order
    # the second run: their agents exited (the script powered them off): reaped
    out2 = r.response(1)
    assert sorted(out2["terminated"]) == [agent(1), agent(2), agent(3)]
    assert all(instance(aws, agent(n))["state"] in ("shutting-down", "terminated")
               for n in (1, 2, 3))


def test_a_busy_agent_is_never_drained(aws, drone):
    drone.set_stages([running(1, agent(2))])
    out = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0").response(0)
    assert agent(2) not in out["draining"]
    assert agent(2) in members(aws)
    assert not any(agent(2) in c["params"].get("InstanceIds", []) for c in aws.calls("SendCommand"))
    assert DRAINING not in instance(aws, agent(2))["tags"]


def test_at_most_max_scale_in_per_run_newest_first(aws, drone):
    aws.set_state(account(n_members=3, ages=[300, 200, 100]))
    drone.set_stages([])
    out = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0", MAX_SCALE_IN_PER_RUN="1").response(0)
    assert out["draining"] == [agent(3)]       # the newest
    assert members(aws) == [agent(1), agent(2)]


def test_young_agents_are_kept(aws, drone):
    aws.set_state(account(n_members=2, ages=[2, 60]))
    drone.set_stages([])
    out = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0").response(0)
    assert out["draining"] == [agent(2)]
    assert agent(1) in members(aws)


def test_never_below_the_minimum(aws, drone):
    aws.set_state(account(n_members=3, min_size=2))
    drone.set_stages([])
    out = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0").response(0)
    assert len(out["draining"]) == 1
    assert len(members(aws)) == 2


def test_cooldown_after_a_scale_out(aws, drone):
    st = account(n_members=3)
    st["auto_scaling_groups"][0]["tags"] = {"devcloud:last-scale-out": iso(1)}
    aws.set_state(st)
    drone.set_stages([])
    out = run(aws, drone).response(0)          # cooldown 3 minutes by default
    assert out["draining"] == []
    assert any("cooldown" in s["reason"] for s in out["actions_skipped"])


def test_a_stage_landing_during_the_drain_undoes_it(aws, drone):
    aws.set_state(account(n_members=1))
    # the first read: idle; the read just before the drain: a stage on it
    drone.script([[], [running(1, agent(1))]])
    out = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0").response(0)
    assert out["undone"] == [agent(1)] and out["detached"] == []
    assert members(aws) == [agent(1)]
    tags = instance(aws, agent(1))["tags"]
    assert DRAINING not in tags and "devcloud:drained-from" not in tags
    assert aws.calls("SendCommand") == [] and aws.calls("DetachInstances") == []


def test_a_marked_member_a_stage_landed_on_is_unmarked(aws, drone):
    st = account(n_members=1)
    st["instances"][0]["tags"].update({DRAINING: iso(1), "devcloud:drained-from": GROUP,
                                       "devcloud:drain-reason": "scale-in"})
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    out = run(aws, drone).response(0)
    assert out["undone"] == [agent(1)]
    assert DRAINING not in instance(aws, agent(1))["tags"]
    assert members(aws) == [agent(1)]


# ---- the queue or a listing cannot be read ----

@pytest.mark.parametrize("kind", ["error500", "reset", "truncated", "html", "unauthorized"])
def test_drone_down_scales_nothing_in(aws, drone, kind):
    drone.fault(kind, count=10)
    before = aws.state()
    r = run(aws, drone, SCALE_IN_COOLDOWN_MINUTES="0")
    kind_, msg = error(r)
    assert kind_ == "Scaler.QueueUnavailable"
    assert "nothing was scaled in" in msg
    for action in ("CreateTags", "SendCommand", "DetachInstances", "SetDesiredCapacity",
                   "TerminateInstances"):
        assert aws.calls(action) == [], action
    assert members(aws) == [m["id"] for m in before["auto_scaling_groups"][0]["instances"]]
    assert drone.token not in r.stderr and drone.token not in r.stdout


def test_failed_group_listing_scales_nothing(aws, drone):
    aws.fault("DescribeAutoScalingGroups", "error500", count=10)
    drone.set_stages([drone_stage(i) for i in range(1, 11)])
    kind, msg = error(run(aws, drone, AWS_MAX_ATTEMPTS="2"))
    assert kind == "Scaler.ListFailed"
    assert aws.calls("SetDesiredCapacity") == [] and aws.calls("DetachInstances") == []


def test_failed_instance_listing_still_scales_out_but_never_in(aws, drone):
    aws.set_state(account(n_members=1))
    aws.fault("DescribeInstances", "error500", count=10)
    drone.set_stages([drone_stage(i) for i in range(1, 11)])
    r = run(aws, drone, AWS_MAX_ATTEMPTS="1")
    kind, _ = error(r)
    assert kind == "Scaler.ListFailed"
    assert [c["params"]["DesiredCapacity"] for c in aws.calls("SetDesiredCapacity")] == [4]
    assert aws.calls("DetachInstances") == [] and aws.calls("SendCommand") == []


# ---- reaping ----

def drained_instance(n, minutes_ago, state="running", command=None):
    tags = {DRAINING: iso(minutes_ago), "devcloud:drained-from": GROUP,
            "devcloud:drain-reason": "scale-in"}
    if command:
        tags["devcloud:drain-command"] = command
    return {"id": agent(n), "state": state, "launch_time": iso(600), "tags": tags,
            "ssm": {"online": True, "command": "in_progress", "command_ticks": 1000}}


def test_a_drain_that_times_out_is_reaped(aws, drone):
    st = account(n_members=1)
    st["instances"] += [drained_instance(7, 90), drained_instance(8, 10)]
    aws.set_state(st)
    drone.set_stages([running(1, agent(1)), running(2, agent(8))])
    out = run(aws, drone).response(0)
    # 90 minutes > the 60-minute drain timeout: a zombie build goes; 8 keeps its stage
    assert out["terminated"] == [agent(7)]
    assert instance(aws, agent(8))["state"] == "running"


def test_a_stopped_drained_instance_is_reaped_but_never_a_member(aws, drone):
    st = account(n_members=1)
    st["instances"] += [drained_instance(7, 5, state="stopped")]
    st["instances"][0]["tags"].update({"devcloud:drained-from": GROUP})   # member, stray tag
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    out = run(aws, drone).response(0)
    assert out["terminated"] == [agent(7)]
    assert instance(aws, agent(1))["state"] == "running"


def test_timed_out_drains_are_reaped_even_when_drone_is_down(aws, drone):
    st = account(n_members=1)
    st["instances"] += [drained_instance(7, 90), drained_instance(8, 5, state="stopped")]
    aws.set_state(st)
    drone.fault("error500", count=10)
    r = run(aws, drone)
    assert error(r)[0] == "Scaler.QueueUnavailable"
    body = r.results[0]["body_json"]
    terminated = [c["params"]["InstanceIds"] for c in aws.calls("TerminateInstances")]
    # only the one past its timeout: whether 8's agent exited is not trusted without the queue
    assert terminated == [[agent(7)]]


# ---- Spot warnings ----

def spot_event(iid, kind="EC2 Spot Instance Interruption Warning"):
    return {"version": "0", "id": "1e5527d7-bb36-4607-3370-4164db56a40e", "detail-type": kind,
            "source": "aws.ec2", "account": "123456789012", "time": "2026-12-04T10:00:00Z",
            "region": "eu-west-1",
            "resources": [f"arn:aws:ec2:eu-west-1b:instance/{iid}"],
            "detail": {"instance-id": iid, "instance-action": "terminate"}}


@pytest.mark.parametrize("kind,reason", [("EC2 Spot Instance Interruption Warning",
                                          "spot-interruption"),
                                         ("EC2 Instance Rebalance Recommendation", "rebalance")])
def test_a_spot_warning_drains_its_member_and_the_next_run_replaces_it(aws, drone, kind, reason):
    # every agent busy: 4 stages on each of the 3 members
    drone.set_stages([running(10 * m + k, agent(m)) for m in (1, 2, 3) for k in range(4)])
    r = run(aws, drone, events=(spot_event(agent(2), kind), SCHEDULED))
    out = r.response(0)
    assert out["draining"] == [agent(2)]
    tags = instance(aws, agent(2))["tags"]
    assert tags["devcloud:drain-reason"] == reason and DRAINING in tags
    assert [c["params"]["InstanceIds"] for c in aws.calls("SendCommand")] == [[agent(2)]]
    # still busy: it stays in the group; the scheduled run counts it as nothing
    assert agent(2) in members(aws)
    out2 = r.response(1)
    # ceil((12 running + 1 warm) / 4) = 4 needed, 2 serving: 4 + the draining one
    assert out2["desired"] == {"before": 3, "after": 5}
    assert agent(2) not in out2["undone"]       # a Spot drain is never undone


def test_a_spot_warning_for_another_groups_instance_is_ignored(aws, drone):
    st = account(n_members=1)
    st["instances"].append({"id": agent(9), "tags": {}})
    aws.set_state(st)
    out = run(aws, drone, events=(spot_event(agent(9)),)).response(0)
    assert out["draining"] == []
    assert out["actions_skipped"][0]["reason"] == "not a member of the group: ignored"
    assert aws.calls("CreateTags") == [] and aws.calls("SendCommand") == []


@pytest.mark.parametrize("iid", ["i-0e; rm -rf /", "I-0E000000000000001", ""])
def test_a_spot_warning_with_a_bad_id_is_refused(aws, drone, iid):
    kind, msg = error(run(aws, drone, events=(spot_event(iid),)))
    assert kind == "Scaler.InvalidEvent"
    assert aws.calls() == []


# ---- dry run, config, secrets ----

def test_dry_run_changes_nothing(aws, drone):
    drone.set_stages([])
    before = aws.state()
    out = run(aws, drone, events=({"dry_run": True},), SCALE_IN_COOLDOWN_MINUTES="0").response(0)
    assert out["dry_run"] is True and sorted(out["draining"]) == [agent(1), agent(2), agent(3)]
    after = aws.state()
    assert after["auto_scaling_groups"][0]["instances"] == before["auto_scaling_groups"][0]["instances"]
    assert [i["tags"] for i in after["instances"]] == [i["tags"] for i in before["instances"]]
    assert aws.calls("SendCommand") == [] and aws.calls("DetachInstances") == []
    assert all(c["params"].get("DryRun") for c in aws.calls("CreateTags"))


@pytest.mark.parametrize("env_,name", [
    ({"ASG_NAME": None}, "ASG_NAME"),
    ({"DRONE_SERVER": "http://drone.example.com"}, "DRONE_SERVER"),
    ({"DRONE_TOKEN": None}, "DRONE_TOKEN_PARAMETER"),
    ({"AGENT_NAME": "hostname"}, "AGENT_NAME"),
    ({"AGENTS_PER_INSTANCE": "0"}, "AGENTS_PER_INSTANCE"),
    ({"DRONE_LABELS": "size"}, "DRONE_LABELS"),
])
def test_bad_config_is_an_init_error(aws, drone, env_, name):
    r = run_lambda(require(bootstrap_path("scaler")), [{}], aws=aws,
                   env=dict(env(drone), **env_), timeout_s=10)
    assert_init_error(r, aws, name)


def test_token_from_ssm_never_shows(aws, drone):
    st = account(n_members=1)
    st["parameters"] = [{"name": "/devcloud/drone-token", "type": "SecureString",
                         "value": drone.token}]
    aws.set_state(st)
    drone.set_stages([drone_stage(1)])
    e = env(drone, DRONE_TOKEN=None, DRONE_TOKEN_PARAMETER="/devcloud/drone-token",
            AWS_LAMBDA_LOG_LEVEL="TRACE")
    r = run_lambda(require(bootstrap_path("scaler")), [SCHEDULED], aws=aws, env=e)
    r.response(0)
    assert [x["auth"] for x in drone.requests()] == ["admin"]
    assert drone.token not in r.stderr and drone.token not in r.stdout
    assert_no_credentials_logged(r.logs)


# ---- every destructive call: a lost answer or a failure before acting, then the next runs ----

SETTLED = {"stopping": "stopped", "shutting-down": "terminated", "pending": "running"}


def settled(aws):
    """The account, with the ids the group made up at launch named by order."""
    st = aws.state()
    g = next(g for g in st["auto_scaling_groups"] if g["name"] == GROUP)
    seeded = {agent(n) for n in range(1, 10)}
    launched = {}

    def name(iid):
        if iid in seeded:
            return iid
        return launched.setdefault(iid, f"launched-{len(launched)}")

    for i in st["instances"]:
        name(i["id"])
    return {
        "desired": g["desired_capacity"],
        "members": sorted(name(m["id"]) for m in g["instances"]),
        "instances": sorted((name(i["id"]), SETTLED.get(i["state"], i["state"]),
                             # the drain's command id is bookkeeping: a lost SendCommand
                             # answer leaves it unrecorded, and the instance goes all the same
                             tuple(sorted(k for k in i["tags"]
                                          if k not in ("aws:autoscaling:groupName",
                                                       "devcloud:drain-command"))))
                            for i in st["instances"]),
    }


SCALE_IN = ("CreateTags", "SendCommand", "DetachInstances", "TerminateInstances")
SCALE_OUT = ("CreateOrUpdateTags", "SetDesiredCapacity")


def scenario(aws, drone, action):
    if action in SCALE_OUT:
        aws.set_state(account(n_members=1))
        drone.set_stages([drone_stage(i) for i in range(1, 11)])
    else:
        aws.set_state(account(n_members=2))
        drone.set_stages([])


@pytest.mark.parametrize("attempts", ["1", "3"])
@pytest.mark.parametrize("kind", ["lost_reset", "lost_500", "throttle", "error500"])
@pytest.mark.parametrize("action", SCALE_IN + SCALE_OUT)
def test_a_fault_on_each_destructive_call_converges(aws, drone, action, kind, attempts):
    extra = {"SCALE_IN_COOLDOWN_MINUTES": "0", "AWS_MAX_ATTEMPTS": attempts}
    runs = (SCHEDULED, SCHEDULED, SCHEDULED)
    scenario(aws, drone, action)
    run(aws, drone, events=runs, **extra)
    want = settled(aws)

    scenario(aws, drone, action)
    aws.fault(action, kind, count=int(attempts))
    r = run(aws, drone, events=runs, **extra)
    assert [c for c in aws.calls(action) if c.get("fault") == kind], "the fault never fired"
    assert settled(aws) == want
    # no run crashed, and the last one was clean
    assert all(x is not None for x in r.results)
    assert r.results[-1]["kind"] == "response", r.results[-1]


# ---- agents SSM cannot reach; a drain that ended ----

@pytest.mark.parametrize("replace", [False, True])
def test_an_idle_agent_ssm_cannot_reach_is_reported_and_replaced_on_demand(aws, drone, replace):
    st = account(n_members=2)
    st["instances"][1]["ssm"] = None             # agent 2: no SSM agent at all
    aws.set_state(st)
    # both busy enough that nothing is drained: 8 stages, 2 per... all on agent 1
    drone.set_stages([running(k, agent(1)) for k in range(1, 5)] + [drone_stage(9)])
    extra = {"REPLACE_UNHEALTHY": "true"} if replace else {}
    out = run(aws, drone, **extra).response(0)
    assert out["unreachable"] == [agent(2)]
    healths = aws.calls("SetInstanceHealth")
    if replace:
        assert out["replaced"] == [agent(2)]
        assert [(c["params"]["InstanceId"], c["params"]["HealthStatus"]) for c in healths] == \
            [(agent(2), "Unhealthy")]
    else:
        assert out["replaced"] == [] and healths == []


def test_a_busy_unreachable_agent_is_left_alone(aws, drone):
    st = account(n_members=1)
    st["instances"][0]["ssm"] = None
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    out = run(aws, drone, REPLACE_UNHEALTHY="true").response(0)
    assert out["unreachable"] == [] and aws.calls("SetInstanceHealth") == []


def test_a_drain_whose_command_succeeded_is_reaped(aws, drone):
    st = account(n_members=1)
    inst = drained_instance(7, 5)
    inst["ssm"] = {"online": True, "command": "success", "command_ticks": 0}
    st["instances"].append(inst)
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    # a drain without the poweroff: its command ends, the machine keeps running
    r = run(aws, drone, events=(SCHEDULED, SCHEDULED), DRAIN_COMMANDS="docker kill --signal=SIGINT drone-runner")
    assert r.response(0)["terminated"] == []          # the reaper sent the missing drain
    assert [c["params"]["InstanceIds"] for c in aws.calls("SendCommand")] == [[agent(7)]]
    assert r.response(1)["terminated"] == [agent(7)]  # its command has succeeded
    assert aws.calls("ListCommandInvocations")


def test_a_spot_drained_member_once_idle_is_detached_without_a_second_drain(aws, drone):
    st = account(n_members=2)
    st["instances"][1]["tags"].update({
        DRAINING: iso(3), "devcloud:drained-from": GROUP,
        "devcloud:drain-reason": "spot-interruption",
        "devcloud:drain-command": "8d7e1c52-0f5a-4a8e-9a51-4f0e4b6f2c11"})
    # idle now: its runner has exited, the machine not yet powered off
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    out = run(aws, drone).response(0)
    assert out["detached"] == [agent(2)] and out["failed"] == []
    assert aws.calls("SendCommand") == []
    assert members(aws) == [agent(1)]


# the two destructive calls the scenarios above never reach: undoing a mark, replacing an agent

def undo_scenario(aws, drone):
    st = account(n_members=1)
    st["instances"][0]["tags"].update({DRAINING: iso(1), "devcloud:drained-from": GROUP,
                                       "devcloud:drain-reason": "scale-in"})
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])


def unreachable_scenario(aws, drone):
    st = account(n_members=2)
    st["instances"][1]["ssm"] = None
    aws.set_state(st)
    drone.set_stages([running(k, agent(1)) for k in range(1, 5)] + [drone_stage(9)])


@pytest.mark.parametrize("kind", ["lost_reset", "lost_500", "throttle", "error500"])
@pytest.mark.parametrize("action,setup", [("DeleteTags", undo_scenario),
                                          ("SetInstanceHealth", unreachable_scenario)])
def test_a_fault_on_undo_or_replace_converges(aws, drone, action, setup, kind):
    extra = {"REPLACE_UNHEALTHY": "true", "AWS_MAX_ATTEMPTS": "1"}
    runs = (SCHEDULED, SCHEDULED)
    setup(aws, drone)
    run(aws, drone, events=runs, **extra)
    want = settled(aws)

    setup(aws, drone)
    aws.fault(action, kind, count=1)
    r = run(aws, drone, events=runs, **extra)
    assert [c for c in aws.calls(action) if c.get("fault") == kind], "the fault never fired"
    assert all(x is not None for x in r.results)
    assert r.results[-1]["kind"] == "response", r.results[-1]
    assert settled(aws) == want


def test_a_mark_cut_short_is_completed_before_the_detach(aws, drone):
    # draining-since written, drained-from lost: detached as is, the reaper would never see it
    st = account(n_members=2)
    st["instances"][1]["tags"].update({DRAINING: iso(3), "devcloud:drain-reason": "scale-in"})
    aws.set_state(st)
    drone.set_stages([running(1, agent(1))])
    r = run(aws, drone, events=(SCHEDULED, SCHEDULED))
    assert r.response(0)["detached"] == [agent(2)]
    assert instance(aws, agent(2))["tags"]["devcloud:drained-from"] == GROUP
    assert r.response(1)["terminated"] == [agent(2)]      # powered off by its drain, reaped
