"""Where a result download may go: never to a link-local or cloud-metadata address.

A result URL comes from the server's answer, so a hostile or confused relay could point it (or a redirect) at
``169.254.169.254`` and have the notebook fetch cloud credentials into the history. Loopback and private
networks stay allowed: self-hosted relays and the simulator live there.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import httpx

from ..errors import DownloadError

#: Networks a download must never reach: link-local (cloud metadata lives at 169.254.169.254), IPv6
#: link-local and unique-local (fd00::/8, where some clouds put metadata), and the unspecified address.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("169.254.0.0/16", "fe80::/10", "fc00::/7", "0.0.0.0/32", "::/128", "100.100.100.200/32")
)
#: Metadata services reached by name.
BLOCKED_NAMES = frozenset({"metadata.google.internal", "metadata", "metadata.azure.com"})


def blocked_address(host: str) -> bool:
    """Whether ``host`` (an IP literal) is in a blocked network (IPv4-mapped IPv6 included)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in BLOCKED_NETWORKS)


def _refused(url: httpx.URL, why: str) -> DownloadError:
    return DownloadError(
        f"Refused to download from {url.scheme}://{url.host}{url.path}: {why}.",
        hint="Result URLs must point at the API host or a public file host; this answer may come from a "
        "misconfigured or hostile relay.",
    )


async def check_download_host(url: httpx.URL, *, resolve: bool) -> None:
    """Raise :class:`DownloadError` when ``url`` points (or, with ``resolve``, resolves) to a blocked address."""
    host = (url.host or "").lower().rstrip(".")
    if host in BLOCKED_NAMES:
        raise _refused(url, "that is a cloud metadata service")
    if blocked_address(host):
        raise _refused(url, "that is a link-local or metadata address")
    if not resolve or not host:
        return
    try:
        ipaddress.ip_address(host.strip("[]"))
        return  # a literal, checked above
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, url.port or 443, type=socket.SOCK_STREAM)
    except OSError:
        return  # the request itself will say that the name does not resolve
    if any(blocked_address(str(info[4][0])) for info in infos):
        raise _refused(url, "its name resolves to a link-local or metadata address")
