"""A Docker Engine as an image source and destination, over its HTTP API.

`docker-daemon:NAME` names an image in the Engine; `is_daemon_ref` tells such a name
from a store's, and is all a command needs to know before it uses the Engine (this
package's modules are imported only then).
"""

PREFIX = "docker-daemon:"


def is_daemon_ref(text: str) -> bool:
    """Whether `text` is `docker-daemon:NAME`."""
    return text.startswith(PREFIX)
