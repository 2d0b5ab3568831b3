# ---- shared ----

variable "prefix" {
  description = "Prefix of every name: the functions are <prefix>-<function> (devcloud-stopper)."
  type        = string
  default     = "devcloud"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,38}$", var.prefix))
    error_message = "The prefix must be 1-39 lowercase letters, digits or '-', starting with a letter or digit."
  }
}

variable "package_dir" {
  description = "Folder holding the zips built by `make` (<function>.zip); defaults to the repository's build/."
  type        = string
  default     = null
}

variable "architecture" {
  description = "Lambda architecture of every function: x86_64 or arm64 (the zips must be built for it)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory of every function in MB (they need well under 128)."
  type        = number
  default     = 128

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "schedule_timezone" {
  description = "IANA time zone of the schedules (e.g. Europe/Madrid), so 7 pm stays 7 pm across daylight saving: the module then uses EventBridge Scheduler. null: classic CloudWatch Events rules, in UTC."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_timezone == null || can(regex("^(UTC|[A-Za-z_]+(/[A-Za-z0-9_+-]+)+)$", var.schedule_timezone))
    error_message = "schedule_timezone must be an IANA time zone name such as Europe/Madrid, or UTC."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failed scheduled invocation (0-2). 0: every job is idempotent and runs again at its next schedule, and a permanent failure alerts once, not three times."
  type        = number
  default     = 0

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 2
    error_message = "maximum_retry_attempts must be 0, 1 or 2."
  }
}

variable "log_retention_days" {
  description = "Retention of each function's log group, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "log_level" {
  description = "Log level of every function (AWS_LAMBDA_LOG_LEVEL): TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.log_level)
    error_message = "log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the alarm topic (each confirms by mail)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
}

# ---- secrets (SSM Parameter Store SecureStrings; never in an environment) ----

variable "slack_webhook_parameter_name" {
  description = "SecureString holding the Slack webhook URL, read by the build monitor. Default /<prefix>/slack-webhook-url."
  type        = string
  default     = null
}

variable "create_slack_webhook_parameter" {
  description = "Create the webhook parameter from slack_webhook_url (written write-only: never in the state). false: the parameter already exists."
  type        = bool
  default     = false
}

variable "slack_webhook_url" {
  description = "The Slack incoming webhook URL (secret), written to the parameter when create_slack_webhook_parameter is true."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = var.slack_webhook_url == null || startswith(coalesce(var.slack_webhook_url, "-"), "https://")
    error_message = "slack_webhook_url must be an https:// URL."
  }
}

variable "drone_token_parameter_name" {
  description = "SecureString holding the Drone admin token, read by the scaler. Default /<prefix>/drone-token."
  type        = string
  default     = null
}

variable "create_drone_token_parameter" {
  description = "Create the Drone token parameter from drone_token (written write-only: never in the state). false: the parameter already exists."
  type        = bool
  default     = false
}

variable "drone_token" {
  description = "The Drone admin token (secret), written to the parameter when create_drone_token_parameter is true."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "secrets_version" {
  description = "Version of the secrets written by the module: increase it to write new values of slack_webhook_url and drone_token."
  type        = number
  default     = 1
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key of the SecureStrings; null: the AWS-managed key aws/ssm. Decrypt is allowed only through SSM, for the function's own parameter."
  type        = string
  default     = null
}

# ---- the functions (names and defaults as in the README's tables) ----

variable "stopper" {
  description = "The stopper: stops the running dev boxes every evening. Settings are its environment variables (README, `stopper`)."
  type = object({
    enabled                  = optional(bool, true)
    schedule                 = optional(string, "cron(0 19 ? * MON-FRI *)")
    timeout                  = optional(number, 300)
    instance_filters         = optional(string, "tag:devcloud:role=devbox")
    keep_running_tag         = optional(string, "devcloud:keep-running")
    hibernate                = optional(bool, false)
    dry_run                  = optional(bool, false)
    stop_batch_size          = optional(number, 50)
    pending_poll_interval_ms = optional(number, 5000)
  })
  default = {}

  validation {
    condition     = var.stopper.stop_batch_size >= 1 && var.stopper.stop_batch_size <= 1000 && var.stopper.pending_poll_interval_ms >= 100 && var.stopper.pending_poll_interval_ms <= 60000
    error_message = "stop_batch_size must be 1-1000 and pending_poll_interval_ms 100-60000."
  }
  validation {
    condition     = length(regexall("(^|;)\\s*tag:[^=]+=", var.stopper.instance_filters)) > 0
    error_message = "instance_filters must select by at least one tag (tag:key=value): the stopper's role may stop only instances carrying it."
  }
}

variable "terminator" {
  description = "The terminator: terminates nightly builders older than their lifetime. Settings are its environment variables (README, `terminator`)."
  type = object({
    enabled                = optional(bool, true)
    schedule               = optional(string, "rate(1 hour)")
    timeout                = optional(number, 300)
    builder_filters        = optional(string, "tag:devcloud:role=builder")
    builder_lifetime_hours = optional(number, 48)
    terminate_batch_size   = optional(number, 50)
    dry_run                = optional(bool, false)
  })
  default = {}

  validation {
    condition     = var.terminator.builder_lifetime_hours >= 1 && var.terminator.builder_lifetime_hours <= 8760 && var.terminator.terminate_batch_size >= 1 && var.terminator.terminate_batch_size <= 1000
    error_message = "builder_lifetime_hours must be 1-8760 and terminate_batch_size 1-1000."
  }
  validation {
    condition     = length(regexall("(^|;)\\s*tag:[^=]+=", var.terminator.builder_filters)) > 0
    error_message = "builder_filters must select by at least one tag (tag:key=value): the terminator's role may terminate only instances carrying it."
  }
}

variable "image_pruner" {
  description = "The image pruner: keeps the newest dev-box AMIs and deletes the rest with their snapshots. Settings are its environment variables (README, `image_pruner`)."
  type = object({
    enabled          = optional(bool, true)
    schedule         = optional(string, "cron(0 2 * * ? *)")
    timeout          = optional(number, 600)
    image_filters    = optional(string, "tag:devcloud:role=devbox-image")
    max_images_count = optional(number, 5)
    dry_run          = optional(bool, false)
    # launch templates naming their image as resolve:ssm:<parameter>: the parameters it may read
    image_parameter_arns = optional(list(string))
  })
  default = {}

  validation {
    condition     = var.image_pruner.max_images_count >= 1 && var.image_pruner.max_images_count <= 1000
    error_message = "max_images_count must be 1-1000."
  }
  validation {
    condition     = length(regexall("(^|;)\\s*tag:[^=]+=", var.image_pruner.image_filters)) > 0
    error_message = "image_filters must select by at least one tag (tag:key=value): the pruner's role may deregister only images carrying it."
  }
}

variable "build_monitor" {
  description = "The build monitor: alerts the admins on Slack when the newest dev-box AMI is stale. Settings are its environment variables (README, `build_monitor`)."
  type = object({
    enabled             = optional(bool, true)
    schedule            = optional(string, "cron(0 7 * * ? *)")
    timeout             = optional(number, 120)
    image_filters       = optional(string, "tag:devcloud:role=devbox-image")
    image_max_age_hours = optional(number, 24)
    builder_filters     = optional(string, "tag:devcloud:role=builder")
    builder_ip          = optional(string, "private")
    build_command       = optional(string, "/devcloud build")
    slack_admins        = optional(list(string), [])
    dry_run             = optional(bool, false)
  })
  default = {}

  validation {
    condition     = contains(["private", "public"], var.build_monitor.builder_ip) && var.build_monitor.image_max_age_hours >= 1 && var.build_monitor.image_max_age_hours <= 8760
    error_message = "builder_ip must be private or public and image_max_age_hours 1-8760."
  }
  validation {
    condition     = length(var.build_monitor.build_command) <= 200 && !strcontains(var.build_monitor.build_command, "`") && !strcontains(var.build_monitor.build_command, "\n")
    error_message = "build_command must be one line of at most 200 characters, without a backtick."
  }
  validation {
    condition     = alltrue([for a in var.build_monitor.slack_admins : can(regex("^[UWS][A-Z0-9]+$", a))])
    error_message = "slack_admins must be Slack ids: users U.../W..., user groups S...."
  }
}

variable "scaler" {
  description = "The scaler: sizes the Drone agents' Auto Scaling group from the build queue. Settings are its environment variables."
  type = object({
    enabled             = optional(bool, true)
    schedule            = optional(string, "rate(1 minute)")
    timeout             = optional(number, 55)
    spot_events         = optional(bool, true)
    drone_server        = optional(string)
    asg_name            = optional(string) # an existing group, when create_agent_pool is false
    drone_os            = optional(string, "linux")
    drone_arch          = optional(string, "amd64")
    drone_labels        = optional(map(string), {})
    agent_name          = optional(string, "instance-id")
    agents_per_instance = optional(number, 4)
    # the function's own defaults apply to what is left null
    scale_in_cooldown_minutes = optional(number)
    min_instance_age_minutes  = optional(number)
    max_scale_in_per_run      = optional(number)
    warm_agents               = optional(number)
    pending_headroom_percent  = optional(number)
    drain_commands            = optional(string)
    drain_timeout_minutes     = optional(number)
    boot_grace_minutes        = optional(number)
    replace_unhealthy         = optional(bool)
    dry_run                   = optional(bool, false)
  })
  default = {}

  validation {
    condition     = !var.scaler.enabled || try(startswith(var.scaler.drone_server, "https://") || startswith(var.scaler.drone_server, "http://"), false)
    error_message = "The scaler needs drone_server (the Drone server's URL), or enabled = false."
  }
  validation {
    condition     = contains(["instance-id", "private-dns-name", "private-ip"], var.scaler.agent_name)
    error_message = "agent_name must be instance-id, private-dns-name or private-ip."
  }
  validation {
    condition     = !var.scaler.enabled || var.create_agent_pool || var.scaler.asg_name != null
    error_message = "The scaler needs its Auto Scaling group: create_agent_pool = true, or scaler.asg_name naming an existing group."
  }
  validation {
    condition     = var.scaler.agents_per_instance >= 1 && coalesce(var.scaler.max_scale_in_per_run, 1) >= 1
    error_message = "agents_per_instance and max_scale_in_per_run must be at least 1."
  }
}

# ---- the Drone agent pool ----

variable "create_agent_pool" {
  description = "Create the Drone agents' Auto Scaling group (spot, mixed instances, capacity rebalance). false: the scaler drives scaler.asg_name."
  type        = bool
  default     = false
}

variable "agent_pool" {
  description = "The agent pool created when create_agent_pool is true."
  type = object({
    subnet_ids                = optional(list(string), [])
    security_group_ids        = optional(list(string), [])
    instance_types            = optional(list(string), ["m7i.large", "m6i.large", "m5.large", "m7a.large", "m6a.large"])
    image_id                  = optional(string, "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    max_size                  = optional(number, 10)
    root_volume_gb            = optional(number, 50)
    runner_image              = optional(string, "drone/drone-runner-docker:1")
    rpc_secret_parameter_name = optional(string) # SecureString with DRONE_RPC_SECRET; default /<prefix>/drone-rpc-secret
    on_demand_base_capacity   = optional(number, 0)
    spot_allocation_strategy  = optional(string, "price-capacity-optimized")
  })
  default = {}

  validation {
    condition     = var.agent_pool.max_size >= 1 && length(var.agent_pool.instance_types) >= 1
    error_message = "agent_pool needs max_size >= 1 and at least one instance type."
  }
}
