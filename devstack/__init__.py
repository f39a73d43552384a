"""newswire's services as real processes for the tests, the fault suite and the benchmark (dev only).

Run from the repository root (``services.cli`` is started with the repo as its working directory);
not shipped in the wheel.
"""

from devstack.process import REPO_ROOT, ServiceProcess
from devstack.stack import SERVICES, Stack, environ_without_settings, wait_for

__all__ = ["REPO_ROOT", "SERVICES", "ServiceProcess", "Stack", "environ_without_settings", "wait_for"]
