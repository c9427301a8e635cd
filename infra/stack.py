"""What every component of a stack shares: the names it gives AWS resources."""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.settings import Problem, setting, text

NAME_PREFIX_MAX = 40
"""Leaves room for "-processor" and "-dlq.fifo" within Lambda's 64 and SQS's 80 characters."""

_NAME_PREFIX = re.compile(rf"[A-Za-z0-9_-]{{1,{NAME_PREFIX_MAX}}}")
_RESERVED_PREFIX = re.compile(r"(?i)(aws|ssm)")
"""SSM refuses parameter names whose first segment starts with aws or ssm, in any case."""


def default_name_prefix(project: str, stack: str) -> str:
    """`<project>-<stack>`, with characters Lambda and SQS names reject replaced by `-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "-", f"{project}-{stack}")
    return cleaned[:NAME_PREFIX_MAX].rstrip("-_") or "webhook"


@dataclass(frozen=True, kw_only=True)
class StackArgs:
    """The stack's identity, as the components name and label what they create."""

    project: str
    """The Pulumi project's name (from Pulumi, never written in code)."""
    stack: str
    """The Pulumi stack's name."""
    name_prefix: str | None = setting(
        "namePrefix",
        None,
        text(
            _NAME_PREFIX,
            f"must be 1-{NAME_PREFIX_MAX} characters of letters, digits, '-' and '_'",
        ),
    )
    """Prefix of every physical name (functions, queues, log groups, parameters)."""

    @property
    def prefix(self) -> str:
        return self.name_prefix or default_name_prefix(self.project, self.stack)

    def parameter_name(self, *parts: str) -> str:
        """An SSM parameter name under the stack's own path, `/<prefix>/<part>/...`."""
        return "/" + "/".join((self.prefix, *parts))

    def problems(self) -> list[Problem]:
        found = []
        if _RESERVED_PREFIX.match(self.prefix):
            found.append(
                Problem(
                    "namePrefix",
                    self.prefix,
                    "must not start with 'aws' or 'ssm' (in any case): SSM refuses parameter "
                    "names under such a path",
                )
            )
        return found
