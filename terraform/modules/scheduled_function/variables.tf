variable "name" {
  description = "The Lambda function's name (`<prefix>-<function>`); also names its role, log group, rules and alarm."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.name))
    error_message = "The name must be 1-64 letters, digits, '-' or '_'."
  }
}

variable "function" {
  description = "The function's folder under functions/ (stopper, terminator, ...), for descriptions and tags."
  type        = string
}

variable "zip_path" {
  description = "Path of the function's zip built by `make` (build/<function>.zip)."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture: x86_64 or arm64 (the zip must be built for it)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
  default     = 128
}

variable "timeout" {
  description = "The function's timeout in seconds (1-900)."
  type        = number

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "The timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions; -1 for none."
  type        = number
  default     = -1
}

variable "environment" {
  description = "Environment variables of the function (its settings; never a secret)."
  type        = map(string)
  default     = {}
}

variable "log_level" {
  description = "Application log level (AWS_LAMBDA_LOG_LEVEL): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 30
}

variable "policy_statements" {
  description = "IAM statements of the function's role besides writing its own logs: exactly the API actions it calls."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
}

variable "schedule_expression" {
  description = "When the function runs: cron(...) or rate(...); null for no schedule."
  type        = string
  default     = null
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedule (Europe/Madrid); null runs a classic CloudWatch Events rule in UTC."
  type        = string
  default     = null
}

variable "event_patterns" {
  description = "Other EventBridge rules invoking the function: a map of rule-name suffix to event pattern (JSON)."
  type        = map(string)
  default     = {}
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (0-2)."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic the Errors alarm notifies; null for no notification."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
