#!/usr/bin/python3
"""make demo: one night of housekeeping on a small emulated dev cloud.

Starts the local AWS emulator seeded with a dev cloud (dev boxes, nightly
builders, dev-box AMIs with their snapshots, a launch template, the Drone
agents' Auto Scaling group, the Slack webhook in Parameter Store) and a local
Slack webhook receiver, then runs each real static bootstrap through the Lambda
Runtime API emulator with a scheduled event, as CloudWatch Events would:

  stopper        19:00  stops the running dev boxes
  terminator     hourly terminates builders older than their lifetime
  image_pruner   daily  keeps the newest 5 dev-box AMIs, deletes the rest
  build_monitor  09:00  alerts the admins on Slack: the newest AMI is stale

Then a morning of CI on a second account: the scaler, every minute, against
the Drone agents' Auto Scaling group and a local Drone queue: a merge burst
arrives and agents are added, the burst ends and idle agents are drained and
detached, a Spot warning drains a busy agent, and the reaper terminates the
drained ones once their agent has exited.

It prints what each one did (logs, result, AWS calls, what changed) and shuts
everything down. The exit status is 0 when every function answered as
expected.
"""

import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

from harness import (AwsEmu, DroneEmu, Event, SlackReceiver, drone_stage,  # noqa: E402
                     run_lambda, scheduled_event)

NOW = datetime.datetime.now(datetime.timezone.utc)
WEBHOOK_PARAMETER = "/devcloud/slack-webhook"


def ago(hours):
    return (NOW - datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ami(n):
    return f"ami-0de7c10d00000{n:04d}"


def snap(n):
    return f"snap-0de7c10d0000{n:05d}"


def dev_cloud(webhook_url):
    soon = (NOW + datetime.timedelta(days=2)).strftime("%Y-%m-%d")

    def box(n, name, **kw):
        tags = {"devcloud:role": "devbox", "Name": name, "owner": name}
        tags.update(kw.pop("tags", {}))
        return dict(id=f"i-0de7c10d000000{n:03d}", tags=tags, type="t3.xlarge",
                    state=kw.pop("state", "running"), image_id=kw.pop("image_id", ami(1)), **kw)

    def builder(n, name, **kw):
        return dict(id=f"i-0b01d0000000000{n:02x}", type="c5.4xlarge", image_id="ami-0a1b2c3d4e5f60718",
                    tags={"devcloud:role": "builder", "Name": name}, **kw)

    # dev-box AMIs: the newest is 30 h old (the last nightly build failed)
    images = []
    for n in range(1, 11):
        hours = 30 + (n - 1) * 24
        day = (NOW - datetime.timedelta(hours=hours)).strftime("%Y-%m-%d")
        snapshots = [snap(n)]
        if n == 9:
            snapshots.append(snap(3))   # a volume copied from image 3's snapshot
        images.append(dict(id=ami(n), name=f"devbox-{day}", creation_date=ago(hours),
                           tags={"devcloud:role": "devbox-image"}, snapshots=snapshots))
    images.append(dict(id="ami-0a1b2c3d4e5f60718", name="builder-base-2026-09",
                       creation_date=ago(24 * 80), tags={"devcloud:role": "builder-image"},
                       snapshots=["snap-0a1b2c3d4e5f60718"]))

    return {
        "instances": [
            box(1, "alice"),
            box(2, "bob"),
            box(3, "carol", hibernation=True),
            box(4, "dave", state="pending", running_after_describes=2),
            box(5, "erin", tags={"devcloud:keep-running": soon}),
            box(6, "frank", tags={"devcloud:keep-running": "tomorow"}),
            box(7, "drone-agent-1", image_id="ami-0a1b2c3d4e5f60718",
                tags={"aws:autoscaling:groupName": "drone-agents", "owner": "ci",
                      "devcloud:role": "drone-agent"}),
            box(8, "grace", state="stopped", image_id=ami(7)),
            # restarted two hours ago, but alive for three days
            builder(1, "nightly-builder-1124", state="running", launch_time=ago(2),
                    attach_time=ago(75), private_ip="10.0.8.11"),
            builder(2, "nightly-builder-1125", state="stopped", launch_time=ago(52),
                    attach_time=ago(52), private_ip="10.0.8.12"),
            builder(3, "nightly-builder-1127", state="running", launch_time=ago(6),
                    attach_time=ago(6), private_ip="10.0.8.13", public_ip="203.0.113.13"),
        ],
        "images": images,
        "launch_templates": [
            {"id": "lt-0de7c10d000000001", "name": "devbox", "default_version": 2,
             "versions": [{"number": 1, "image_id": ami(8)}, {"number": 2, "image_id": ami(6)},
                          {"number": 3, "image_id": ami(1)}]},
        ],
        "auto_scaling_groups": [
            {"name": "drone-agents", "min_size": 0, "max_size": 8, "desired_capacity": 1,
             "launch_template": {"name": "devbox", "version": "1"},
             "instances": [{"id": "i-0de7c10d000000007"}]},
        ],
        "parameters": [{"name": WEBHOOK_PARAMETER, "type": "SecureString", "value": webhook_url}],
    }


def print_table(rows):
    if not rows:
        print("  (none)")
        return
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]) - 1)]
    for r in rows:
        print("  " + "  ".join(r[k].ljust(widths[k]) for k in range(len(widths))) + "  " + r[-1])


def instance_rows(instances, before=None):
    rows = []
    for i in instances:
        tags = i["tags"]
        extra = []
        if "devcloud:keep-running" in tags:
            extra.append(f"keep-running={tags['devcloud:keep-running']}")
        if "aws:autoscaling:groupName" in tags:
            extra.append(f"asg={tags['aws:autoscaling:groupName']}")
        if i.get("hibernation"):
            extra.append("hibernation configured")
        if tags.get("devcloud:role") == "builder":
            extra.append(f"up since {i['attach_time'][:16]}, launched {i['launch_time'][:16]}")
        state = i["state"] + (" (hibernated)" if i.get("hibernated") else "")
        if before is not None and before.get(i["id"]) != i["state"]:
            state = f"{before[i['id']]} -> {state}"
        rows.append((i["id"], tags.get("Name", ""), tags.get("devcloud:role", ""), state,
                     ", ".join(extra)))
    return rows


def image_rows(state, before_ids=None):
    present = {i["id"] for i in state["images"]}
    snapshots = {s["id"] for s in state["snapshots"]}
    rows = []
    for i in sorted(state["images"], key=lambda i: i["creation_date"], reverse=True):
        snaps = ", ".join(s + ("" if s in snapshots else " (deleted)") for s in i["snapshots"])
        rows.append((i["id"], i["name"], i["creation_date"][:16], snaps))
    for gone in sorted(before_ids or {}):
        if gone not in present:
            name, created, snaps = before_ids[gone]
            snaps = ", ".join(s + ("" if s in snapshots else " (deleted)") for s in snaps)
            rows.append((gone, name, created[:16], f"DEREGISTERED; snapshots: {snaps}"))
    return rows


def run_scene(aws, bootstrap, title, rule, env):
    print(f"\n== {title}")
    event = scheduled_event(rule, time=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), region=aws.region)
    run = run_lambda(bootstrap, [Event(event, timeout_ms=60000)], aws=aws,
                     env=env, function_name=rule, timeout_s=90)
    for line in run.stderr.splitlines():
        print("  | " + line)
    result = run.results[0] if run.results else None
    if result is None:
        print(f"\n  the function did not answer (exit code {run.exit_code})")
        return None
    kind = result["kind"]
    print(f"\n  result ({kind}{', ' + result.get('error_type', '') if kind != 'response' else ''}):")
    body = result["body_json"]
    for line in json.dumps(body, indent=2).splitlines():
        print("    " + line)
    calls = aws.calls()
    print(f"\n  {len(calls)} AWS calls: " + ", ".join(f"{c['action']} {c['status']}" for c in calls))
    aws.clear_calls()
    return result


# ---- the scaler: a morning of CI ----

POOL = "drone-agents"


def agent(n):
    return f"i-0a9e07000000000{n:02x}"


def ci_account():
    """The Drone agents' group: one agent in service, new ones protected from scale-in."""
    return {
        "launch_configurations": [{"name": "drone-agent", "image_id": "ami-0a1b2c3d4e5f60718",
                                   "instance_type": "c5.xlarge"}],
        "instances": [dict(id=agent(1), launch_time=ago(3), attach_time=ago(3),
                           tags={"aws:autoscaling:groupName": POOL, "Name": "drone-agent"},
                           ssm={"online": True})],
        "auto_scaling_groups": [{
            "name": POOL, "launch_configuration": "drone-agent", "active": True,
            "min_size": 1, "max_size": 8, "desired_capacity": 1,
            "new_instances_protected_from_scale_in": True, "launch_describes": 1,
            "instances": [{"id": agent(1), "protected_from_scale_in": True}],
        }],
    }


def pool_rows(aws):
    st = aws.state()
    group = next(g for g in st["auto_scaling_groups"] if g["name"] == POOL)
    members = {m["id"]: m for m in group["instances"]}
    rows = []
    for i in st["instances"]:
        tags = i["tags"]
        if i["id"] not in members and "devcloud:drained-from" not in tags:
            continue
        where = members[i["id"]]["lifecycle_state"] if i["id"] in members else "detached"
        mark = tags.get("devcloud:drain-reason", "")
        rows.append((i["id"], where, i["state"], f"draining ({mark})" if mark else ""))
    print(f"   group '{POOL}': desired {group['desired_capacity']} (min {group['min_size']}, "
          f"max {group['max_size']})")
    print_table(rows)


def scaler_scene(aws, drone, bootstrap, title, event=None):
    print(f"\n== scaler: {title}")
    event = event or scheduled_event("devcloud-scaler", time=NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                     region=aws.region)
    env = {"ASG_NAME": POOL, "DRONE_SERVER": drone.url, "DRONE_TOKEN": drone.token,
           "SCALE_IN_COOLDOWN_MINUTES": "0", "MIN_INSTANCE_AGE_MINUTES": "0"}
    run = run_lambda(bootstrap, [Event(event, timeout_ms=30000)], aws=aws, env=env,
                     function_name="devcloud-scaler", timeout_s=60)
    for line in run.stderr.splitlines():
        print("  | " + line)
    result = run.results[0] if run.results else None
    if result is None:
        print(f"\n  the function did not answer (exit code {run.exit_code})")
        return None
    body = result["body_json"]
    keys = ("queue", "desired", "draining", "detached", "undone", "terminated")
    print("  result: " + json.dumps({k: body[k] for k in keys if k in body}))
    calls = [c for c in aws.calls() if not c["action"].startswith("Describe")]
    print(f"  changes: " + (", ".join(f"{c['action']}" for c in calls) or "none"))
    aws.clear_calls()
    pool_rows(aws)
    return result


def ci_morning(bootstrap):
    ok = True
    with AwsEmu(state=ci_account()) as aws, DroneEmu() as drone:
        print("\n== a morning of CI: the Drone agents' Auto Scaling group")
        pool_rows(aws)

        # a merge burst: 14 stages waiting
        drone.set_stages([drone_stage(n) for n in range(1, 15)])
        r = scaler_scene(aws, drone, bootstrap, "a merge burst: 14 stages pending")
        ok &= r is not None and r["kind"] == "response" and \
            r["body_json"]["desired"]["after"] > r["body_json"]["desired"]["before"]
        members = [m["id"] for m in aws.state()["auto_scaling_groups"][0]["instances"]]

        # the agents take the stages; one build runs long on the first new agent
        long_one = members[1]
        drone.set_stages([drone_stage(n, "running", machine=members[n % len(members)])
                          for n in range(1, 15)])
        r = scaler_scene(aws, drone, bootstrap, "every stage running: nothing to change")
        ok &= r is not None and r["kind"] == "response"

        # the burst is over but for one long build
        drone.set_stages([drone_stage(99, "running", machine=long_one)])
        r = scaler_scene(aws, drone, bootstrap, "the burst is over: idle agents drained, "
                         "detached (one build still runs)")
        ok &= r is not None and r["kind"] == "response" and bool(r["body_json"]["detached"])

        spot = {"version": "0", "id": "7e0ba1f5-33d3-4c83-a0e5-4cfbc3d8e7a1",
                "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2",
                "account": "123456789012", "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": aws.region, "resources": [],
                "detail": {"instance-id": long_one, "instance-action": "terminate"}}
        r = scaler_scene(aws, drone, bootstrap, f"a Spot warning for {long_one} (busy)", spot)
        ok &= r is not None and r["kind"] == "response" and r["body_json"]["draining"] == [long_one]

        drone.set_stages([])
        r = scaler_scene(aws, drone, bootstrap, "a minute later: the drained agents "
                         "powered off, the reaper terminates them")
        ok &= r is not None and r["kind"] == "response" and bool(r["body_json"]["terminated"])
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    functions = ("stopper", "terminator", "image_pruner", "build_monitor", "scaler")
    bootstraps = {f: os.path.abspath(os.path.join(args.build, f, "bootstrap")) for f in functions}
    for path in bootstraps.values():
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run `make` first")

    ok = True
    with SlackReceiver() as slack, AwsEmu(state=dev_cloud(slack.url)) as aws:
        state = aws.state()
        print("== the dev cloud (local AWS emulator)")
        print_table(instance_rows(state["instances"]))
        print("\n   dev-box and builder AMIs, newest first")
        print_table(image_rows(state))
        print("\n   launch template 'devbox': $Default = version 2 (" + ami(6) + "), "
              "$Latest = version 3 (" + ami(1) + "); the Auto Scaling group 'drone-agents' "
              "launches its version 1 (" + ami(8) + ")")
        before = {i["id"]: i["state"] for i in state["instances"]}
        images_before = {i["id"]: (i["name"], i["creation_date"], i["snapshots"])
                         for i in state["images"]}

        r = run_scene(aws, bootstraps["stopper"], "stopper at 19:00 (HIBERNATE=true)",
                      "devcloud-stopper",
                      {"HIBERNATE": "true", "PENDING_POLL_INTERVAL_MS": "500"})
        ok &= r is not None and r["kind"] == "response"

        r = run_scene(aws, bootstraps["terminator"], "terminator (builders live 48 h at most)",
                      "devcloud-terminator", {})
        ok &= r is not None and r["kind"] == "response"
        print("\n   instances afterwards")
        print_table(instance_rows(aws.state()["instances"], before))

        r = run_scene(aws, bootstraps["image_pruner"], "image_pruner (MAX_IMAGES_COUNT=5)",
                      "devcloud-image-pruner", {"MAX_IMAGES_COUNT": "5"})
        ok &= r is not None and r["kind"] == "response"
        print("\n   dev-box and builder AMIs afterwards")
        print_table(image_rows(aws.state(), images_before))

        # the first delivery attempt meets a Slack hiccup: the monitor retries
        slack.script([{"status": 503, "body": "service_unavailable"}])
        r = run_scene(aws, bootstraps["build_monitor"],
                      "build_monitor at 09:00 (webhook from Parameter Store)",
                      "devcloud-build-monitor",
                      {"SLACK_WEBHOOK_PARAMETER": WEBHOOK_PARAMETER,
                       "SLACK_ADMINS": "U024BE7LH,U0G9QF9C6"})
        ok &= r is not None and r["kind"] == "response"
        messages = slack.messages()
        print(f"\n   Slack received {len(messages)} message(s) "
              f"after {len(slack.requests())} delivery attempt(s):")
        for m in messages:
            for line in m.get("text", "").splitlines():
                print("   > " + line)
        ok &= len(messages) == 1
    ok &= ci_morning(bootstraps["scaler"])
    print("\n" + ("every function did its job" if ok else "SOMETHING WENT WRONG (see above)"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
