output "functions" {
  description = "The deployed functions (name, ARN, role, log group, alarm, schedule)."
  value       = module.devcloud.functions
}

output "alarm_topic_arn" {
  description = "The alarms' SNS topic."
  value       = module.devcloud.alarm_topic_arn
}
