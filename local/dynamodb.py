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


MOTO_MAJOR = "5."
"""The moto line `teach_table_resources` was written against (its DynamoHandler)."""


def teach_table_resources() -> None:
    """moto checks DynamoDB calls against resource "*", so a policy scoped to one table's ARN
    (as the processor's is) would deny every item call; name the table's ARN as AWS does.
    Runs in the embedded AWS's process, before IAM is enforced."""
    import moto
    from moto.dynamodb.responses import DynamoHandler

    if not moto.__version__.startswith(MOTO_MAJOR):
        raise RuntimeError(
            f"local/dynamodb.py patches moto {MOTO_MAJOR}x's DynamoHandler; moto "
            f"{moto.__version__} is installed: check the patch before raising the pin"
        )

    def determine_resource(self: DynamoHandler) -> str:
        name = self._get_param("TableName")
        if not isinstance(name, str) or not name:
            return "*"
        if name.startswith("arn:"):
            return name
        return f"arn:aws:dynamodb:{self.region}:{self.current_account}:table/{name}"

    DynamoHandler._determine_resource = determine_resource  # type: ignore[attr-defined]
