"""Whether the acceptance test can run here, and if not, exactly what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence

SWITCH = "ASYNC_WEBHOOK_ACCEPTANCE"
"""Set to 1 to run the acceptance test (it creates and bills AWS resources)."""

METADATA_PROVIDERS = ("container-role", "iam-role")
"""botocore's credential providers that call a metadata endpoint over the network."""


def credentials_problem(*, full_chain: bool) -> str | None:
    """Why boto3 finds no AWS credentials, or None when it finds some.

    Without `full_chain`, the providers that ask instance or container metadata endpoints are
    left out: they are network calls (with timeouts) that a test run must not make unless the
    acceptance test is switched on.
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError

    chain = "boto3's credential chain" + ("" if full_chain else " without instance metadata")
    try:
        resolver = botocore.session.get_session().get_component("credential_provider")
        if not full_chain:
            for name in METADATA_PROVIDERS:
                resolver.remove(name)
        credentials = resolver.load_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        return f"{chain} fails: {exc}"
    return None if credentials is not None else f"{chain} finds no AWS credentials"


def missing_prerequisites(
    environ: Mapping[str, str],
    *,
    which: Callable[[str], str | None] = shutil.which,
    credentials: Callable[..., str | None] = credentials_problem,
) -> list[str]:
    """What stops the acceptance test from running here, one entry per missing prerequisite."""
    missing = []
    switched_on = environ.get(SWITCH) == "1"
    if not switched_on:
        value = environ.get(SWITCH)
        shown = "unset" if value is None else f"it is {value!r}"
        missing.append(f"{SWITCH}=1 is not set ({shown}; `make acceptance` sets it)")
    if which("pulumi") is None:
        missing.append("the Pulumi CLI is not on PATH (https://www.pulumi.com/docs/install/)")
    problem = credentials(full_chain=switched_on)
    if problem is not None:
        missing.append(problem)
    return missing


def skip_reason(missing: Sequence[str]) -> str:
    return "acceptance test on AWS not run: " + "; ".join(missing)
