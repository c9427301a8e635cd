"""Components and typed stack configuration of async-webhook.

Importing this package declares nothing: only `__main__.py` instantiates components.
"""

from infra.config import ConfigError, Settings, load_settings
from infra.consumer import Consumer, ConsumerArgs
from infra.listener import Listener, ListenerArgs
from infra.python_function import FunctionSettings, PythonFunction, PythonFunctionArgs
from infra.queue import Queue, QueueArgs

__all__ = [
    "ConfigError",
    "Consumer",
    "ConsumerArgs",
    "FunctionSettings",
    "Listener",
    "ListenerArgs",
    "PythonFunction",
    "PythonFunctionArgs",
    "Queue",
    "QueueArgs",
    "Settings",
    "load_settings",
]
