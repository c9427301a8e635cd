"""A stand-in `pulumi` executable for the Automation API adapter's test.

It answers the handful of commands the adapter makes the SDK run (`version`, `stack init`,
`config set-all`, `up`, `stack output`, `stack history`, `destroy`, `stack rm`) the way the
real CLI prints them, and records each call's arguments as one JSON line in
$FAKE_PULUMI_LOG. $FAKE_PULUMI_FAIL names a command ("stack init", "destroy", ...) that fails
with exit status 255 and $FAKE_PULUMI_ERROR on stderr, as the CLI fails.
"""

import json
import os
import sys

OUTPUTS = {
    "listener_url": "https://abc.lambda-url.us-east-1.on.aws/",
    "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/accept",
    "api_token": "[secret]",
}
PLAINTEXT = {**OUTPUTS, "api_token": "s3cret-output"}
HISTORY = [
    {
        "kind": "update",
        "startTime": "2026-12-01T07:00:00.000000Z",
        "endTime": "2026-12-01T07:01:30.000000Z",
        "message": "",
        "environment": {},
        "config": {},
        "result": "succeeded",
        "version": 1,
    }
]


def command_of(args: list[str]) -> str:
    """`stack init NAME` -> "stack init"; `up --yes` -> "up"."""
    words = [arg for arg in args if not arg.startswith("-")]
    if words[:1] in (["stack"], ["config"]):
        return " ".join(words[:2])
    return words[0] if words else ""


def main() -> int:
    args = [arg for arg in sys.argv[1:] if arg != "--non-interactive"]
    command = command_of(args)
    with open(os.environ["FAKE_PULUMI_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"command": command, "args": args}) + "\n")
    if command == os.environ.get("FAKE_PULUMI_FAIL"):
        print(os.environ.get("FAKE_PULUMI_ERROR", "error: failed"), file=sys.stderr)
        return 255
    if command == "version":
        print("v3.200.0")
    elif command == "up":
        print("Updating (accept)")
        print("Resources:\n    + 25 created")
    elif command == "destroy":
        print("Destroying (accept)")
    elif command == "stack output":
        print(json.dumps(PLAINTEXT if "--show-secrets" in args else OUTPUTS))
    elif command == "stack history":
        print(json.dumps(HISTORY))
    return 0


if __name__ == "__main__":
    sys.exit(main())
