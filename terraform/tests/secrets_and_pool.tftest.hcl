# Secrets written write-only, and the optional Drone agent pool.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  package_dir       = "tests/fixtures"
  slack_webhook_url = "https://hooks.slack.com/services/T0/B0/test"
  drone_token       = "test-token"
  scaler            = { drone_server = "https://drone.example.com", asg_name = "agents" }
}

run "existing_parameters_by_default" {
  command = plan

  assert {
    condition     = length(aws_ssm_parameter.slack_webhook) == 0 && length(aws_ssm_parameter.drone_token) == 0
    error_message = "Without create_*_parameter the module only names existing parameters."
  }
}

run "secrets_are_written_write_only" {
  command = apply

  variables {
    create_slack_webhook_parameter = true
    create_drone_token_parameter   = true
    slack_webhook_parameter_name   = "/team/webhook"
  }

  assert {
    condition = (aws_ssm_parameter.slack_webhook[0].type == "SecureString" && aws_ssm_parameter.slack_webhook[0].name == "/team/webhook"
    && aws_ssm_parameter.slack_webhook[0].value_wo_version == 1 && aws_ssm_parameter.drone_token[0].type == "SecureString")
    error_message = "Both secrets are SecureStrings, written with value_wo."
  }
  assert {
    condition     = aws_ssm_parameter.slack_webhook[0].value_wo == null && aws_ssm_parameter.drone_token[0].value_wo == null
    error_message = "A write-only value is never kept."
  }
  assert {
    condition     = module.build_monitor[0].environment.SLACK_WEBHOOK_PARAMETER == "/team/webhook"
    error_message = "The build monitor reads the parameter it was given."
  }
}

run "a_webhook_parameter_needs_the_url" {
  command = plan

  variables {
    create_slack_webhook_parameter = true
    slack_webhook_url              = null
  }

  expect_failures = [aws_ssm_parameter.slack_webhook]
}

run "the_agent_pool" {
  command = apply

  variables {
    create_agent_pool = true
    scaler            = { drone_server = "https://drone.example.com", agents_per_instance = 2 }
    agent_pool        = { subnet_ids = ["subnet-1", "subnet-2"], instance_types = ["m7i.large", "m6i.large"] }
  }

  assert {
    condition     = aws_autoscaling_group.agents[0].protect_from_scale_in && aws_autoscaling_group.agents[0].capacity_rebalance
    error_message = "New instances are protected from scale-in; capacity rebalance is on."
  }
  assert {
    condition = (aws_autoscaling_group.agents[0].mixed_instances_policy[0].instances_distribution[0].on_demand_percentage_above_base_capacity == 0
    && [for o in aws_autoscaling_group.agents[0].mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["m7i.large", "m6i.large"])
    error_message = "Spot instances of several types."
  }
  assert {
    condition     = aws_launch_template.agent[0].instance_initiated_shutdown_behavior == "terminate" && aws_launch_template.agent[0].metadata_options[0].http_tokens == "required"
    error_message = "An agent that powers off terminates; IMDSv2 only."
  }
  assert {
    condition = (strcontains(base64decode(aws_launch_template.agent[0].user_data), "DRONE_RUNNER_NAME=$instance_id")
      && strcontains(base64decode(aws_launch_template.agent[0].user_data), "DRONE_RUNNER_CAPACITY=2")
    && strcontains(base64decode(aws_launch_template.agent[0].user_data), "instance_id=$(imds meta-data/instance-id)"))
    error_message = "The runner is named after the instance id, with AGENTS_PER_INSTANCE stages."
  }
  assert {
    condition     = module.scaler[0].environment.ASG_NAME == aws_autoscaling_group.agents[0].name && module.scaler[0].environment.AGENTS_PER_INSTANCE == "2" && module.scaler[0].environment.AGENT_NAME == "instance-id"
    error_message = "The scaler drives the pool it was created with, with the same capacity per instance."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.agent_ssm[0].policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" && aws_launch_template.agent[0].iam_instance_profile[0].arn == aws_iam_instance_profile.agent[0].arn
    error_message = "The agents are managed by SSM (the scaler drains them with Run Command)."
  }
  assert {
    condition     = output.agent_pool_asg_name == "devcloud-drone-agents"
    error_message = "The group's name is an output."
  }
}

run "no_pool_by_default" {
  command = plan

  assert {
    condition     = length(aws_autoscaling_group.agents) == 0 && length(aws_launch_template.agent) == 0 && output.agent_pool_asg_name == "agents"
    error_message = "Without create_agent_pool the scaler drives the given group."
  }
}

run "a_pool_needs_subnets" {
  command = plan

  variables {
    create_agent_pool = true
    scaler            = { drone_server = "https://drone.example.com" }
  }

  expect_failures = [aws_autoscaling_group.agents]
}
