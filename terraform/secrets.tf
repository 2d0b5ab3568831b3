# The Slack webhook URL and the Drone token are SecureStrings in Parameter
# Store: the module takes the names of existing parameters, or creates them
# from ephemeral variables written write-only (value_wo), so a secret is never
# in the state, the plan or any function's environment.

locals {
  slack_webhook_parameter = coalesce(var.slack_webhook_parameter_name, "/${var.prefix}/slack-webhook-url")
  drone_token_parameter   = coalesce(var.drone_token_parameter_name, "/${var.prefix}/drone-token")
}

resource "aws_ssm_parameter" "slack_webhook" {
  count            = var.create_slack_webhook_parameter ? 1 : 0
  name             = local.slack_webhook_parameter
  description      = "Slack incoming webhook URL of the ${var.prefix} build monitor"
  type             = "SecureString"
  key_id           = var.kms_key_arn
  value_wo         = var.slack_webhook_url
  value_wo_version = var.secrets_version
  tags             = var.tags

  lifecycle {
    precondition {
      condition     = var.slack_webhook_url != null
      error_message = "create_slack_webhook_parameter is true but slack_webhook_url is not set."
    }
  }
}

resource "aws_ssm_parameter" "drone_token" {
  count            = var.create_drone_token_parameter ? 1 : 0
  name             = local.drone_token_parameter
  description      = "Drone admin token of the ${var.prefix} scaler"
  type             = "SecureString"
  key_id           = var.kms_key_arn
  value_wo         = var.drone_token
  value_wo_version = var.secrets_version
  tags             = var.tags

  lifecycle {
    precondition {
      condition     = var.drone_token != null
      error_message = "create_drone_token_parameter is true but drone_token is not set."
    }
  }
}
