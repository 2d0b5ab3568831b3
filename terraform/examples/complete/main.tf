# Every function, scheduled in Europe/Madrid time, alarms to an e-mail, the
# Slack webhook written to Parameter Store from an ephemeral variable.
#   make && terraform -chdir=terraform/examples/complete init && \
#     terraform -chdir=terraform/examples/complete apply -var slack_webhook_url=https://hooks.slack.com/services/...
# With drone_server (and drone_token, or an existing /devcloud/drone-token)
# the scaler is deployed too, with its agent pool when agent_subnet_ids is set.

module "devcloud" {
  source = "../.."

  prefix            = var.prefix
  schedule_timezone = var.schedule_timezone
  alarm_emails      = var.alarm_emails

  create_slack_webhook_parameter = true
  slack_webhook_url              = var.slack_webhook_url

  create_drone_token_parameter = var.drone_server != null && var.create_drone_token_parameter
  drone_token                  = var.drone_token

  stopper = {
    schedule         = "cron(0 19 ? * MON-FRI *)"
    instance_filters = "tag:devcloud:role=devbox"
  }
  terminator = {
    builder_lifetime_hours = 48
  }
  image_pruner = {
    max_images_count = 5
  }
  build_monitor = {
    slack_admins  = var.slack_admins
    build_command = "/devcloud build"
  }
  scaler = {
    enabled      = var.drone_server != null
    drone_server = var.drone_server
    asg_name     = length(var.agent_subnet_ids) > 0 ? null : var.existing_agent_group
  }

  create_agent_pool = var.drone_server != null && length(var.agent_subnet_ids) > 0
  agent_pool = {
    subnet_ids = var.agent_subnet_ids
  }

  tags = { "devcloud:managed-by" = "terraform" }
}
