output "function_name" {
  description = "The Lambda function's name."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "The Lambda function's ARN."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the function's own role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's own role."
  value       = aws_iam_role.this.name
}

output "policy" {
  description = "The role's policy document (JSON)."
  value       = aws_iam_role_policy.this.policy
}

output "log_group_name" {
  description = "The function's log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "alarm_name" {
  description = "The alarm on the function's Errors metric."
  value       = aws_cloudwatch_metric_alarm.errors.alarm_name
}

output "schedule" {
  description = "How the function is scheduled: kind (rule, scheduler or none), expression and time zone."
  value = {
    kind       = local.use_scheduler ? "scheduler" : (local.use_rule ? "rule" : "none")
    expression = var.schedule_expression
    timezone   = local.use_rule ? "UTC" : var.schedule_timezone
  }
}
