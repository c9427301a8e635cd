"""Fixture: declares a queue, then a type the local cloud cannot emulate."""

import pulumi_aws as aws

aws.sqs.Queue("fine")
aws.s3.Bucket("not-emulated")
