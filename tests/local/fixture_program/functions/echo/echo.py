"""Echoes its event; /boom raises, /slow outlives the 1 s timeout, /env shows the environment."""

import os
import time


def handler(event, context):
    path = event.get("rawPath")
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/slow":
        time.sleep(3)
    if path == "/env":
        return {"greeting": os.environ.get("GREETING"), "token": os.environ.get("TOKEN")}
    return event
