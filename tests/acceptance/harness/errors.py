"""What a run raises."""


class AcceptanceFailure(AssertionError):
    """The deployed stack did not behave as the program promises."""


class DeadlineExceeded(AcceptanceFailure):
    """A condition did not hold within its deadline."""


class CleanupFailed(Exception):
    """Destroy or stack removal failed after an otherwise passing run: resources may remain."""


class SetupError(Exception):
    """The run could not start (the Pulumi backend refused the stack, the config is invalid)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the run stops, clean-up still runs (a KeyboardInterrupt, so pytest
    ends the session as it does on Ctrl-C)."""
