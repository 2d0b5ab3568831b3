# Least privilege: each function's role allows exactly the API actions the
# function calls (tests/terraform checks them against the calls recorded in the
# integration tests). No wildcard actions; Describe*/List* on "*" (they have no
# resource-level permissions); destructive actions on resource ARNs of their
# kind, limited by the resource tags the function's own filters select by.

locals {
  arn_instances = "arn:${local.partition}:ec2:${local.region}:${local.account}:instance/*"
  # images and snapshots have no account in their ARN
  arn_images    = "arn:${local.partition}:ec2:${local.region}::image/*"
  arn_snapshots = "arn:${local.partition}:ec2:${local.region}::snapshot/*"

  # the parameters' ARNs (a name starting with "/" keeps it after "parameter")
  param_arn = {
    for k, name in {
      slack_webhook = local.slack_webhook_parameter
      drone_token   = local.drone_token_parameter
    } : k => "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/${trimprefix(name, "/")}"
  }

  # kms:Decrypt of a SecureString happens only through SSM, for that parameter
  kms_keys = [coalesce(var.kms_key_arn, "arn:${local.partition}:kms:${local.region}:${local.account}:key/*")]
  via_ssm  = { test = "StringEquals", variable = "kms:ViaService", values = ["ssm.${local.region}.amazonaws.com"] }

  asg_arn = "arn:${local.partition}:autoscaling:${local.region}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${coalesce(local.asg_name, "-")}"

  # the scaler's drain mark: the time the drain began, the group it leaves (what the
  # reaper and these conditions look for), why, and the SSM command of the drain
  draining_tag     = "devcloud:draining-since"
  drained_from_tag = "devcloud:drained-from"
  drain_tags       = [local.draining_tag, local.drained_from_tag, "devcloud:drain-reason", "devcloud:drain-command"]
  scaler_group     = coalesce(local.asg_name, "-")
  # the image pruner's mark on the snapshots of an image it deregisters
  deregistered_tag = "devcloud:deregistered-image"

  policy = {
    stopper = [
      {
        sid       = "ListInstances"
        actions   = ["ec2:DescribeInstances"]
        resources = ["*"]
      },
      {
        sid       = "StopOnlyDevBoxes"
        actions   = ["ec2:StopInstances"]
        resources = [local.arn_instances]
        conditions = concat(local.tag_conditions.stopper, [
          # never a member of an Auto Scaling group (the group would replace it)
          { test = "Null", variable = "aws:ResourceTag/aws:autoscaling:groupName", values = ["true"] },
        ])
      },
    ]

    terminator = [
      {
        sid       = "ListInstances"
        actions   = ["ec2:DescribeInstances"]
        resources = ["*"]
      },
      {
        sid       = "TerminateOnlyBuilders"
        actions   = ["ec2:TerminateInstances"]
        resources = [local.arn_instances]
        conditions = concat(local.tag_conditions.terminator, [
          { test = "Null", variable = "aws:ResourceTag/aws:autoscaling:groupName", values = ["true"] },
        ])
      },
    ]

    image_pruner = [
      {
        sid = "ListImagesAndWhatUsesThem"
        actions = [
          "ec2:DescribeImages",
          "ec2:DescribeInstances",
          "ec2:DescribeLaunchTemplateVersions",
          "ec2:DescribeSnapshots",
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeLaunchConfigurations",
        ]
        resources = ["*"]
      },
      {
        # launch templates naming their image as resolve:ssm:<parameter>
        sid     = "ReadImageIdParameters"
        actions = ["ssm:GetParameter"]
        resources = coalesce(var.image_pruner.image_parameter_arns, [
          "arn:${local.partition}:ssm:${local.region}:${local.account}:parameter/*",
          "arn:${local.partition}:ssm:${local.region}::parameter/aws/service/*",
        ])
      },
      {
        sid        = "DeregisterOnlyFamilyImages"
        actions    = ["ec2:DeregisterImage"]
        resources  = [local.arn_images]
        conditions = local.tag_conditions.image_pruner
      },
      {
        # before deregistering, the pruner marks the image's snapshots, so a
        # later run finishes deleting them if this one is cut short
        sid       = "MarkSnapshotsOfDeregisteredImages"
        actions   = ["ec2:CreateTags"]
        resources = [local.arn_snapshots]
        conditions = [
          { test = "ForAllValues:StringEquals", variable = "aws:TagKeys", values = [local.deregistered_tag] },
        ]
      },
      {
        sid       = "DeleteOnlyMarkedSnapshots"
        actions   = ["ec2:DeleteSnapshot"]
        resources = [local.arn_snapshots]
        conditions = [
          { test = "Null", variable = "aws:ResourceTag/${local.deregistered_tag}", values = ["false"] },
        ]
      },
    ]

    build_monitor = [
      {
        sid       = "ListImagesAndBuilders"
        actions   = ["ec2:DescribeImages", "ec2:DescribeInstances"]
        resources = ["*"]
      },
      {
        sid       = "ReadOnlyTheWebhookParameter"
        actions   = ["ssm:GetParameter"]
        resources = [local.param_arn.slack_webhook]
      },
      {
        sid       = "DecryptOnlyTheWebhookThroughSsm"
        actions   = ["kms:Decrypt"]
        resources = local.kms_keys
        conditions = [local.via_ssm,
          { test = "StringEquals", variable = "kms:EncryptionContext:PARAMETER_ARN", values = [local.param_arn.slack_webhook] },
        ]
      },
    ]

    scaler = [
      {
        sid = "ListGroupInstancesAndCommands"
        actions = [
          "autoscaling:DescribeAutoScalingGroups",
          "ec2:DescribeInstances",
          "ssm:DescribeInstanceInformation",
          "ssm:ListCommandInvocations",
        ]
        resources = ["*"]
      },
      {
        sid = "ScaleOnlyItsGroup"
        actions = [
          "autoscaling:CreateOrUpdateTags",
          "autoscaling:DetachInstances",
          "autoscaling:SetDesiredCapacity",
          "autoscaling:SetInstanceHealth",
        ]
        resources = [local.asg_arn]
      },
      {
        sid       = "MarkOnlyItsGroupsInstancesAsDraining"
        actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
        resources = [local.arn_instances]
        conditions = [
          { test = "StringEquals", variable = "aws:ResourceTag/aws:autoscaling:groupName", values = [local.scaler_group] },
          { test = "ForAllValues:StringEquals", variable = "aws:TagKeys", values = local.drain_tags },
        ]
      },
      {
        # once detached, an instance is known by the mark it got while a member
        sid       = "TagOnlyItsDrainedInstances"
        actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
        resources = [local.arn_instances]
        conditions = [
          { test = "StringEquals", variable = "aws:ResourceTag/${local.drained_from_tag}", values = [local.scaler_group] },
          { test = "ForAllValues:StringEquals", variable = "aws:TagKeys", values = local.drain_tags },
        ]
      },
      {
        sid       = "TerminateOnlyItsDrainedInstances"
        actions   = ["ec2:TerminateInstances"]
        resources = [local.arn_instances]
        conditions = [
          { test = "StringEquals", variable = "aws:ResourceTag/${local.drained_from_tag}", values = [local.scaler_group] },
        ]
      },
      {
        sid       = "DrainWithRunShellScriptOnly"
        actions   = ["ssm:SendCommand"]
        resources = ["arn:${local.partition}:ssm:${local.region}::document/AWS-RunShellScript"]
      },
      {
        sid       = "DrainOnlyItsGroupsInstances"
        actions   = ["ssm:SendCommand"]
        resources = [local.arn_instances]
        conditions = [
          { test = "StringEquals", variable = "ssm:resourceTag/aws:autoscaling:groupName", values = [local.scaler_group] },
        ]
      },
      {
        # the drain of an instance already detached (the scaler detaches, then drains)
        sid       = "DrainOnlyItsDrainedInstances"
        actions   = ["ssm:SendCommand"]
        resources = [local.arn_instances]
        conditions = [
          { test = "StringEquals", variable = "ssm:resourceTag/${local.drained_from_tag}", values = [local.scaler_group] },
        ]
      },
      {
        sid       = "ReadOnlyTheDroneTokenParameter"
        actions   = ["ssm:GetParameter"]
        resources = [local.param_arn.drone_token]
      },
      {
        sid       = "DecryptOnlyTheDroneTokenThroughSsm"
        actions   = ["kms:Decrypt"]
        resources = local.kms_keys
        conditions = [local.via_ssm,
          { test = "StringEquals", variable = "kms:EncryptionContext:PARAMETER_ARN", values = [local.param_arn.drone_token] },
        ]
      },
    ]
  }
}
