"""DynamoDB tables in the local cloud: created in the embedded moto as the program declares them.

The processor's idempotency table (`idempotency: true`, infra/idempotency.py) is the one the
program declares; any table with a hash key (and optionally a range key), on-demand or
provisioned, TTL and encryption settings is created the same way. See docs/design.md, "The
local cloud".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi

TableHandler = Callable[
    [pulumi.runtime.MockResourceArgs, dict[str, Any]], tuple[str, dict[str, Any]]
]


def table_handler(client: Callable[[str], Any], autoname: Callable[[str], str]) -> TableHandler:
    """The provider's handler for `aws:dynamodb/table:Table`: `client(service)` gives a client of
    the embedded AWS with the deployer's keys, `autoname` names a table the program left
    unnamed, as Pulumi would."""

    def create(
        args: pulumi.runtime.MockResourceArgs, i: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        name = i.get("name") or autoname(args.name)
        dynamodb = client("dynamodb")
        schema = [{"AttributeName": i["hashKey"], "KeyType": "HASH"}]
        if i.get("rangeKey"):
            schema.append({"AttributeName": i["rangeKey"], "KeyType": "RANGE"})
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": schema,
            "AttributeDefinitions": [
                {"AttributeName": a["name"], "AttributeType": a["type"]}
                for a in i.get("attributes") or []
            ],
        }
        if (i.get("billingMode") or "PROVISIONED") == "PAY_PER_REQUEST":
            request["BillingMode"] = "PAY_PER_REQUEST"
        else:
            request["ProvisionedThroughput"] = {
                "ReadCapacityUnits": int(i.get("readCapacity") or 1),
                "WriteCapacityUnits": int(i.get("writeCapacity") or 1),
            }
        encryption = i.get("serverSideEncryption") or {}
        if encryption.get("enabled"):
            request["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}
        tags = i.get("tags") or {}
        if tags:
            request["Tags"] = [{"Key": k, "Value": str(v)} for k, v in tags.items()]
        table = dynamodb.create_table(**request)["TableDescription"]
        ttl = i.get("ttl") or {}
        if ttl.get("enabled") and ttl.get("attributeName"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
            )
        return name, {"name": name, "arn": table["TableArn"], "id": name}

    return create
