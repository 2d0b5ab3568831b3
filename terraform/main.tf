# devcloud housekeeping functions: every folder under functions/ is one
# scheduled Lambda function (modules/scheduled_function), with its own role
# allowing exactly the API actions it calls (iam.tf), its log group, schedule,
# Errors alarm (alarms.tf) and settings as environment variables named as in
# the README. Secrets live in SSM Parameter Store (secrets.tf).

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  # the zips `make` builds: build/<function>.zip
  package_dir = coalesce(var.package_dir, "${path.module}/../build")

  enabled = {
    stopper       = var.stopper.enabled
    terminator    = var.terminator.enabled
    image_pruner  = var.image_pruner.enabled
    build_monitor = var.build_monitor.enabled
    scaler        = var.scaler.enabled
  }

  asg_name = var.create_agent_pool ? aws_autoscaling_group.agents[0].name : var.scaler.asg_name

  # what every function shares (the inner module's `shared`)
  function_shared = {
    architecture           = var.architecture
    memory_size            = var.memory_size
    schedule_timezone      = var.schedule_timezone
    maximum_retry_attempts = var.maximum_retry_attempts
    log_level              = var.log_level
    log_retention_days     = var.log_retention_days
    alarm_topic_arn        = aws_sns_topic.alarms.arn
    tags                   = var.tags
  }

  # EC2 filters ("name=value[,value]", several separated by ';') -> the tag
  # conditions of the same selection: a destructive action is allowed only on
  # a resource carrying the tags the function's filters select by.
  tag_conditions = {
    for fn, filters in {
      stopper      = var.stopper.instance_filters
      terminator   = var.terminator.builder_filters
      image_pruner = var.image_pruner.image_filters
      } : fn => [
      for f in split(";", filters) : {
        test     = "StringLike"
        variable = "aws:ResourceTag/${regex("^tag:([^=]+)=", trimspace(f))[0]}"
        values   = [for v in split(",", regex("^tag:[^=]+=(.*)$", trimspace(f))[0]) : trimspace(v)]
      } if startswith(trimspace(f), "tag:")
    ]
  }

}

module "stopper" {
  source   = "./modules/scheduled_function"
  count    = var.stopper.enabled ? 1 : 0
  name     = "${var.prefix}-stopper"
  function = "stopper"
  zip_path = "${local.package_dir}/stopper.zip"
  timeout  = var.stopper.timeout
  environment = {
    INSTANCE_FILTERS         = var.stopper.instance_filters
    KEEP_RUNNING_TAG         = var.stopper.keep_running_tag
    HIBERNATE                = tostring(var.stopper.hibernate)
    DRY_RUN                  = tostring(var.stopper.dry_run)
    STOP_BATCH_SIZE          = tostring(var.stopper.stop_batch_size)
    PENDING_POLL_INTERVAL_MS = tostring(var.stopper.pending_poll_interval_ms)
  }
  policy_statements   = local.policy.stopper
  schedule_expression = var.stopper.schedule
  shared              = local.function_shared
}

module "terminator" {
  source   = "./modules/scheduled_function"
  count    = var.terminator.enabled ? 1 : 0
  name     = "${var.prefix}-terminator"
  function = "terminator"
  zip_path = "${local.package_dir}/terminator.zip"
  timeout  = var.terminator.timeout
  environment = {
    BUILDER_FILTERS        = var.terminator.builder_filters
    BUILDER_LIFETIME_HOURS = tostring(var.terminator.builder_lifetime_hours)
    TERMINATE_BATCH_SIZE   = tostring(var.terminator.terminate_batch_size)
    DRY_RUN                = tostring(var.terminator.dry_run)
  }
  policy_statements   = local.policy.terminator
  schedule_expression = var.terminator.schedule
  shared              = local.function_shared
}

module "image_pruner" {
  source   = "./modules/scheduled_function"
  count    = var.image_pruner.enabled ? 1 : 0
  name     = "${var.prefix}-image-pruner"
  function = "image_pruner"
  zip_path = "${local.package_dir}/image_pruner.zip"
  timeout  = var.image_pruner.timeout
  environment = {
    IMAGE_FILTERS    = var.image_pruner.image_filters
    MAX_IMAGES_COUNT = tostring(var.image_pruner.max_images_count)
    DRY_RUN          = tostring(var.image_pruner.dry_run)
  }
  policy_statements   = local.policy.image_pruner
  schedule_expression = var.image_pruner.schedule
  shared              = local.function_shared
}

module "build_monitor" {
  source   = "./modules/scheduled_function"
  count    = var.build_monitor.enabled ? 1 : 0
  name     = "${var.prefix}-build-monitor"
  function = "build_monitor"
  zip_path = "${local.package_dir}/build_monitor.zip"
  timeout  = var.build_monitor.timeout
  environment = {
    IMAGE_FILTERS           = var.build_monitor.image_filters
    IMAGE_MAX_AGE_HOURS     = tostring(var.build_monitor.image_max_age_hours)
    BUILDER_FILTERS         = var.build_monitor.builder_filters
    BUILDER_IP              = var.build_monitor.builder_ip
    BUILD_COMMAND           = var.build_monitor.build_command
    SLACK_ADMINS            = join(",", var.build_monitor.slack_admins)
    SLACK_WEBHOOK_PARAMETER = local.slack_webhook_parameter
    DRY_RUN                 = tostring(var.build_monitor.dry_run)
  }
  policy_statements   = local.policy.build_monitor
  schedule_expression = var.build_monitor.schedule
  shared              = local.function_shared
}

module "scaler" {
  source   = "./modules/scheduled_function"
  count    = var.scaler.enabled ? 1 : 0
  name     = "${var.prefix}-scaler"
  function = "scaler"
  zip_path = "${local.package_dir}/scaler.zip"
  timeout  = var.scaler.timeout
  # one run at a time: all its state is in AWS, but two runs would race
  reserved_concurrency = 1
  environment = { for k, v in {
    ASG_NAME                  = local.asg_name
    DRONE_SERVER              = var.scaler.drone_server
    DRONE_TOKEN_PARAMETER     = local.drone_token_parameter
    DRONE_OS                  = var.scaler.drone_os
    DRONE_ARCH                = var.scaler.drone_arch
    DRONE_LABELS              = length(var.scaler.drone_labels) == 0 ? null : join(",", [for k, v in var.scaler.drone_labels : "${k}=${v}"])
    AGENT_NAME                = var.scaler.agent_name
    AGENTS_PER_INSTANCE       = tostring(var.scaler.agents_per_instance)
    SCALE_IN_COOLDOWN_MINUTES = try(tostring(var.scaler.scale_in_cooldown_minutes), null)
    MIN_INSTANCE_AGE_MINUTES  = try(tostring(var.scaler.min_instance_age_minutes), null)
    MAX_SCALE_IN_PER_RUN      = try(tostring(var.scaler.max_scale_in_per_run), null)
    WARM_AGENTS               = try(tostring(var.scaler.warm_agents), null)
    PENDING_HEADROOM_PERCENT  = try(tostring(var.scaler.pending_headroom_percent), null)
    DRAIN_COMMANDS            = var.scaler.drain_commands
    DRAIN_TIMEOUT_MINUTES     = try(tostring(var.scaler.drain_timeout_minutes), null)
    BOOT_GRACE_MINUTES        = try(tostring(var.scaler.boot_grace_minutes), null)
    REPLACE_UNHEALTHY         = try(tostring(var.scaler.replace_unhealthy), null)
    DRY_RUN                   = tostring(var.scaler.dry_run)
  } : k => v if v != null }
  policy_statements   = local.policy.scaler
  schedule_expression = var.scaler.schedule
  event_patterns = var.scaler.spot_events ? {
    spot-warnings = jsonencode({
      source      = ["aws.ec2"]
      detail-type = ["EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]
    })
  } : {}
  shared = local.function_shared
}
