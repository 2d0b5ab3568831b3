# Every function has an alarm on its Errors metric (in modules/scheduled_function),
# published to this topic, so a failing nightly job is noticed.

resource "aws_sns_topic" "alarms" {
  name = "${var.prefix}-alarms"
  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}
