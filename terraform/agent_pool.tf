# The optional Drone agent pool (create_agent_pool = true): Spot instances of
# several types in an Auto Scaling group the scaler sizes. New instances are
# protected from scale-in, so the group never picks a busy agent itself; the
# scaler drains an idle one over SSM, detaches it and terminates it.

locals {
  rpc_secret_parameter = coalesce(var.agent_pool.rpc_secret_parameter_name, "/${var.prefix}/drone-rpc-secret")
  agent_pool_name      = "${var.prefix}-drone-agents"

  agent_user_data = <<-EOT
    #!/bin/bash
    # Drone runner: named after the instance id (the scaler's AGENT_NAME=instance-id),
    # AGENTS_PER_INSTANCE stages at a time
    set -euo pipefail
    dnf install -y docker
    systemctl enable --now docker
    imds() {
      token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
      curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/$1"
    }
    instance_id=$(imds meta-data/instance-id)
    region=$(imds meta-data/placement/region)
    rpc_secret=$(aws ssm get-parameter --region "$region" --with-decryption \
      --name '${local.rpc_secret_parameter}' --query Parameter.Value --output text)
    server='${coalesce(var.scaler.drone_server, "https://drone.invalid")}'
    cat > /etc/drone-runner.env <<ENV
    DRONE_RPC_PROTO=$${server%%://*}
    DRONE_RPC_HOST=$${server#*://}
    DRONE_RPC_SECRET=$rpc_secret
    DRONE_RUNNER_NAME=$instance_id
    DRONE_RUNNER_CAPACITY=${var.scaler.agents_per_instance}
    DRONE_RUNNER_OS=${var.scaler.drone_os}
    DRONE_RUNNER_ARCH=${var.scaler.drone_arch}
    DRONE_RUNNER_LABELS=${join(",", [for k, v in var.scaler.drone_labels : "${k}:${v}"])}
    ENV
    chmod 600 /etc/drone-runner.env
    cat > /etc/systemd/system/drone-runner.service <<UNIT
    [Unit]
    After=docker.service
    Requires=docker.service
    [Service]
    ExecStartPre=-/usr/bin/docker rm -f drone-runner
    ExecStart=/usr/bin/docker run --rm --name drone-runner --env-file /etc/drone-runner.env -v /var/run/docker.sock:/var/run/docker.sock ${var.agent_pool.runner_image}
    # SIGINT: the runner takes no new stage and exits when the running ones end
    ExecStop=/usr/bin/docker kill --signal=SIGINT drone-runner
    TimeoutStopSec=infinity
    Restart=on-failure
    [Install]
    WantedBy=multi-user.target
    UNIT
    systemctl daemon-reload
    systemctl enable --now drone-runner
  EOT
}

resource "aws_iam_role" "agent" {
  count       = var.create_agent_pool ? 1 : 0
  name        = local.agent_pool_name
  description = "Drone agents of ${var.prefix}: SSM (drains, sessions) and the runner's RPC secret"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "agent_ssm" {
  count      = var.create_agent_pool ? 1 : 0
  role       = aws_iam_role.agent[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_role_policy" "agent_rpc_secret" {
  count = var.create_agent_pool ? 1 : 0
  name  = "${local.agent_pool_name}-rpc-secret"
  role  = aws_iam_role.agent[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadOnlyTheRpcSecret"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(local.rpc_secret_parameter, "/")}"]
    }]
  })
}

resource "aws_iam_instance_profile" "agent" {
  count = var.create_agent_pool ? 1 : 0
  name  = local.agent_pool_name
  role  = aws_iam_role.agent[0].name
  tags  = var.tags
}

resource "aws_launch_template" "agent" {
  count                                = var.create_agent_pool ? 1 : 0
  name                                 = local.agent_pool_name
  description                          = "Drone agents of ${var.prefix}"
  image_id                             = var.agent_pool.image_id
  instance_initiated_shutdown_behavior = "terminate"
  vpc_security_group_ids               = var.agent_pool.security_group_ids
  user_data                            = base64encode(local.agent_user_data)
  update_default_version               = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.agent[0].arn
  }

  metadata_options {
    http_tokens   = "required"
    http_endpoint = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size           = var.agent_pool.root_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = local.agent_pool_name, "devcloud:role" = "drone-agent" })
  }

  tags = var.tags
}

resource "aws_autoscaling_group" "agents" {
  count               = var.create_agent_pool ? 1 : 0
  name                = local.agent_pool_name
  min_size            = 0
  max_size            = var.agent_pool.max_size
  desired_capacity    = 0
  vpc_zone_identifier = var.agent_pool.subnet_ids
  capacity_rebalance  = true
  # NewInstancesProtectedFromScaleIn: the group never picks a victim itself
  protect_from_scale_in = true

  mixed_instances_policy {
    instances_distribution {
      on_demand_base_capacity                  = var.agent_pool.on_demand_base_capacity
      on_demand_percentage_above_base_capacity = 0
      spot_allocation_strategy                 = var.agent_pool.spot_allocation_strategy
    }

    launch_template {
      launch_template_specification {
        launch_template_id = aws_launch_template.agent[0].id
        version            = "$Latest"
      }

      dynamic "override" {
        for_each = var.agent_pool.instance_types
        content {
          instance_type = override.value
        }
      }
    }
  }

  dynamic "tag" {
    for_each = merge(var.tags, { "devcloud:role" = "drone-agent" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    # the scaler owns the desired capacity
    ignore_changes = [desired_capacity]

    precondition {
      condition     = length(var.agent_pool.subnet_ids) > 0
      error_message = "create_agent_pool needs agent_pool.subnet_ids."
    }
  }
}
