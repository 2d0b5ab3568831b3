#!/usr/bin/python3
"""make demo: the stopper's evening run on a small emulated dev cloud.

Starts the local AWS seeded with a dev cloud, runs the real static stopper
bootstrap through the Lambda Runtime API emulator with a scheduled event (as
CloudWatch Events would at 19:00), prints what it did, and shuts everything
down.
"""

import argparse
import datetime
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "emulator"))

from harness import AwsEmu, Event, run_lambda  # noqa: E402


def dev_cloud():
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)).strftime("%Y-%m-%d")

    def box(n, name, **kw):
        tags = {"devcloud:role": "devbox", "Name": name, "owner": name}
        tags.update(kw.pop("tags", {}))
        return dict(id=f"i-0de7c10d000000{n:03d}", tags=tags, type="t3.xlarge",
                    state=kw.pop("state", "running"), **kw)

    return {"instances": [
        box(1, "alice"),
        box(2, "bob"),
        box(3, "carol", hibernation=True),
        box(4, "dave", state="pending", running_after_describes=2),
        box(5, "erin", tags={"devcloud:keep-running": soon}),
        box(6, "frank", tags={"devcloud:keep-running": "tomorow"}),
        box(7, "drone-agent-1", tags={"aws:autoscaling:groupName": "drone-agents", "owner": "ci"}),
        box(8, "grace", state="stopped"),
        dict(id="i-0b01d0000000000a1", state="running", type="c5.4xlarge",
             tags={"devcloud:role": "builder", "Name": "nightly-builder"}),
    ]}


def table(instances, before=None):
    rows = []
    for i in instances:
        name = i["tags"].get("Name", "")
        role = i["tags"].get("devcloud:role", "")
        extra = []
        if "devcloud:keep-running" in i["tags"]:
            extra.append(f"keep-running={i['tags']['devcloud:keep-running']}")
        if "aws:autoscaling:groupName" in i["tags"]:
            extra.append(f"asg={i['tags']['aws:autoscaling:groupName']}")
        if i.get("hibernation"):
            extra.append("hibernation configured")
        state = i["state"] + (" (hibernated)" if i.get("hibernated") else "")
        if before is not None and before.get(i["id"]) != i["state"]:
            state = f"{before[i['id']]} -> {state}"
        rows.append((i["id"], name, role, state, ", ".join(extra)))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    for r in rows:
        print("  " + "  ".join(r[k].ljust(widths[k]) for k in range(4)) + "  " + r[4])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    bootstrap = os.path.abspath(os.path.join(args.build, "stopper", "bootstrap"))
    if not os.path.exists(bootstrap):
        sys.exit(f"{bootstrap} is missing: run `make` first")

    with AwsEmu(state=dev_cloud()) as aws:
        print("== the dev cloud at 19:00 (local AWS emulator)")
        start = aws.state()["instances"]
        table(start)
        before = {i["id"]: i["state"] for i in start}

        print("\n== stopper: scheduled event, HIBERNATE=true")
        scheduled = {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
                     "detail-type": "Scheduled Event", "source": "aws.events",
                     "account": "123456789012", "time": datetime.datetime.now(
                         datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "region": aws.region, "detail": {},
                     "resources": ["arn:aws:events:eu-west-1:123456789012:rule/devcloud-stopper"]}
        run = run_lambda(bootstrap, [Event(scheduled, timeout_ms=60000)], aws=aws,
                         env={"HIBERNATE": "true", "PENDING_POLL_INTERVAL_MS": "500"},
                         function_name="devcloud-stopper", timeout_s=90)
        for line in run.stderr.splitlines():
            print("  | " + line)

        result = run.results[0]
        if result is None:
            print("\nthe stopper did not answer (exit code %s)" % run.exit_code)
            return 1
        print(f"\n== result ({result['kind']})")
        print(json.dumps(result["body_json"], indent=2))

        print("\n== the dev cloud afterwards")
        table(aws.state()["instances"], before)
        calls = aws.calls()
        print(f"\n{len(calls)} AWS calls: " + ", ".join(
            f"{c['action']} {c['status']}" for c in calls))
        return 0 if result["kind"] == "response" else 1


if __name__ == "__main__":
    sys.exit(main())
