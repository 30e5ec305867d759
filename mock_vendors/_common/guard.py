"""Who may drive the control plane: same-machine callers, not any web page a browser opens.

Without an admin key the control plane is open to whoever reaches it, which on loopback
should mean "programs on this machine". A browser is the exception: any page it opens can
send a cross-site ``text/plain`` POST (no preflight), or rebind its own DNS name to
127.0.0.1 and then read the answers. So every control-plane call must name a loopback host
(``localhost``, ``*.localhost``, ``127.0.0.0/8``, ``::1``), the address the stack was bound
to or one of ``FLEETSIM_ALLOWED_HOSTS`` in ``Host``; a browser's ``Origin``, when sent, must
name one of those too; and a write that carries a body must say ``application/json`` (which
a cross-site form or ``fetch`` cannot send without a preflight the stack never grants).
The vendor APIs are not affected.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::", "[::]"})


def host_name(host: str) -> str:
    """The name part of a ``Host`` value (no port, no brackets, lower case, no final dot)."""
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        name = host.split(":", 1)[0]
    else:
        name = host  # a bare name, or an IPv6 address without brackets
    return name.rstrip(".")


def is_local_name(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``name`` (see :func:`host_name`) is loopback, or one of ``extra``."""
    if not name:
        return False
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if name in {host_name(e) for e in extra if host_name(e) not in ANY_ADDRESS}:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def refusal(
    method: str,
    host: str,
    origin: str | None,
    mimetype: str,
    has_body: bool,
    allowed: Iterable[str],
) -> tuple[int, str] | None:
    """(status, message) refusing a control-plane call, or None to let it through."""
    allowed = tuple(allowed)
    if not is_local_name(host_name(host), allowed):
        return 403, (
            f"the control plane answers only loopback hosts (localhost, 127.0.0.1, ::1) and "
            f"the bound address, not Host '{host[:100]}'"
        )
    if origin is not None:
        origin_host = urlsplit(origin.strip()).hostname if origin.strip() != "null" else None
        if not origin_host or not is_local_name(host_name(origin_host), allowed):
            return 403, f"the control plane does not answer pages from Origin '{origin[:100]}'"
    if method in WRITE_METHODS and has_body and mimetype != "application/json":
        return 415, (
            "a control-plane call with a body needs Content-Type: application/json, "
            f"not '{mimetype or 'none'}'"
        )
    return None
