"""The processor's idempotency table: where Powertools records each delivery it processed.

The attribute names and the item actions are those of Powertools' `DynamoDBPersistenceLayer`
with its defaults (aws-powertools/powertools-lambda-python,
`aws_lambda_powertools/utilities/idempotency/persistence/dynamodb.py`): the key `id`, the expiry
`expiration` (epoch seconds, so DynamoDB's TTL deletes done records), and PutItem (claim a key),
UpdateItem (mark it done), DeleteItem (release it when process() fails), GetItem (read a claim
the conditional put did not return). See docs/design.md, "The processor".
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.stack import StackArgs

KEY_ATTRIBUTE = "id"
EXPIRY_ATTRIBUTE = "expiration"
ITEM_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
TABLE_VARIABLE = "IDEMPOTENCY_TABLE"
TTL_VARIABLE = "IDEMPOTENCY_TTL_SECONDS"
"""The processor's environment (read by functions/processor/idempotency.py)."""


def idempotency_table(
    name: str, *, table_name: str, stack: StackArgs, parent: pulumi.Resource
) -> aws.dynamodb.Table:
    """On-demand (the load follows the webhooks), TTL on Powertools' expiry attribute, encrypted
    with the AWS-managed KMS key, and protected like the queues when `protectData` is on."""
    return aws.dynamodb.Table(
        name,
        name=table_name,
        billing_mode="PAY_PER_REQUEST",
        hash_key=KEY_ATTRIBUTE,
        attributes=[{"name": KEY_ATTRIBUTE, "type": "S"}],
        ttl={"attribute_name": EXPIRY_ATTRIBUTE, "enabled": True},
        server_side_encryption={"enabled": True},
        tags=stack.resource_tags,
        opts=stack.data_options(parent),
    )
