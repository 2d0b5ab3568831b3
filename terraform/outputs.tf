output "functions" {
  description = "Every deployed function: name, ARN, role, log group, alarm and schedule."
  value = {
    for fn, m in {
      stopper       = module.stopper
      terminator    = module.terminator
      image_pruner  = module.image_pruner
      build_monitor = module.build_monitor
      scaler        = module.scaler
      } : fn => {
      name      = m[0].function_name
      arn       = m[0].function_arn
      role_arn  = m[0].role_arn
      log_group = m[0].log_group_name
      alarm     = m[0].alarm_name
      schedule  = m[0].schedule
    } if length(m) > 0
  }
}

output "alarm_topic_arn" {
  description = "SNS topic notified when a function's Errors alarm fires: subscribe to it."
  value       = aws_sns_topic.alarms.arn
}

output "slack_webhook_parameter" {
  description = "Name of the SecureString holding the Slack webhook URL."
  value       = local.slack_webhook_parameter
}

output "drone_token_parameter" {
  description = "Name of the SecureString holding the Drone token."
  value       = local.drone_token_parameter
}

output "agent_pool_asg_name" {
  description = "The Auto Scaling group the scaler drives (created or given); null without a scaler."
  value       = local.asg_name
}
