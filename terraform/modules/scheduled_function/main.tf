# One scheduled function: its Lambda function, role, log group, schedule (a
# CloudWatch Events rule in UTC, or an EventBridge Scheduler schedule in a time
# zone), optional event rules, asynchronous invoke settings and Errors alarm.

locals {
  scheduled = var.schedule_expression != null
  # classic rules run in UTC; a time zone needs EventBridge Scheduler
  use_scheduler = local.scheduled && var.shared.schedule_timezone != null
  use_rule      = local.scheduled && var.shared.schedule_timezone == null

  log_group_name = "/aws/lambda/${var.name}"

  statements = concat(
    [{
      Sid      = "OwnLogGroupOnly"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${aws_cloudwatch_log_group.this.arn}:*"]
    }],
    [for s in var.policy_statements : merge(
      {
        Sid      = s.sid
        Effect   = "Allow"
        Action   = s.actions
        Resource = s.resources
      },
      length(s.conditions) == 0 ? {} : {
        Condition = {
          for test in distinct([for c in s.conditions : c.test]) : test => {
            for c in s.conditions : c.variable => c.values if c.test == test
          }
        }
      }
    )]
  )
}

resource "aws_iam_role" "this" {
  name        = var.name
  description = "Role of the ${var.function} function (${var.name})"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.shared.tags
}

resource "aws_iam_role_policy" "this" {
  name = "${var.name}-least-privilege"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.statements
  })
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.shared.log_retention_days
  tags              = var.shared.tags
}

resource "aws_lambda_function" "this" {
  function_name = var.name
  description   = "devcloud ${var.function}"
  role          = aws_iam_role.this.arn
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.shared.architecture]
  memory_size   = var.shared.memory_size
  timeout       = var.timeout
  filename      = var.zip_path
  # a changed binary redeploys, an unchanged one does not (the zips are reproducible)
  source_code_hash               = filebase64sha256(var.zip_path)
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = var.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.shared.log_level
    system_log_level      = "INFO"
  }

  tags = var.shared.tags

  lifecycle {
    precondition {
      condition     = fileexists(var.zip_path)
      error_message = "${var.zip_path} is missing: run `make` first (it builds build/<function>.zip for every function)."
    }
  }

  depends_on = [aws_iam_role_policy.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name = aws_lambda_function.this.function_name
  # every job is idempotent and runs again at its next schedule
  maximum_retry_attempts = var.shared.maximum_retry_attempts
}

# ---- schedule in UTC: a CloudWatch Events rule ----

resource "aws_cloudwatch_event_rule" "schedule" {
  count               = local.use_rule ? 1 : 0
  name                = var.name
  description         = "Runs ${var.name} (${var.schedule_expression}, UTC)"
  schedule_expression = var.schedule_expression
  tags                = var.shared.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  count = local.use_rule ? 1 : 0
  rule  = aws_cloudwatch_event_rule.schedule[0].name
  arn   = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "schedule" {
  count         = local.use_rule ? 1 : 0
  statement_id  = "AllowScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[0].arn
}

# ---- schedule in a time zone: EventBridge Scheduler ----

resource "aws_iam_role" "scheduler" {
  count       = local.use_scheduler ? 1 : 0
  name        = "${var.name}-scheduler"
  description = "Lets EventBridge Scheduler invoke ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "scheduler.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.shared.tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.use_scheduler ? 1 : 0
  name  = "${var.name}-invoke"
  role  = aws_iam_role.scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "InvokeThisFunctionOnly"
      Effect   = "Allow"
      Action   = ["lambda:InvokeFunction"]
      Resource = [aws_lambda_function.this.arn]
    }]
  })
}

resource "aws_scheduler_schedule" "this" {
  count                        = local.use_scheduler ? 1 : 0
  name                         = var.name
  description                  = "Runs ${var.name} (${var.schedule_expression}, ${var.shared.schedule_timezone})"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.shared.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler[0].arn

    retry_policy {
      maximum_retry_attempts = var.shared.maximum_retry_attempts
    }
  }
}

# ---- other events (the scaler's Spot warnings) ----

resource "aws_cloudwatch_event_rule" "pattern" {
  for_each      = var.event_patterns
  name          = "${var.name}-${each.key}"
  description   = "Sends ${each.key} events to ${var.name}"
  event_pattern = each.value
  tags          = var.shared.tags
}

resource "aws_cloudwatch_event_target" "pattern" {
  for_each = var.event_patterns
  rule     = aws_cloudwatch_event_rule.pattern[each.key].name
  arn      = aws_lambda_function.this.arn
}

resource "aws_lambda_permission" "pattern" {
  for_each      = var.event_patterns
  statement_id  = "AllowRule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.pattern[each.key].arn
}

# ---- a failing job is noticed ----

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "${var.name} ended in an error: see its log group ${local.log_group_name}"
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.shared.alarm_topic_arn == null ? [] : [var.shared.alarm_topic_arn]
  ok_actions          = var.shared.alarm_topic_arn == null ? [] : [var.shared.alarm_topic_arn]
  tags                = var.shared.tags
}
