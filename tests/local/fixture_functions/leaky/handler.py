"""Imports code from outside its own package: must fail locally exactly as on AWS."""

from typing import Any

from local import logs  # the repo's local cloud is not part of this function's package


def handler(event: Any, context: Any) -> Any:
    return logs.__name__
