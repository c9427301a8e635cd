"""Fixture: the same small handler deployed once per code archive shape.

Archive files (code.zip, code.jar, code.tar, code.tgz, code.tar.gz) are built by the test
next to this program before it runs; they hold functions/shape.
"""

import json

import pulumi
import pulumi_aws as aws

role = aws.iam.Role(
    "role",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    ),
)

INLINE = """
def handler(event, context):
    return {"shape": "inline", "event": event}
"""

shapes = {
    "folder": pulumi.FileArchive("functions/shape"),
    "dot": pulumi.AssetArchive({".": pulumi.FileArchive("./functions/shape")}),
    "assets": pulumi.AssetArchive({"handler.py": pulumi.FileAsset("functions/shape/handler.py")}),
    "inline": pulumi.AssetArchive({"handler.py": pulumi.StringAsset(INLINE)}),
    # Files from two folders under their own paths, as infra/packaging.py bundles dependencies.
    "split": pulumi.AssetArchive(
        {
            "handler.py": pulumi.FileAsset("functions/shape/handler.py"),
            "helpers/__init__.py": pulumi.FileAsset("functions/lib/helpers/__init__.py"),
            "helpers/greet.py": pulumi.FileAsset("functions/lib/helpers/greet.py"),
        }
    ),
    "nested": pulumi.AssetArchive(
        {
            ".": pulumi.FileArchive("functions/shape"),
            "helpers": pulumi.FileArchive("functions/lib/helpers"),
            "settings.json": pulumi.StringAsset('{"mode": "nested"}'),
        }
    ),
    "zip": pulumi.FileArchive("code.zip"),
    "jar": pulumi.FileArchive("code.jar"),
    "tar": pulumi.FileArchive("code.tar"),
    "tgz": pulumi.FileArchive("code.tgz"),
    "targz": pulumi.FileArchive("code.tar.gz"),
}

for shape, code in shapes.items():
    function = aws.lambda_.Function(
        shape,
        name=f"archive-{shape}",
        role=role.arn,
        runtime="python3.13",
        handler="handler.handler",
        code=code,
    )
    pulumi.export(shape, function.name)
