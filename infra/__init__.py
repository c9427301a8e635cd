"""Components and typed stack configuration of async-webhook.

Importing this package declares nothing: only `__main__.py` instantiates components.
"""

from infra.config import StackConfig, load_config, parse_config
from infra.consumer import Consumer, ConsumerArgs
from infra.listener import Listener, ListenerArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.python_function import PythonFunction, PythonFunctionArgs, RuntimeArgs
from infra.queue import Queue, QueueArgs
from infra.settings import ConfigError, Problem
from infra.stack import StackArgs

__all__ = [
    "ConfigError",
    "Consumer",
    "ConsumerArgs",
    "Listener",
    "ListenerArgs",
    "Monitoring",
    "MonitoringArgs",
    "Problem",
    "PythonFunction",
    "PythonFunctionArgs",
    "Queue",
    "QueueArgs",
    "RuntimeArgs",
    "StackArgs",
    "StackConfig",
    "load_config",
    "parse_config",
]
