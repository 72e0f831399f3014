"""The CloudWatch Logs metric-filter patterns published by the CIS AWS Foundations Benchmark (section 4,
"Monitoring"; AWS Security Hub CloudWatch.1-14 use the same filters), by control number.

4.1 is published as ``{ ($.errorCode ="*UnauthorizedOperation") || ($.errorCode ="AccessDenied*") &&
($.sourceIPAddress!="delivery.logs.amazonaws.com") && ($.eventName!="HeadBucket") }``; its operators are
not parenthesised, so it is written here with the grouping its text intends (as AWS's own baselines do).
"""

PATTERNS = {
    "4.1": '{(($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) && '
           '(($.sourceIPAddress != "delivery.logs.amazonaws.com") && ($.eventName != "HeadBucket"))}',
    "4.2": '{ ($.eventName = "ConsoleLogin") && ($.additionalEventData.MFAUsed != "Yes") }',
    "4.3": '{ $.userIdentity.type = "Root" && $.userIdentity.invokedBy NOT EXISTS && $.eventType != "AwsServiceEvent" }',
    "4.4": "{($.eventName=DeleteGroupPolicy)||($.eventName=DeleteRolePolicy)||($.eventName=DeleteUserPolicy)||"
           "($.eventName=PutGroupPolicy)||($.eventName=PutRolePolicy)||($.eventName=PutUserPolicy)||"
           "($.eventName=CreatePolicy)||($.eventName=DeletePolicy)||($.eventName=CreatePolicyVersion)||"
           "($.eventName=DeletePolicyVersion)||($.eventName=AttachRolePolicy)||($.eventName=DetachRolePolicy)||"
           "($.eventName=AttachUserPolicy)||($.eventName=DetachUserPolicy)||($.eventName=AttachGroupPolicy)||"
           "($.eventName=DetachGroupPolicy)}",
    "4.5": "{ ($.eventName = CreateTrail) || ($.eventName = UpdateTrail) || ($.eventName = DeleteTrail) || "
           "($.eventName = StartLogging) || ($.eventName = StopLogging) }",
    "4.6": '{ ($.eventName = ConsoleLogin) && ($.errorMessage = "Failed authentication") }',
    "4.7": "{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion)) }",
    "4.8": "{ ($.eventSource = s3.amazonaws.com) && (($.eventName = PutBucketAcl) || ($.eventName = PutBucketPolicy) || "
           "($.eventName = PutBucketCors) || ($.eventName = PutBucketLifecycle) || ($.eventName = PutBucketReplication) || "
           "($.eventName = DeleteBucketPolicy) || ($.eventName = DeleteBucketCors) || ($.eventName = DeleteBucketLifecycle) || "
           "($.eventName = DeleteBucketReplication)) }",
    "4.9": "{ ($.eventSource = config.amazonaws.com) && (($.eventName=StopConfigurationRecorder)||"
           "($.eventName=DeleteDeliveryChannel) ||($.eventName=PutDeliveryChannel)||($.eventName=PutConfigurationRecorder)) }",
    "4.10": "{ ($.eventName = AuthorizeSecurityGroupIngress) || ($.eventName = AuthorizeSecurityGroupEgress) || "
            "($.eventName = RevokeSecurityGroupIngress) || ($.eventName = RevokeSecurityGroupEgress) || "
            "($.eventName = CreateSecurityGroup) || ($.eventName = DeleteSecurityGroup) }",
    "4.11": "{ ($.eventName = CreateNetworkAcl) || ($.eventName = CreateNetworkAclEntry) || ($.eventName = DeleteNetworkAcl) || "
            "($.eventName = DeleteNetworkAclEntry) || ($.eventName = ReplaceNetworkAclEntry) || "
            "($.eventName = ReplaceNetworkAclAssociation) }",
    "4.12": "{ ($.eventName = CreateCustomerGateway) || ($.eventName = DeleteCustomerGateway) || "
            "($.eventName = AttachInternetGateway) || ($.eventName = CreateInternetGateway) || "
            "($.eventName = DeleteInternetGateway) || ($.eventName = DetachInternetGateway) }",
    "4.13": "{($.eventSource = ec2.amazonaws.com) && (($.eventName = CreateRoute) || ($.eventName = CreateRouteTable) || "
            "($.eventName = ReplaceRoute) || ($.eventName = ReplaceRouteTableAssociation) || ($.eventName = DeleteRouteTable) || "
            "($.eventName = DeleteRoute) || ($.eventName = DisassociateRouteTable)) }",
    "4.14": "{ ($.eventName = CreateVpc) || ($.eventName = DeleteVpc) || ($.eventName = ModifyVpcAttribute) || "
            "($.eventName = AcceptVpcPeeringConnection) || ($.eventName = CreateVpcPeeringConnection) || "
            "($.eventName = DeleteVpcPeeringConnection) || ($.eventName = RejectVpcPeeringConnection) || "
            "($.eventName = AttachClassicLinkVpc) || ($.eventName = DetachClassicLinkVpc) || "
            "($.eventName = DisableVpcClassicLink) || ($.eventName = EnableVpcClassicLink) }",
    "4.15": '{ ($.eventSource = organizations.amazonaws.com) && (($.eventName = "AcceptHandshake") || '
            '($.eventName = "AttachPolicy") || ($.eventName = "CreateAccount") || ($.eventName = "CreateOrganizationalUnit") || '
            '($.eventName = "CreatePolicy") || ($.eventName = "DeclineHandshake") || ($.eventName = "DeleteOrganization") || '
            '($.eventName = "DeleteOrganizationalUnit") || ($.eventName = "DeletePolicy") || ($.eventName = "DetachPolicy") || '
            '($.eventName = "DisablePolicyType") || ($.eventName = "EnablePolicyType") || '
            '($.eventName = "InviteAccountToOrganization") || ($.eventName = "LeaveOrganization") || '
            '($.eventName = "MoveAccount") || ($.eventName = "RemoveAccountFromOrganization") || '
            '($.eventName = "UpdatePolicy") || ($.eventName = "UpdateOrganizationalUnit")) }',
}
