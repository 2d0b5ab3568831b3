# Plan-level wiring of the module with a mock aws provider (no account):
# names, runtime, schedules, environment variables named as in the README,
# retries, alarms. Run with `terraform test` in terraform/.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  package_dir       = "tests/fixtures"
  slack_webhook_url = "https://hooks.slack.com/services/T0/B0/test"
  drone_token       = "test-token"
  scaler            = { drone_server = "https://drone.example.com", asg_name = "agents" }
}

run "every_function_is_a_provided_al2023_bootstrap" {
  command = apply

  assert {
    condition     = keys(output.functions) == ["build_monitor", "image_pruner", "scaler", "stopper", "terminator"]
    error_message = "Every function is deployed by default: ${jsonencode(keys(output.functions))}"
  }
  assert {
    condition     = [for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] : m.function_name] == ["devcloud-stopper", "devcloud-terminator", "devcloud-image-pruner", "devcloud-build-monitor", "devcloud-scaler"]
    error_message = "Functions are named <prefix>-<function>."
  }
  assert {
    condition     = module.stopper[0].log_group_name == "/aws/lambda/devcloud-stopper"
    error_message = "The log group is /aws/lambda/<name>."
  }
  assert {
    condition = alltrue([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] :
      m.lambda.runtime == "provided.al2023" && m.lambda.handler == "bootstrap" && m.lambda.architectures == tolist(["x86_64"])
      && m.lambda.memory_size == 128 && m.lambda.log_format == "JSON" && m.lambda.log_group == m.log_group_name
      && m.lambda.retention_days == 30 && m.lambda.retries == 0
    ])
    error_message = "Every function: provided.al2023, handler bootstrap, x86_64, 128 MB, JSON logs to its log group, no retries."
  }
  assert {
    condition     = module.image_pruner[0].lambda.filename == "tests/fixtures/image_pruner.zip" && module.image_pruner[0].lambda.source_code_hash == filebase64sha256("tests/fixtures/image_pruner.zip")
    error_message = "The zip is <package_dir>/<function>.zip and its hash redeploys a changed binary."
  }
  assert {
    condition     = module.stopper[0].lambda.source_code_hash != module.terminator[0].lambda.source_code_hash
    error_message = "Each function's hash is its own zip's."
  }
  assert {
    condition     = module.scaler[0].lambda.reserved_concurrency == 1 && module.stopper[0].lambda.reserved_concurrency == -1
    error_message = "Only the scaler has reserved concurrency, 1."
  }
  assert {
    condition     = module.scaler[0].lambda.timeout < 60 && module.image_pruner[0].lambda.timeout >= 300
    error_message = "Timeouts fit the jobs: the scaler within its minute, the pruner minutes."
  }
  assert {
    condition = alltrue([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] :
      m.alarm.metric == "Errors" && m.alarm.namespace == "AWS/Lambda" && m.alarm.dimensions.FunctionName == m.function_name
      && m.alarm.threshold == 1 && m.alarm.alarm_actions == toset([aws_sns_topic.alarms.arn])
    ])
    error_message = "Each function's Errors alarm notifies the topic."
  }
  assert {
    condition     = output.alarm_topic_arn == aws_sns_topic.alarms.arn
    error_message = "The alarm topic is an output."
  }
}


run "default_schedules_are_utc_rules_targeting_their_function" {
  command = apply

  assert {
    condition = { for k, m in { stopper = module.stopper[0], terminator = module.terminator[0], image_pruner = module.image_pruner[0], build_monitor = module.build_monitor[0], scaler = module.scaler[0] } :
      k => [for t in m.triggers : t.expression if t.expression != null] } == {
      stopper       = ["cron(0 19 ? * MON-FRI *)"]
      terminator    = ["rate(1 hour)"]
      image_pruner  = ["cron(0 2 * * ? *)"]
      build_monitor = ["cron(0 7 * * ? *)"]
      scaler        = ["rate(1 minute)"]
    }
    error_message = "Default schedules: stopper 19:00 on weekdays, terminator hourly, pruner nightly, build monitor mornings, scaler every minute."
  }
  assert {
    condition = alltrue(flatten([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] : [
      for t in m.triggers : t.kind == "rule" && t.target_arn == m.function_arn && t.target_rule == t.name
      && t.principal == "events.amazonaws.com" && t.source_arn == t.rule_arn && t.permitted_fn == m.function_name
    ]]))
    error_message = "Each rule targets its function, whose permission lets events.amazonaws.com invoke it from that rule only."
  }
  assert {
    condition     = length(module.stopper[0].triggers) == 1 && module.stopper[0].triggers[0].timezone == "UTC" && module.stopper[0].scheduler_policy == null
    error_message = "Without schedule_timezone, a classic rule in UTC and no EventBridge Scheduler."
  }
  assert {
    condition = [for t in module.scaler[0].triggers : jsondecode(t.pattern) if t.pattern != null] == [{
      source      = ["aws.ec2"]
      detail-type = ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]
    }]
    error_message = "The scaler also gets the Spot interruption and rebalance events."
  }
}

run "a_time_zone_switches_to_eventbridge_scheduler" {
  command = apply

  variables {
    schedule_timezone = "Europe/Madrid"
  }

  assert {
    condition = alltrue([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] :
      length([for t in m.triggers : t if t.kind == "schedule" && t.timezone == "Europe/Madrid" && t.target_arn == m.function_arn && t.retries == 0]) == 1
      && length([for t in m.triggers : t if t.kind == "rule" && t.expression != null]) == 0
    ])
    error_message = "With a time zone every schedule is an EventBridge Scheduler schedule in that zone, and no classic rule remains."
  }
  assert {
    condition     = module.stopper[0].triggers[0].expression == "cron(0 19 ? * MON-FRI *)"
    error_message = "The same expression, read in the time zone: 7 pm stays 7 pm."
  }
  assert {
    condition = jsondecode(module.stopper[0].scheduler_policy).Statement == [{
      Sid = "InvokeThisFunctionOnly", Effect = "Allow", Action = ["lambda:InvokeFunction"], Resource = [module.stopper[0].function_arn]
    }]
    error_message = "The scheduler's role may invoke only its function."
  }
  assert {
    condition     = length([for t in module.scaler[0].triggers : t if t.kind == "rule"]) == 1
    error_message = "The scaler's Spot events stay an EventBridge rule."
  }
}

run "environment_variables_are_named_as_in_the_readme" {
  command = plan

  variables {
    build_monitor = { slack_admins = ["U012AB3CD", "S0614TZR7"] }
    scaler = {
      drone_server   = "https://drone.example.com"
      asg_name       = "agents"
      drone_labels   = { gpu = "yes", zone = "a" }
      drain_commands = "systemctl stop drone-runner; poweroff"
    }
  }

  assert {
    condition     = toset(keys(module.stopper[0].environment)) == toset(["INSTANCE_FILTERS", "KEEP_RUNNING_TAG", "HIBERNATE", "DRY_RUN", "STOP_BATCH_SIZE", "PENDING_POLL_INTERVAL_MS"])
    error_message = "stopper: ${jsonencode(module.stopper[0].environment)}"
  }
  assert {
    condition = module.stopper[0].environment == tomap({
      INSTANCE_FILTERS = "tag:devcloud:role=devbox", KEEP_RUNNING_TAG = "devcloud:keep-running", HIBERNATE = "false"
      DRY_RUN          = "false", STOP_BATCH_SIZE = "50", PENDING_POLL_INTERVAL_MS = "5000"
    })
    error_message = "The stopper's defaults are the README's: ${jsonencode(module.stopper[0].environment)}"
  }
  assert {
    condition = module.terminator[0].environment == tomap({
      BUILDER_FILTERS = "tag:devcloud:role=builder", BUILDER_LIFETIME_HOURS = "48", TERMINATE_BATCH_SIZE = "50", DRY_RUN = "false"
    })
    error_message = "terminator: ${jsonencode(module.terminator[0].environment)}"
  }
  assert {
    condition     = module.image_pruner[0].environment == tomap({ IMAGE_FILTERS = "tag:devcloud:role=devbox-image", MAX_IMAGES_COUNT = "5", DRY_RUN = "false" })
    error_message = "image_pruner: ${jsonencode(module.image_pruner[0].environment)}"
  }
  assert {
    condition = module.build_monitor[0].environment == tomap({
      IMAGE_FILTERS           = "tag:devcloud:role=devbox-image", IMAGE_MAX_AGE_HOURS = "24", BUILDER_FILTERS = "tag:devcloud:role=builder"
      BUILDER_IP              = "private", BUILD_COMMAND = "/devcloud build", SLACK_ADMINS = "U012AB3CD,S0614TZR7"
      SLACK_WEBHOOK_PARAMETER = "/devcloud/slack-webhook-url", DRY_RUN = "false"
    })
    error_message = "build_monitor: ${jsonencode(module.build_monitor[0].environment)}"
  }
  assert {
    condition = module.scaler[0].environment == tomap({
      ASG_NAME            = "agents", DRONE_SERVER = "https://drone.example.com", DRONE_TOKEN_PARAMETER = "/devcloud/drone-token"
      DRONE_OS            = "linux", DRONE_ARCH = "amd64", DRONE_LABELS = "gpu=yes,zone=a", AGENT_NAME = "instance-id"
      AGENTS_PER_INSTANCE = "4", DRAIN_COMMANDS = "systemctl stop drone-runner; poweroff", DRY_RUN = "false"
    })
    error_message = "scaler (unset tuning knobs keep the function's defaults): ${jsonencode(module.scaler[0].environment)}"
  }
  assert {
    condition = alltrue(flatten([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] : [
      for k, v in m.environment : !strcontains(v, "hooks.slack.com") && !strcontains(v, "test-token") && !strcontains(k, "URL") && k != "DRONE_TOKEN"
    ]]))
    error_message = "No secret in any environment: the functions get parameter names."
  }
}

run "settings_flow_into_the_environment" {
  command = plan

  variables {
    prefix       = "ops"
    architecture = "arm64"
    stopper      = { dry_run = true, hibernate = true, instance_filters = "tag:team=web;instance-type=t3.large" }
    terminator   = { builder_lifetime_hours = 72, schedule = "rate(30 minutes)" }
  }

  assert {
    condition     = module.stopper[0].function_name == "ops-stopper" && module.stopper[0].lambda.architectures == tolist(["arm64"])
    error_message = "prefix and architecture apply."
  }
  assert {
    condition     = module.stopper[0].environment.DRY_RUN == "true" && module.stopper[0].environment.HIBERNATE == "true" && module.stopper[0].environment.INSTANCE_FILTERS == "tag:team=web;instance-type=t3.large"
    error_message = "The stopper's settings are passed through."
  }
  assert {
    condition     = module.terminator[0].environment.BUILDER_LIFETIME_HOURS == "72" && module.terminator[0].triggers[0].expression == "rate(30 minutes)"
    error_message = "The terminator's lifetime and schedule are passed through."
  }
  assert {
    condition     = module.build_monitor[0].environment.SLACK_WEBHOOK_PARAMETER == "/ops/slack-webhook-url" && module.scaler[0].environment.DRONE_TOKEN_PARAMETER == "/ops/drone-token"
    error_message = "Parameter names follow the prefix."
  }
}

run "every_function_can_be_disabled" {
  command = plan

  variables {
    stopper       = { enabled = false }
    image_pruner  = { enabled = false }
    build_monitor = { enabled = false }
    scaler        = { enabled = false }
  }

  assert {
    condition     = keys(output.functions) == ["terminator"] && length(module.stopper) == 0 && length(module.scaler) == 0
    error_message = "Disabled functions are not deployed: ${jsonencode(keys(output.functions))}"
  }
}

run "nothing_at_all_when_everything_is_disabled" {
  command = plan

  variables {
    stopper       = { enabled = false }
    terminator    = { enabled = false }
    image_pruner  = { enabled = false }
    build_monitor = { enabled = false }
    scaler        = { enabled = false }
  }

  assert {
    condition     = length(output.functions) == 0
    error_message = "No function."
  }
}

run "the_scaler_needs_a_drone_server" {
  command = plan

  variables {
    scaler = { asg_name = "agents" }
  }

  expect_failures = [var.scaler]
}

run "the_scaler_needs_a_group" {
  command = plan

  variables {
    scaler = { drone_server = "https://drone.example.com" }
  }

  expect_failures = [var.scaler]
}

run "destructive_filters_must_select_by_tag" {
  command = plan

  variables {
    stopper = { instance_filters = "instance-type=t3.large" }
  }

  expect_failures = [var.stopper]
}

run "retries_are_bounded" {
  command = plan

  variables {
    maximum_retry_attempts = 3
  }

  expect_failures = [var.maximum_retry_attempts]
}
