"""The build monitor, end to end: the real bootstrap (static, and ASan/UBSan
where it matters) run through the Runtime API emulator against the strict
local AWS (images, instances, an SSM SecureString) and a local Slack webhook,
checking what was read and what reached Slack.
"""

import datetime
import json
import time

import pytest

from binaries import assert_init_error, bootstrap_path, require
from harness import (DEFAULT_SECRET_KEY, DEFAULT_SESSION_TOKEN, AwsEmu, Event, SlackReceiver,
                     run_lambda, run_local, scheduled_event)

SCHEDULED = scheduled_event("devcloud-build-monitor", time="2026-11-26T09:00:00Z")

PARAMETER = "/devcloud/slack-webhook"
ADMINS = "U024BE7LH, S0614TZR7"
MENTIONS = "<@U024BE7LH> <!subteam^S0614TZR7>"
BUILDER = "i-0b000000000000001"


def hours_ago(h):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=h)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ami(n):
    return f"ami-0a{n:015x}"


def image(n, age_hours, name=None, state="available", role="devbox-image", **extra):
    return dict(id=ami(n), name=name or f"devbox-{n}", state=state,
                creation_date=hours_ago(age_hours), tags={"devcloud:role": role}, **extra)


def builder(state="running", private_ip="10.0.0.4", public_ip=None, n=1, launched_hours=2):
    return dict(id=f"i-0b{n:015x}", state=state, private_ip=private_ip, public_ip=public_ip,
                launch_time=hours_ago(launched_hours),
                tags={"devcloud:role": "builder", "Name": f"nightly-builder-{n}"})


def account(images, instances=(), parameter_value=None, **extra):
    """A dev cloud: the image family, builders and a dev box, and the webhook parameter."""
    state = {
        "images": list(images),
        "instances": [*instances,
                      dict(id="i-0d000000000000001", state="running",
                           tags={"devcloud:role": "devbox", "Name": "alice"})],
    }
    if parameter_value is not None:
        state["parameters"] = [{"name": PARAMETER, "type": "SecureString",
                                "value": parameter_value}]
    state.update(extra)
    return state


@pytest.fixture(scope="module")
def emu():
    with AwsEmu() as aws:
        yield aws


@pytest.fixture
def aws(emu):
    return emu.reset(account([]))


@pytest.fixture
def slack():
    with SlackReceiver() as receiver:
        yield receiver


def seed(aws, slack, images, instances=(), **extra):
    aws.set_state(account(images, instances, parameter_value=slack.url, **extra))


def param_env(**extra):
    return dict({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "SLACK_ADMINS": ADMINS}, **extra)


def url_env(slack, **extra):
    return dict({"SLACK_WEBHOOK_URL": slack.url, "SLACK_ADMINS": ADMINS}, **extra)


def error_of(run, i=0):
    r = run.results[i]
    assert r is not None and r["kind"] == "error", (r, run.stderr)
    return r["error_type"], r["body_json"]["errorMessage"]


def only_message(slack):
    msgs = slack.messages()
    assert len(msgs) == 1, slack.requests()
    return msgs[0]


# ---- alerts ----

@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_stale_image_alerts_with_the_ssh_command(aws, slack, flavour):
    seed(aws, slack, [image(1, 54), image(2, 30, name="devbox-2026-11-25"),
                      image(3, 2, state="pending")], [builder()])
    run = run_lambda(require(bootstrap_path("build_monitor", flavour)), [SCHEDULED],
                     env=param_env(), aws=aws)
    out = run.response(0)
    assert out["latest_image"]["id"] == ami(2)
    assert out["latest_image"]["name"] == "devbox-2026-11-25"
    assert out["latest_image"]["creation_date"].endswith("Z")
    assert abs(out["age_hours"] - 30.0) <= 0.1
    assert out["alerted"] is True and out["dry_run"] is False
    assert "message" not in out

    msg = only_message(slack)
    text = msg["text"]
    assert text.startswith(MENTIONS + " ")
    assert f"The newest dev-box image devbox-2026-11-25 ({ami(2)}) is 30 h old (built " in text
    assert f"Builder {BUILDER} (nightly-builder-1) is running" in text
    assert "`ssh ubuntu@10.0.0.4 cat build.log`" in text
    assert "/devcloud build" not in text
    assert [b["type"] for b in msg["blocks"]] == ["section", "section", "context"]
    assert "older than 24 h" in msg["blocks"][2]["elements"][0]["text"]

    # the webhook came from SSM, decrypted; the images are this account's family
    gets = aws.calls("GetParameter")
    assert len(gets) == 1 and gets[0]["params"] == {"Name": PARAMETER, "WithDecryption": True}
    images = aws.calls("DescribeImages")
    assert images and images[0]["params"]["Owners"] == ["self"]
    assert images[0]["params"]["IncludeDeprecated"] is True
    assert images[0]["params"]["Filters"] == [{"Name": "tag:devcloud:role",
                                                 "Values": ["devbox-image"]}]
    builders = aws.calls("DescribeInstances")[0]["params"]["Filters"]
    assert {f["Name"]: f["Values"] for f in builders} == {
        "tag:devcloud:role": ["builder"], "instance-state-name": ["running"]}
    assert "alerted the admins on Slack" in run.stderr


def test_stale_image_without_a_builder_gives_the_build_command(aws, slack):
    seed(aws, slack, [image(1, 49)], [builder(state="stopped")])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}],
                     env=param_env(BUILD_COMMAND="/devcloud build --nightly"), aws=aws)
    out = run.response(0)
    assert out["alerted"] is True and abs(out["age_hours"] - 49.0) <= 0.1
    text = only_message(slack)["text"]
    assert "No builder is running: start a new build with `/devcloud build --nightly`." in text
    assert "ssh" not in text


def test_public_builder_address(aws, slack):
    seed(aws, slack, [image(1, 30)], [builder(public_ip="203.0.113.7")])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}],
                     env=param_env(BUILDER_IP="public"), aws=aws)
    run.response(0)
    assert "`ssh ubuntu@203.0.113.7 cat build.log`" in only_message(slack)["text"]


def test_a_builder_without_a_public_address_gets_its_private_one(aws, slack):
    seed(aws, slack, [image(1, 30)], [builder(public_ip=None)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}],
                     env=param_env(BUILDER_IP="public"), aws=aws)
    run.response(0)
    assert ("`ssh ubuntu@10.0.0.4 cat build.log` (it has no public IP; this is its private one)"
            in only_message(slack)["text"])
    assert "it has no public IP" in run.stderr


def test_the_most_recently_launched_builder_is_named(aws, slack):
    seed(aws, slack, [image(1, 30)],
         [builder(n=1, private_ip="10.0.0.1", launched_hours=5),
          builder(n=2, private_ip="10.0.0.2", launched_hours=1),
          builder(n=3, private_ip="10.0.0.3", launched_hours=3)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    run.response(0)
    assert "`ssh ubuntu@10.0.0.2 cat build.log`" in only_message(slack)["text"]


def test_fresh_image_posts_nothing(aws, slack):
    seed(aws, slack, [image(1, 30), image(2, 3)], [builder()])
    run = run_lambda(require(bootstrap_path("build_monitor")), [SCHEDULED], env=param_env(),
                     aws=aws)
    out = run.response(0)
    assert out["latest_image"]["id"] == ami(2)
    assert abs(out["age_hours"] - 3.0) <= 0.1
    assert out["alerted"] is False
    assert slack.requests() == []


def test_no_image_alerts(aws, slack):
    # only other families, and a failed build, in the account
    seed(aws, slack, [image(1, 2, role="other-image"), image(2, 1, state="failed")])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    out = run.response(0)
    assert out["latest_image"] is None and out["age_hours"] is None
    assert out["alerted"] is True
    text = only_message(slack)["text"]
    assert text.startswith(MENTIONS + " :warning: No available dev-box image was found")
    assert "`/devcloud build`" in text


def test_max_age_setting_and_override(aws, slack):
    seed(aws, slack, [image(1, 30)])
    run = run_lambda(require(bootstrap_path("build_monitor")),
                     [{}, {"image_max_age_hours": 24}], env=param_env(IMAGE_MAX_AGE_HOURS="36"),
                     aws=aws)
    assert run.response(0)["alerted"] is False
    assert run.response(1)["alerted"] is True
    assert len(slack.messages()) == 1


def test_force_alert_sends_a_test_message(aws, slack):
    seed(aws, slack, [image(1, 3)], [builder()])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{"force_alert": True}],
                     env=param_env(), aws=aws)
    assert run.response(0)["alerted"] is True
    text = only_message(slack)["text"]
    assert "Test alert (force_alert), nothing is wrong" in text
    assert "`ssh ubuntu@10.0.0.4 cat build.log`" in text


def test_every_page_of_images_is_read(aws, slack):
    images = [image(n, 30 + n) for n in range(1, 13)] + [image(13, 1)]
    seed(aws, slack, images)
    aws.config(page_size=5)
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    out = run.response(0)
    assert out["latest_image"]["id"] == ami(13) and out["alerted"] is False
    assert len(aws.calls("DescribeImages")) == 3


def test_names_are_escaped(aws, slack):
    seed(aws, slack, [image(1, 30, name="devbox<&>")],
         [dict(builder(), tags={"devcloud:role": "builder", "Name": "<!channel> & co"})])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    run.response(0)
    text = only_message(slack)["text"]
    assert "devbox&lt;&amp;&gt;" in text and "(&lt;!channel&gt; &amp; co)" in text
    assert "<!channel>" not in text


# ---- the webhook ----

def test_webhook_is_read_once_at_init(aws, slack):
    seed(aws, slack, [image(1, 30)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}, {}], env=param_env(), aws=aws)
    run.response(0)
    run.response(1)
    assert len(aws.calls("GetParameter")) == 1
    assert len(slack.messages()) == 2


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_webhook_url_for_local_runs(aws, slack, flavour):
    aws.set_state(account([image(1, 30)]))
    rc, out, err = run_local(require(bootstrap_path("build_monitor", flavour)), {},
                             env=url_env(slack), aws=aws)
    assert rc == 0, err
    assert json.loads(out)["alerted"] is True
    assert MENTIONS in only_message(slack)["text"]
    assert aws.calls("GetParameter") == []


def test_missing_parameter_is_an_init_error(aws, slack):
    aws.set_state(account([image(1, 30)]))
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws,
                     timeout_s=15)
    assert run.init_error is not None, run
    msg = run.init_error["body_json"]["errorMessage"]
    assert msg.startswith(f"cannot read SLACK_WEBHOOK_PARAMETER '{PARAMETER}': ParameterNotFound")
    assert run.results[0] is None
    assert aws.calls("DescribeImages") == []
    assert slack.requests() == []


def test_undecryptable_parameter_is_an_init_error(aws, slack):
    seed(aws, slack, [image(1, 30)], denied_actions=["kms:Decrypt"])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws,
                     timeout_s=15)
    assert run.init_error is not None, run
    msg = run.init_error["body_json"]["errorMessage"]
    assert f"'{PARAMETER}': AccessDeniedException" in msg
    assert slack.secret not in json.dumps(run.raw) + run.logs


def test_parameter_holding_no_url_is_an_init_error_without_the_value(aws, slack):
    aws.set_state(account([image(1, 30)], parameter_value=f"hooks.slack.com {slack.secret}"))
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws,
                     timeout_s=15)
    assert run.init_error is not None, run
    msg = run.init_error["body_json"]["errorMessage"]
    assert f"SLACK_WEBHOOK_PARAMETER '{PARAMETER}' does not hold a usable Slack webhook URL" in msg
    assert slack.secret not in json.dumps(run.raw) + run.logs


# ---- delivery ----

def test_500_then_200_is_delivered_once(aws, slack):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"status": 500, "body": "internal_error"}])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    assert run.response(0)["alerted"] is True
    assert [r["status"] for r in slack.requests()] == [500, 200]
    assert len(slack.messages()) == 1
    assert "retrying the Slack post" in run.stderr


def test_a_reset_connection_is_retried(aws, slack):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"reset": True}])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    assert run.response(0)["alerted"] is True
    assert [r["status"] for r in slack.requests()] == [0, 200]


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_429_retry_after_is_honoured(aws, slack, flavour):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"status": 429, "body": "rate_limited", "retry_after": 1}])
    run = run_lambda(require(bootstrap_path("build_monitor", flavour)), [{}], env=param_env(),
                     aws=aws)
    assert run.response(0)["alerted"] is True
    first, second = slack.requests()
    assert (first["status"], second["status"]) == (429, 200)
    assert second["time"] - first["time"] >= 1.0


def test_429_beyond_the_remaining_time_fails_at_once(aws, slack):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"status": 429, "body": "rate_limited", "retry_after": 30}])
    started = time.monotonic()
    run = run_lambda(require(bootstrap_path("build_monitor")), [Event({}, timeout_ms=8000)],
                     env=param_env(), aws=aws, timeout_s=20)
    elapsed = time.monotonic() - started
    kind, msg = error_of(run)
    assert kind == "BuildMonitor.AlertNotDelivered"
    assert msg.startswith("cannot deliver the alert to Slack: Slack answered 429")
    assert len(slack.requests()) == 1
    assert elapsed < 5, elapsed


@pytest.mark.parametrize("flavour", ["static", "asan"])
def test_404_is_not_delivered(aws, slack, flavour):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"status": 404, "body": "no_service"}])
    run = run_lambda(require(bootstrap_path("build_monitor", flavour)), [{}], env=param_env(),
                     aws=aws)
    kind, msg = error_of(run)
    assert kind == "BuildMonitor.AlertNotDelivered"
    assert msg == "cannot deliver the alert to Slack: Slack answered 404: no_service"
    assert len(slack.requests()) == 1   # a 404 is never retried
    assert "cannot deliver the alert to Slack" in run.stderr


def test_retries_stay_within_the_invocation(aws, slack):
    seed(aws, slack, [image(1, 30)])
    slack.script([{"status": 503, "body": "unavailable"}] * 10)
    run = run_lambda(require(bootstrap_path("build_monitor")), [Event({}, timeout_ms=4000)],
                     env=param_env(), aws=aws, timeout_s=20)
    kind, msg = error_of(run)
    assert kind == "BuildMonitor.AlertNotDelivered"
    assert "503" in msg
    assert 1 <= len(slack.requests()) <= 5


@pytest.mark.parametrize("log_format", ["JSON", "Text"])
def test_the_webhook_never_shows(aws, slack, log_format):
    seed(aws, slack, [image(1, 30)])
    # Slack (or a proxy) echoing the path back must not leak it either
    slack.script([{"status": 500, "body": f"oops {slack.path}"},
                   {"status": 400, "body": f"invalid_payload {slack.secret}"},
                   {"status": 500, "body": "internal_error"}])
    env = param_env(AWS_LAMBDA_LOG_FORMAT=log_format, AWS_LAMBDA_LOG_LEVEL="TRACE")
    run = run_lambda(require(bootstrap_path("build_monitor")),
                     [{}, {"dry_run": True}, {}], env=env, aws=aws)
    assert error_of(run, 0)[0] == "BuildMonitor.AlertNotDelivered"
    assert run.response(1)["dry_run"] is True
    assert run.response(2)["alerted"] is True
    everything = run.stdout + run.stderr + json.dumps(run.raw)
    for secret in (slack.secret, slack.path, DEFAULT_SECRET_KEY, DEFAULT_SESSION_TOKEN):
        assert secret not in everything
    if log_format == "JSON":
        lines = [json.loads(line) for line in run.stderr.splitlines() if line.strip()]
        assert lines and all(line["level"] in ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
                             for line in lines)


def test_the_webhook_url_setting_never_shows(aws, slack):
    aws.set_state(account([image(1, 30)]))
    slack.script([{"status": 404, "body": "no_service"}])
    rc, out, err = run_local(require(bootstrap_path("build_monitor")), {},
                             env=url_env(slack, AWS_LAMBDA_LOG_LEVEL="TRACE"), aws=aws)
    assert rc == 1
    assert json.loads(out)["errorType"] == "BuildMonitor.AlertNotDelivered"
    assert slack.secret not in out + err


# ---- dry runs, failures, configuration ----

def test_dry_run_posts_nothing(aws, slack):
    aws.set_state(account([image(1, 30)]))
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}],
                     env={"DRY_RUN": "true", "SLACK_ADMINS": ADMINS}, aws=aws)
    out = run.response(0)
    assert out["dry_run"] is True and out["alerted"] is True
    assert out["message"].startswith(MENTIONS + " :warning: The newest dev-box image")
    assert "would alert the admins on Slack" in run.stderr
    assert slack.requests() == []
    assert aws.calls("GetParameter") == []


def test_dry_run_event_with_a_webhook_posts_nothing(aws, slack):
    seed(aws, slack, [image(1, 30)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{"dry_run": True}],
                     env=param_env(), aws=aws)
    out = run.response(0)
    assert out["dry_run"] is True and "is 30 h old" in out["message"]
    assert slack.requests() == []


@pytest.mark.parametrize("kind", ["error500", "throttle", "malformed"])
def test_failed_image_listing_sends_nothing(aws, slack, kind):
    seed(aws, slack, [image(1, 30)])
    aws.fault("DescribeImages", kind, count=10)
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    kind_, msg = error_of(run)
    assert kind_ == "BuildMonitor.ListFailed"
    assert msg.startswith("cannot list images (tag:devcloud:role=devbox-image): ")
    assert msg.endswith("; no alert was sent")
    assert slack.requests() == []


def test_denied_image_listing_sends_nothing(aws, slack):
    seed(aws, slack, [image(1, 30)], denied_actions=["ec2:DescribeImages"])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    kind, msg = error_of(run)
    assert kind == "BuildMonitor.ListFailed" and "UnauthorizedOperation" in msg
    assert slack.requests() == []


def test_unlisted_builders_still_alert(aws, slack):
    seed(aws, slack, [image(1, 30)], [builder()], denied_actions=["ec2:DescribeInstances"])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=param_env(), aws=aws)
    assert run.response(0)["alerted"] is True
    text = only_message(slack)["text"]
    assert "The builder could not be checked" in text and "`/devcloud build`" in text
    assert "cannot list the builders" in run.stderr


@pytest.mark.parametrize("env,needle", [
    ({}, "SLACK_WEBHOOK_PARAMETER (or SLACK_WEBHOOK_URL for local runs) is not set"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"},
     "both set"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "SLACK_ADMINS": "U024BE7LH,alice"},
     "SLACK_ADMINS: 'alice'"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "BUILDER_IP": "elastic"}, "BUILDER_IP"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "IMAGE_MAX_AGE_HOURS": "0"}, "IMAGE_MAX_AGE_HOURS"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "BUILD_COMMAND": "run `x`"}, "BUILD_COMMAND"),
    ({"SLACK_WEBHOOK_PARAMETER": PARAMETER, "IMAGE_FILTERS": "devbox"}, "IMAGE_FILTERS"),
    ({"SLACK_WEBHOOK_URL": "http://hooks.example.com/services/T/B/notsecret"}, "SLACK_WEBHOOK_URL"),
])
def test_bad_config_is_an_init_error(aws, slack, env, needle):
    seed(aws, slack, [image(1, 30)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [{}], env=env, aws=aws,
                     timeout_s=10)
    assert_init_error(run, aws, needle)
    assert "notsecret" not in json.dumps(run.raw) + run.logs


@pytest.mark.parametrize("event,needle", [
    ({"force": True}, "unknown key 'force'"),
    ({"force_alert": "yes"}, "force_alert"),
    ({"image_max_age_hours": 0}, "image_max_age_hours"),
    ({"image_max_age_hours": "48"}, "image_max_age_hours"),
])
def test_bad_event_is_refused_before_any_call(aws, slack, event, needle):
    seed(aws, slack, [image(1, 30)])
    run = run_lambda(require(bootstrap_path("build_monitor")), [event], env=param_env(), aws=aws)
    kind, msg = error_of(run)
    assert kind == "BuildMonitor.InvalidEvent" and needle in msg
    assert [c["action"] for c in aws.calls()] == ["GetParameter"]   # init only
    assert slack.requests() == []


def test_help_documents_every_setting():
    import subprocess
    out = subprocess.run([require(bootstrap_path("build_monitor")), "--help"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    for name in ("IMAGE_FILTERS", "IMAGE_MAX_AGE_HOURS", "BUILDER_FILTERS", "BUILDER_IP",
                 "BUILD_COMMAND", "SLACK_ADMINS", "SLACK_WEBHOOK_PARAMETER", "SLACK_WEBHOOK_URL",
                 "DRY_RUN", "AWS_REGION"):
        assert name in out, name


@pytest.mark.parametrize("event,answers,rc", [
    ({}, [], 0),
    ({"dry_run": True}, [], 0),
    ({"force_alert": True}, [], 0),
    ({}, [{"status": 500}], 0),
    ({}, [{"status": 404, "body": "no_service"}], 1),
    ({"bogus": 1}, [], 1),
], ids=["alert", "dry-run", "force", "retry", "not-delivered", "bad-event"])
def test_no_leaks_in_local_mode(aws, slack, event, answers, rc):
    """The ASan/UBSan build exits normally in local mode, so LeakSanitizer runs."""
    seed(aws, slack, [image(1, 30)], [builder()])
    slack.script(answers)
    env = param_env(ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23",
                    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    got, out, err = run_local(require(bootstrap_path("build_monitor", "asan")), event, env=env,
                              aws=aws)
    assert "Sanitizer" not in err and "runtime error" not in err, err
    assert got == rc, err
