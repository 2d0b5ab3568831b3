variable "slack_webhook_url" {
  description = "The Slack incoming webhook URL (secret; written write-only to Parameter Store, never in the state)."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "prefix" {
  description = "Prefix of every name (devcloud-stopper, ...)."
  type        = string
  default     = "devcloud"
}

variable "schedule_timezone" {
  description = "Time zone of the schedules (EventBridge Scheduler); null for classic rules in UTC."
  type        = string
  default     = "Europe/Madrid"
}

variable "alarm_emails" {
  description = "Who gets the alarms by e-mail."
  type        = list(string)
  default     = []
}

variable "slack_admins" {
  description = "Slack ids the build monitor's alerts mention (U..., W..., S...)."
  type        = list(string)
  default     = []
}

variable "drone_server" {
  description = "URL of the Drone server; null leaves the scaler out."
  type        = string
  default     = null
}

variable "create_drone_token_parameter" {
  description = "Write drone_token to /<prefix>/drone-token; false: that parameter exists already."
  type        = bool
  default     = false
}

variable "drone_token" {
  description = "Drone admin token (secret), written write-only when create_drone_token_parameter is true."
  type        = string
  default     = null
  sensitive   = true
  ephemeral   = true
}

variable "agent_subnet_ids" {
  description = "Subnets of the Drone agent pool the module creates; empty: the scaler drives existing_agent_group."
  type        = list(string)
  default     = []
}

variable "existing_agent_group" {
  description = "An existing Auto Scaling group of Drone agents, when no pool is created."
  type        = string
  default     = "devcloud-drone-agents"
}
