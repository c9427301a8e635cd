"""State shared by the parts of one benchmark run: counts, progress, the embedded AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from bench.common import DUMMY_CREDENTIALS, REGION, Progress
from local.moto_server import EmbeddedAws


@dataclass
class Context:
    """Passed to every part; `quick` asks for tiny counts (smoke tests), not meaningful figures."""

    quick: bool = False
    progress: Progress = field(default_factory=Progress)
    _aws: EmbeddedAws | None = None

    def count(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def endpoint_url(self) -> str:
        """The embedded moto server (a child process on 127.0.0.1), started on first use."""
        if self._aws is None:
            self.progress("starting the embedded moto server")
            self._aws = EmbeddedAws()
        return self._aws.endpoint_url

    def sqs_client(self, config: Config | None = None, endpoint_url: str | None = None) -> Any:
        """A client of its own session (boto3's default session is not thread-safe)."""
        return boto3.session.Session().client(
            "sqs",
            region_name=REGION,
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=DUMMY_CREDENTIALS["AWS_SESSION_TOKEN"],
            config=config,
        )

    def close(self) -> None:
        if self._aws is not None:
            self._aws.stop()
            self._aws = None
