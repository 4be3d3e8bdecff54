"""Where a result download may go: never to a link-local or cloud-metadata address, and into the user's own
machine or private network only when the API itself lives there.

A result URL comes from the server's answer, so a hostile or confused relay could point it (or a redirect) at
``169.254.169.254`` and have the notebook fetch cloud credentials into the history, or at a service on the user's
machine or LAN (a Jupyter server, a router's admin page) that a GET may act on. Loopback and private networks stay
allowed when the API is there too: self-hosted relays and the simulator live there (and a proxy that answers every
name with a private address, such as a fake-IP DNS, puts the API there as well).
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


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``host`` as an IP address when it is a literal (an IPv4-mapped IPv6 one as its IPv4), else None."""
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def blocked_address(host: str) -> bool:
    """Whether ``host`` (an IP literal) is in a blocked network (IPv4-mapped IPv6 included)."""
    ip = _ip(host)
    return ip is not None and any(ip in net for net in BLOCKED_NETWORKS)


def local_address(host: str) -> bool:
    """Whether ``host`` (an IP literal) is loopback or private (IPv4-mapped IPv6 included)."""
    ip = _ip(host)
    return ip is not None and (ip.is_loopback or ip.is_private)


def _local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


async def _addresses(host: str, port: int) -> list[str]:
    """What ``host`` resolves to ([] when it does not: the request itself will say so)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [str(info[4][0]) for info in infos]


async def _is_local(url: httpx.URL, *, resolve: bool) -> bool:
    """Whether ``url``'s host is this machine or a private network: by its literal or name, else (``resolve``)
    by what it resolves to."""
    host = (url.host or "").lower().rstrip(".")
    if not host:
        return False
    if local_address(host) or _local_name(host):
        return True
    if _ip(host) is not None:
        return False  # a public literal
    return resolve and any(local_address(a) for a in await _addresses(host, url.port or 443))


class ApiPlace:
    """Whether the API is on this machine or a private network, found out once: one per download, so its name is
    resolved at most once however many redirect hops or retries lead into a private network."""

    def __init__(self, url: httpx.URL, *, resolve: bool) -> None:
        self.url = url
        self.host = (url.host or "").lower().rstrip(".")
        self._resolve = resolve
        self._local: bool | None = None

    async def is_local(self) -> bool:
        if self._local is None:
            self._local = await _is_local(self.url, resolve=self._resolve)
        return self._local


def _refused(url: httpx.URL, why: str) -> DownloadError:
    return DownloadError(
        f"Refused to download from {url.scheme}://{url.host}{url.path}: {why}.",
        hint="Result URLs must point at the API host or a public file host; this answer may come from a "
        "misconfigured or hostile relay.",
    )


async def check_download_host(url: httpx.URL, *, resolve: bool, api: httpx.URL | ApiPlace | None = None) -> None:
    """Raise :class:`DownloadError` when ``url`` points (or, with ``resolve``, resolves) to a blocked address, or
    (given the ``api`` base URL, or the download's :class:`ApiPlace`) into a private network or this machine while
    the API is not there itself."""
    host = (url.host or "").lower().rstrip(".")
    if host in BLOCKED_NAMES:
        raise _refused(url, "that is a cloud metadata service")
    if blocked_address(host):
        raise _refused(url, "that is a link-local or metadata address")
    if not host:
        return
    literal = _ip(host) is not None
    addresses = await _addresses(host, url.port or 443) if resolve and not literal else []
    if any(blocked_address(a) for a in addresses):
        raise _refused(url, "its name resolves to a link-local or metadata address")
    place = ApiPlace(api, resolve=resolve) if isinstance(api, httpx.URL) else api
    if place is None or place.host == host:
        return  # the API host itself (its own files) is never refused for where it lives
    if not (local_address(host) or _local_name(host) or any(local_address(a) for a in addresses)):
        return
    if await place.is_local():
        return
    raise _refused(url, f"that is a private or loopback address, and the API ({place.url.host}) is not on a "
                        "private network")
