"""Which push endpoints the server will ever connect to (SSRF guard, no app imports).

A push subscription's endpoint comes from a browser — for the echo wall, from anyone — and the
job consumer later POSTs to it. So an endpoint must be on a known push service's host
(``DEFAULT_PUSH_HOSTS``, or ``GRIDAPP_PUSH_ALLOWED_HOSTS``), and every address its name resolves
to must be public: loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved,
unspecified, IPv6 ULA and IPv4-mapped/compatible forms of those are refused, unless named in
``GRIDAPP_PUSH_ALLOWED_ADDRESSES`` (a local test push service). The check runs when a browser
subscribes and again when the job connects — on the addresses it then connects to, so a name
that re-resolves to 127.0.0.1 afterwards (DNS rebinding) never gets a connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# Web Push services of the browsers people use: Chrome/Edge/Android (FCM), Firefox (autopush),
# Safari/iOS (Apple), legacy Edge on Windows (WNS).
DEFAULT_PUSH_HOSTS = (
    "fcm.googleapis.com",
    "android.googleapis.com",
    "updates.push.services.mozilla.com",
    "*.push.services.mozilla.com",
    "web.push.apple.com",
    "*.push.apple.com",
    "*.notify.windows.com",
)
LOCAL_TEST_HOSTS = ("127.0.0.1", "localhost", "::1")
LOCAL_TEST_ADDRESSES = ("127.0.0.1/32", "::1/128")
CGNAT = ipaddress.ip_network("100.64.0.0/10")

Resolver = Callable[[str, int], list[str]]


class RefusedEndpoint(OSError):
    """The endpoint is not on an allowed push host, or resolves to a refused address."""


def host_allowed(host: str, patterns: Iterable[str]) -> bool:
    """``*.example.com`` matches any subdomain (not the bare domain); other patterns exactly."""
    host = (host or "").lower().rstrip(".")
    for p in patterns:
        p = p.strip().lower().rstrip(".")
        if not p:
            continue
        if p.startswith("*.") and host.endswith(p[1:]) and len(host) > len(p) - 1:
            return True
        if host == p:
            return True
    return False


def address_refused(ip: str, allowed: Iterable[str] = ()) -> str | None:
    """Why the server must not connect to ``ip``, or None for a public address."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    for net in allowed:
        try:
            if addr in ipaddress.ip_network(net, strict=False):
                return None
        except ValueError:
            continue
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is None and addr in ipaddress.ip_network("::/96"):  # IPv4-compatible
            mapped = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF) if int(addr) > 1 else None
        if mapped is not None:
            return address_refused(str(mapped), allowed)
        if addr in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 of an IPv4 address
            return address_refused(str(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)), allowed)
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_unspecified:
        return "unspecified"
    if isinstance(addr, ipaddress.IPv4Address) and addr in CGNAT:
        return "carrier-grade NAT"
    if addr.is_private or addr.is_reserved or not addr.is_global:
        return "private"
    return None


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class Policy:
    """The allow-lists, read through ``settings()`` at each use (config may change)."""

    def __init__(self, settings: Callable[[], dict], resolver: Resolver = resolve) -> None:
        self.settings = settings
        self.resolver = resolver

    def _lists(self) -> tuple[list[str], list[str], bool]:
        s = self.settings()
        hosts = list(s.get("allowed_hosts") or DEFAULT_PUSH_HOSTS)
        addresses = list(s.get("allowed_addresses") or ())
        local = bool(s.get("allow_local_http"))
        if local:
            hosts += LOCAL_TEST_HOSTS
            addresses += LOCAL_TEST_ADDRESSES
        return hosts, addresses, local

    def url_problem(self, url: str) -> str | None:
        """Why ``url`` may not be a push endpoint (scheme, host, resolved addresses), or None."""
        hosts, addresses, local = self._lists()
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return "bad port"
        host = parts.hostname or ""
        if parts.scheme != "https" and not (
            parts.scheme == "http" and local and host in LOCAL_TEST_HOSTS
        ):
            return "must be an https URL"
        try:
            self.addresses(host, port)
        except RefusedEndpoint as exc:
            return str(exc)
        return None

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``: all of them checked, or RefusedEndpoint."""
        hosts, allowed, _local = self._lists()
        if not host_allowed(host, hosts):
            raise RefusedEndpoint(f"{host} is not a known push service")
        try:
            found = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise RefusedEndpoint(f"{host} does not resolve ({exc})") from None
        if not found:
            raise RefusedEndpoint(f"{host} does not resolve")
        for ip in found:
            why = address_refused(ip, allowed)
            if why:
                raise RefusedEndpoint(f"{host} resolves to a {why} address")
        return found

    def host_problem(self, host: str) -> str | None:
        """For connections through an operator's proxy (which resolves): the host list only."""
        hosts, _allowed, _local = self._lists()
        return None if host_allowed(host, hosts) else f"{host} is not a known push service"
