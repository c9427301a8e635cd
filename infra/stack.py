"""What every component of a stack shares: the names it gives AWS resources."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi

from infra.settings import Invalid, Problem, boolean, json_value, setting, text

NAME_PREFIX_MAX = 40
"""Leaves room for "-processor" and "-dlq.fifo" within Lambda's 64 and SQS's 80 characters."""

_NAME_PREFIX = re.compile(rf"[A-Za-z0-9_-]{{1,{NAME_PREFIX_MAX}}}")
_RESERVED_PREFIX = re.compile(r"(?i)(aws|ssm)")
"""SSM refuses parameter names whose first segment starts with aws or ssm, in any case."""


MAX_TAGS = 50
"""AWS's limit of tags per resource (SQS, Lambda, IAM, CloudWatch Logs and SSM alike)."""
OWN_TAGS = ("project", "stack")
"""The tags the program sets on every taggable resource."""
_TAG_KEY = re.compile(r"[\w\s+=.:/@-]{1,128}")
_TAG_VALUE = re.compile(r"[\w\s+=.:/@-]{0,256}")


def parse_tags(raw: str) -> tuple[tuple[str, str], ...]:
    """User tags: an object of strings, keys and values as every tagging AWS service takes."""
    value = json_value(raw, "an object of tag names to values", "tags.NAME")
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise Invalid("must be an object of tag names to string values", value)
    problems = []
    for key, tag in value.items():
        if not _TAG_KEY.fullmatch(key) or key.lower().startswith("aws:"):
            problems.append(
                Problem(
                    f"tags.{key}",
                    key,
                    "must be 1-128 letters, digits, spaces or _.:/=+-@ and not start with aws:",
                )
            )
        elif key in OWN_TAGS:
            problems.append(
                Problem(
                    f"tags.{key}",
                    tag,
                    f"is set by the program ({', '.join(OWN_TAGS)} "
                    "name the Pulumi project and stack)",
                )
            )
        elif not _TAG_VALUE.fullmatch(tag):
            problems.append(
                Problem(
                    f"tags.{key}", tag, "must be at most 256 letters, digits, spaces or _.:/=+-@"
                )
            )
    if len(value) + len(OWN_TAGS) > MAX_TAGS:
        problems.append(
            Problem(
                "tags",
                len(value),
                f"at most {MAX_TAGS - len(OWN_TAGS)} tags (AWS allows "
                f"{MAX_TAGS} per resource; the program sets {len(OWN_TAGS)})",
            )
        )
    if problems:
        raise Invalid("has problems", problems=problems)
    return tuple(value.items())


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
    tags: tuple[tuple[str, str], ...] = setting("tags", (), parse_tags)
    """Tags for every taggable resource, beside the project and stack the program sets."""
    protect_data: bool = setting("protectData", False, boolean)
    """Protect what holds messages (both queues) from deletion, so a change that would replace
    them stops at preview instead of losing what they hold."""

    @property
    def resource_tags(self) -> dict[str, str]:
        """What every taggable resource carries: the project, the stack, and the user's tags."""
        return {"project": self.project, "stack": self.stack, **dict(self.tags)}

    def data_options(self, parent: pulumi.Resource) -> pulumi.ResourceOptions:
        """Resource options for a resource holding data (`protectData`)."""
        return pulumi.ResourceOptions(parent=parent, protect=self.protect_data)

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
