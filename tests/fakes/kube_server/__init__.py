"""A Kubernetes API test server: the real REST protocol, simulated controllers.

See README.md for what it implements and what it does not.
"""

from .server import KubeServer, RequestRecord

__all__ = ["KubeServer", "RequestRecord"]
