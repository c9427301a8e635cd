"""Errors that end a command with a one-line message instead of a traceback."""


class OpsError(Exception):
    """The operation failed (a non-200, an unreachable URL, an AWS error): exit status 1."""

    exit_code = 1


class UsageError(OpsError):
    """Bad input or missing configuration, found before anything was sent: exit status 2."""

    exit_code = 2
