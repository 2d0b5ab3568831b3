# The roles' policies as rendered: each allows exactly its function's API
# actions, destructive ones only on resources of their kind carrying the tags
# the function's own filters select by. (tests/terraform also checks the
# action lists against the calls the functions make in the integration tests.)

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  package_dir       = "tests/fixtures"
  slack_webhook_url = "https://hooks.slack.com/services/T0/B0/test"
  drone_token       = "test-token"
  scaler            = { drone_server = "https://drone.example.com", asg_name = "agents" }
}

run "policies" {
  command = apply

  variables {
    terminator = { builder_filters = "tag:devcloud:role=builder,ci-builder;tag:team=*" }
  }

  assert {
    condition = alltrue(flatten([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] : [
      for s in jsondecode(m.policy).Statement : s.Effect == "Allow" && alltrue([for a in s.Action : can(regex("^[a-z0-9-]+:[A-Za-z]+$", a))])
    ]]))
    error_message = "No wildcard action, no Deny games: every action is named."
  }
  assert {
    condition = alltrue(flatten([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] : [
      for s in jsondecode(m.policy).Statement : alltrue([for a in s.Action : can(regex(":(Describe|List)", a))]) if contains(s.Resource, "*")
    ]]))
    error_message = "Only Describe*/List* actions (no resource-level permissions) are allowed on *."
  }
  assert {
    condition = alltrue([for m in [module.stopper[0], module.terminator[0], module.image_pruner[0], module.build_monitor[0], module.scaler[0]] :
      jsondecode(m.policy).Statement[0] == { Sid = "OwnLogGroupOnly", Effect = "Allow", Action = ["logs:CreateLogStream", "logs:PutLogEvents"], Resource = ["arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/mock:*"] }
    ])
    error_message = "Logs go only to the function's own log group."
  }
  assert {
    condition = jsondecode(module.stopper[0].policy).Statement[2] == {
      Sid      = "StopOnlyDevBoxes", Effect = "Allow", Action = ["ec2:StopInstances"]
      Resource = ["arn:aws:ec2:eu-west-1:123456789012:instance/*"]
      Condition = {
        StringLike = { "aws:ResourceTag/devcloud:role" = ["devbox"] }
        Null       = { "aws:ResourceTag/aws:autoscaling:groupName" = ["true"] }
      }
    }
    error_message = "The stopper stops only dev boxes outside Auto Scaling groups: ${module.stopper[0].policy}"
  }
  assert {
    condition = jsondecode(module.terminator[0].policy).Statement[2].Condition.StringLike == {
      "aws:ResourceTag/devcloud:role" = ["builder", "ci-builder"]
      "aws:ResourceTag/team"          = ["*"]
    }
    error_message = "The terminator's tag conditions are built from BUILDER_FILTERS: ${module.terminator[0].policy}"
  }
  assert {
    condition = [for s in jsondecode(module.image_pruner[0].policy).Statement : [s.Action, s.Resource] if !contains(s.Resource, "*") && s.Sid != "OwnLogGroupOnly"] == [
      [["ssm:GetParameter"], ["arn:aws:ssm:eu-west-1:123456789012:parameter/*", "arn:aws:ssm:eu-west-1::parameter/aws/service/*"]],
      [["ec2:DeregisterImage"], ["arn:aws:ec2:eu-west-1::image/*"]],
      [["ec2:CreateTags"], ["arn:aws:ec2:eu-west-1::snapshot/*"]],
      [["ec2:DeleteSnapshot"], ["arn:aws:ec2:eu-west-1::snapshot/*"]],
    ]
    error_message = "The pruner's destructive actions are on images and snapshots: ${module.image_pruner[0].policy}"
  }
  assert {
    condition = [for s in jsondecode(module.image_pruner[0].policy).Statement : s.Condition if s.Sid != "OwnLogGroupOnly" && !contains(s.Resource, "*") && s.Sid != "ReadImageIdParameters"] == [
      { StringLike = { "aws:ResourceTag/devcloud:role" = ["devbox-image"] } },
      { "ForAllValues:StringEquals" = { "aws:TagKeys" = ["devcloud:deregistered-image"] } },
      { Null = { "aws:ResourceTag/devcloud:deregistered-image" = ["false"] } },
    ]
    error_message = "The pruner deregisters only family images, tags snapshots only with its mark and deletes only marked snapshots."
  }
  assert {
    condition = [for s in jsondecode(module.build_monitor[0].policy).Statement : s if contains(s.Action, "ssm:GetParameter") || contains(s.Action, "kms:Decrypt")] == [
      { Sid = "ReadOnlyTheWebhookParameter", Effect = "Allow", Action = ["ssm:GetParameter"], Resource = ["arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/slack-webhook-url"] },
      {
        Sid = "DecryptOnlyTheWebhookThroughSsm", Effect = "Allow", Action = ["kms:Decrypt"], Resource = ["arn:aws:kms:eu-west-1:123456789012:key/*"]
        Condition = { StringEquals = {
          "kms:ViaService"                      = ["ssm.eu-west-1.amazonaws.com"]
          "kms:EncryptionContext:PARAMETER_ARN" = ["arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/slack-webhook-url"]
        } }
      },
    ]
    error_message = "The build monitor reads exactly its webhook parameter, decrypted only through SSM: ${module.build_monitor[0].policy}"
  }
  assert {
    condition = { for s in jsondecode(module.scaler[0].policy).Statement : s.Sid => [s.Resource, try(s.Condition, null)] if s.Sid != "OwnLogGroupOnly" && !contains(s.Resource, "*") && s.Action != ["kms:Decrypt"] } == {
      ScaleOnlyItsGroup = [["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/agents"], null]
      MarkOnlyItsGroupsInstancesAsDraining = [["arn:aws:ec2:eu-west-1:123456789012:instance/*"], {
        StringEquals                = { "aws:ResourceTag/aws:autoscaling:groupName" = ["agents"] }
        "ForAllValues:StringEquals" = { "aws:TagKeys" = ["devcloud:draining-since", "devcloud:drained-from", "devcloud:drain-reason", "devcloud:drain-command"] }
      }]
      TagOnlyItsDrainedInstances = [["arn:aws:ec2:eu-west-1:123456789012:instance/*"], {
        StringEquals                = { "aws:ResourceTag/devcloud:drained-from" = ["agents"] }
        "ForAllValues:StringEquals" = { "aws:TagKeys" = ["devcloud:draining-since", "devcloud:drained-from", "devcloud:drain-reason", "devcloud:drain-command"] }
      }]
      TerminateOnlyItsDrainedInstances = [["arn:aws:ec2:eu-west-1:123456789012:instance/*"], { StringEquals = { "aws:ResourceTag/devcloud:drained-from" = ["agents"] } }]
      DrainWithRunShellScriptOnly      = [["arn:aws:ssm:eu-west-1::document/AWS-RunShellScript"], null]
      DrainOnlyItsGroupsInstances = [["arn:aws:ec2:eu-west-1:123456789012:instance/*"], {
        StringEquals = { "ssm:resourceTag/aws:autoscaling:groupName" = ["agents"] }
      }]
      DrainOnlyItsDrainedInstances = [["arn:aws:ec2:eu-west-1:123456789012:instance/*"], {
        StringEquals = { "ssm:resourceTag/devcloud:drained-from" = ["agents"] }
      }]
      ReadOnlyTheDroneTokenParameter = [["arn:aws:ssm:eu-west-1:123456789012:parameter/devcloud/drone-token"], null]
    }
    error_message = "The scaler acts only on its group, its drained instances, with AWS-RunShellScript, and reads only its token: ${module.scaler[0].policy}"
  }
}

run "a_customer_managed_key" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
  }

  assert {
    condition     = [for s in jsondecode(module.build_monitor[0].policy).Statement : s.Resource if s.Action == ["kms:Decrypt"]] == [["arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"]]
    error_message = "Decrypt is on that key only."
  }
}
