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
    timezone   = local.use_rule ? "UTC" : var.shared.schedule_timezone
  }
}

output "environment" {
  description = "The function's environment variables (its settings)."
  value       = aws_lambda_function.this.environment[0].variables
}

output "lambda" {
  description = "The function's runtime settings, for checks."
  value = {
    runtime              = aws_lambda_function.this.runtime
    handler              = aws_lambda_function.this.handler
    architectures        = aws_lambda_function.this.architectures
    memory_size          = aws_lambda_function.this.memory_size
    timeout              = aws_lambda_function.this.timeout
    filename             = aws_lambda_function.this.filename
    source_code_hash     = aws_lambda_function.this.source_code_hash
    reserved_concurrency = aws_lambda_function.this.reserved_concurrent_executions
    log_format           = aws_lambda_function.this.logging_config[0].log_format
    log_group            = aws_lambda_function.this.logging_config[0].log_group
    log_level            = aws_lambda_function.this.logging_config[0].application_log_level
    retention_days       = aws_cloudwatch_log_group.this.retention_in_days
    retries              = aws_lambda_function_event_invoke_config.this.maximum_retry_attempts
  }
}

output "triggers" {
  description = "What invokes the function: rules with their target and permission, or schedules with their role."
  value = concat(
    [for i, r in aws_cloudwatch_event_rule.schedule : {
      kind         = "rule"
      name         = r.name
      expression   = r.schedule_expression
      pattern      = null
      timezone     = "UTC"
      target_arn   = aws_cloudwatch_event_target.schedule[i].arn
      target_rule  = aws_cloudwatch_event_target.schedule[i].rule
      principal    = aws_lambda_permission.schedule[i].principal
      source_arn   = aws_lambda_permission.schedule[i].source_arn
      rule_arn     = r.arn
      permitted_fn = aws_lambda_permission.schedule[i].function_name
      retries      = null
    }],
    [for k, r in aws_cloudwatch_event_rule.pattern : {
      kind         = "rule"
      name         = r.name
      expression   = null
      pattern      = r.event_pattern
      timezone     = null
      target_arn   = aws_cloudwatch_event_target.pattern[k].arn
      target_rule  = aws_cloudwatch_event_target.pattern[k].rule
      principal    = aws_lambda_permission.pattern[k].principal
      source_arn   = aws_lambda_permission.pattern[k].source_arn
      rule_arn     = r.arn
      permitted_fn = aws_lambda_permission.pattern[k].function_name
      retries      = null
    }],
    [for i, s in aws_scheduler_schedule.this : {
      kind         = "schedule"
      name         = s.name
      expression   = s.schedule_expression
      pattern      = null
      timezone     = s.schedule_expression_timezone
      target_arn   = s.target[0].arn
      target_rule  = null
      principal    = "scheduler.amazonaws.com"
      source_arn   = null
      rule_arn     = null
      permitted_fn = null
      retries      = s.target[0].retry_policy[0].maximum_retry_attempts
    }],
  )
}

output "scheduler_policy" {
  description = "The policy letting EventBridge Scheduler invoke the function (JSON), or null."
  value       = try(aws_iam_role_policy.scheduler[0].policy, null)
}

output "alarm" {
  description = "The Errors alarm's settings."
  value = {
    metric        = aws_cloudwatch_metric_alarm.errors.metric_name
    namespace     = aws_cloudwatch_metric_alarm.errors.namespace
    dimensions    = aws_cloudwatch_metric_alarm.errors.dimensions
    threshold     = aws_cloudwatch_metric_alarm.errors.threshold
    alarm_actions = aws_cloudwatch_metric_alarm.errors.alarm_actions
  }
}
