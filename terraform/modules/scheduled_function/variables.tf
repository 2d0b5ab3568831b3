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

variable "event_patterns" {
  description = "Other EventBridge rules invoking the function: a map of rule-name suffix to event pattern (JSON)."
  type        = map(string)
  default     = {}
}

variable "shared" {
  description = "What every function of a deployment shares: architecture (x86_64 or arm64; the zip must be built for it), memory_size in MB, log_level (AWS_LAMBDA_LOG_LEVEL), log_retention_days, schedule_timezone (an IANA name such as Europe/Madrid; null runs a classic CloudWatch Events rule in UTC), maximum_retry_attempts of a failed asynchronous invocation (0-2), alarm_topic_arn (the SNS topic the Errors alarm notifies; null for none) and tags for every resource."
  type = object({
    architecture           = optional(string, "x86_64")
    memory_size            = optional(number, 128)
    log_level              = optional(string, "INFO")
    log_retention_days     = optional(number, 30)
    schedule_timezone      = optional(string)
    maximum_retry_attempts = optional(number, 0)
    alarm_topic_arn        = optional(string)
    tags                   = optional(map(string), {})
  })
  default = {}

  validation {
    condition     = contains(["x86_64", "arm64"], var.shared.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
  validation {
    condition     = var.shared.maximum_retry_attempts >= 0 && var.shared.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}
