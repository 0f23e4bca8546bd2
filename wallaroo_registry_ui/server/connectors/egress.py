"""Where the service may connect: the egress rules every connection to a registry obeys.

A host is checked on the addresses it resolves to, not on how its name is spelled, so
``localhost``, ``2130706433``, ``0x7f000001``, ``127.1`` and ``[::ffff:127.0.0.1]`` are all the
loopback address they resolve to. Refused unless the operator allows them: loopback,
link-local (where cloud metadata services answer), unspecified addresses, the IPv4-mapped
IPv6 forms of these, and the service's own address. ``allow`` (``serve
--allow-registry-host``) lifts a refusal; a non-empty ``registry_hosts`` (``serve
--registry-hosts``) allows only the hosts it lists.

``EgressAdapter`` applies the rules to every request a ``requests`` session sends (each
redirect hop is a request of its own) and connects to the very address it checked, so a
second DNS answer cannot send the connection elsewhere; the Host header, TLS SNI and the
certificate check keep the name of the URL.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from wallaroo_registry_ui.server.connectors.registry_urls import host_problem

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOW_FLAG = "--allow-registry-host"
HOSTS_FLAG = "--registry-hosts"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ADDRESS_ATTRIBUTE = "egress_address"

REFUSED_NETWORKS: tuple[tuple[IpNetwork, str], ...] = (
    (ipaddress.ip_network("127.0.0.0/8"), "a loopback address"),
    (ipaddress.ip_network("::1/128"), "a loopback address"),
    (ipaddress.ip_network("169.254.0.0/16"), "a link-local address"),
    (ipaddress.ip_network("fe80::/10"), "a link-local address"),
    (ipaddress.ip_network("0.0.0.0/8"), "an unspecified address"),
    (ipaddress.ip_network("::/128"), "an unspecified address"),
)
"""What is refused by default, and how a message names it."""


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def plain_address(address: IpAddress) -> IpAddress:
    """The address a connection to ``address`` reaches, as the rules see it: the IPv4
    address inside an IPv4-mapped (``::ffff:127.0.0.1``), IPv4-compatible (``::127.0.0.1``)
    or NAT64 (``64:ff9b::7f00:1``) IPv6 address, and an IPv6 address without its scope."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    embeds_ipv4 = address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1)
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if embeds_ipv4 else address


def _normal_name(host: str) -> str:
    return host.strip().strip("[]").lower().removesuffix(".")


@dataclass(frozen=True)
class HostRule:
    """One HOST_OR_CIDR: a host name (matching URLs whose host is that name, whatever it
    resolves to), or an IP address or CIDR (matching the addresses a host resolves to)."""

    text: str
    network: IpNetwork | None = None
    name: str | None = None

    def matches(self, host: str, address: IpAddress) -> bool:
        if self.network is not None:
            return _within(address, self.network)
        return _normal_name(host) == self.name


def parse_host_rule(text: str) -> HostRule:
    """A HOST_OR_CIDR entry; ValueError saying what is wrong with one that is neither."""
    given = text.strip()
    bare = given.strip("[]") if given.startswith("[") else given
    if not bare:
        raise ValueError("an empty entry: give a host name, an IP address or a CIDR")
    try:
        network: IpNetwork = ipaddress.ip_network(bare, strict=False)
    except ValueError:
        if "/" in bare or ":" in bare or host_problem(bare):
            raise ValueError(
                f"{given[:80]!r} is not a host name, an IP address or a CIDR "
                "(like mlflow.example.com, 10.0.0.5 or 10.0.0.0/8)"
            ) from None
        return HostRule(given, name=_normal_name(bare))
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen == 128:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            network = ipaddress.ip_network(mapped)
    return HostRule(given, network=network)


def parse_host_rules(entries: Iterable[str], where: str) -> tuple[HostRule, ...]:
    """Every entry parsed; ValueError prefixed with ``where`` (the flag and its variable)."""
    rules = []
    for entry in entries:
        try:
            rules.append(parse_host_rule(entry))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return tuple(rules)


def own_addresses(listen_host: str | None) -> frozenset[IpAddress]:
    """The addresses the service listens on; none for a wildcard (0.0.0.0, ::) or a name
    that does not resolve."""
    if not listen_host:
        return frozenset()
    try:
        found = {plain_address(a) for a in resolve(_normal_name(listen_host), 0)}
    except OSError:
        return frozenset()
    return frozenset(a for a in found if not a.is_unspecified)


def resolve(host: str, port: int) -> list[IpAddress]:
    """The addresses ``host`` resolves to, in the resolver's order (an IP literal, in any
    spelling the resolver accepts, resolves to itself); OSError when it resolves to none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IpAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]))
        if address not in addresses:
            addresses.append(address)
    return addresses


class EgressRefused(Exception):
    """A connection the rules refuse; the message says why and how the operator allows it
    (it names the host as the URL gave it, and the refused address, never a token)."""

    def __init__(self, host: str, address: IpAddress | None, reason: str, cure: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        self.cure = cure
        super().__init__(f"{self.what()}; {cure}")

    def what(self) -> str:
        """The refusal without its cure: "127.0.0.1 is a loopback address"."""
        if self.address is None:
            return f"{self.host} {self.reason}"
        shown = str(self.address)
        if _normal_name(self.host) == shown:
            return f"{shown} is {self.reason}"
        return f"{self.host} resolves to {shown}, {self.reason}"


@dataclass(frozen=True)
class EgressPolicy:
    """The rules: ``allow`` lifts refusals, a non-empty ``registry_hosts`` allows only what
    it lists, ``own`` are the service's own addresses (refused like loopback)."""

    allow: tuple[HostRule, ...] = ()
    registry_hosts: tuple[HostRule, ...] = ()
    own: frozenset[IpAddress] = field(default_factory=frozenset)

    def refusal(self, host: str, address: IpAddress) -> EgressRefused | None:
        """Why a connection to ``address`` (what ``host`` resolved to) is refused; None
        when it is allowed."""
        address = plain_address(address)
        if self.registry_hosts and not any(r.matches(host, address) for r in self.registry_hosts):
            return EgressRefused(
                host,
                None,
                "is not one of the registry hosts this service may connect to",
                f"the service's operator lists those with `serve {HOSTS_FLAG}`",
            )
        if any(rule.matches(host, address) for rule in self.allow):
            return None
        reason = next((words for net, words in REFUSED_NETWORKS if _within(address, net)), None)
        if reason is None and address in self.own:
            reason = "the service's own address"
        if reason is None:
            return None
        cure = f"the service's operator may allow it with `serve {ALLOW_FLAG} {address}`"
        return EgressRefused(host, address, reason, cure)

    def checked_address(self, host: str, port: int) -> str:
        """The first address ``host`` resolves to that the rules allow, to connect to.

        Raises EgressRefused when none is allowed, OSError when the host resolves to none.
        """
        refused: EgressRefused | None = None
        for address in resolve(host, port):
            problem = self.refusal(host, address)
            if problem is None:
                return str(address)
            refused = refused or problem
        if refused is None:
            raise OSError(f"{host} resolves to no address")
        raise refused

    def url_refusal(self, url: str) -> EgressRefused | None:
        """Why the service may not connect to ``url``'s host, for a registry being saved;
        None when it may, or when the host resolves to nothing today (the registry is then
        unreachable until it does, and checked again on every connection)."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            self.checked_address(host, parts.port or _DEFAULT_PORTS.get(parts.scheme, 80))
        except EgressRefused as refused:
            return refused
        except (OSError, UnicodeError, ValueError):
            return None
        return None


def _within(address: IpAddress, network: IpNetwork) -> bool:
    return address.version == network.version and address in network


class EgressAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that checks each request's host against an ``EgressPolicy`` and
    connects to the address it checked.

    No proxy is used: a proxy would resolve the name again, out of the rules' sight. A host
    that resolves to nothing is a ``requests`` ConnectionError, as it is without the rules;
    a refused one raises ``EgressRefused`` before any connection is made.
    """

    def __init__(self, policy: EgressPolicy, **kwargs: object) -> None:
        self.policy = policy
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: object = None,
        verify: bool | str = True,
        cert: object = None,
        proxies: object = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        scheme = parts.scheme.lower()
        try:
            host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS.get(scheme, 80)
        except ValueError as exc:
            raise requests.exceptions.InvalidURL(str(exc), request=request) from None
        if not host or host_problem(host):
            raise requests.exceptions.InvalidURL("not a host to connect to", request=request)
        try:
            address = self.policy.checked_address(host, port)
        except (OSError, UnicodeError) as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        request.headers["Host"] = parts.netloc.rpartition("@")[2]
        setattr(request, _ADDRESS_ATTRIBUTE, address)
        return super().send(request, stream, timeout, verify, cert, proxies=None)  # type: ignore[arg-type]

    def get_connection_with_tls_context(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: object = None,
        cert: object = None,
    ):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(
            request,
            verify,
            cert,  # type: ignore[arg-type]
        )
        address = getattr(request, _ADDRESS_ATTRIBUTE, None)
        if address is None:
            raise RuntimeError("the egress adapter connects only the requests it has checked")
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
        host_params["host"] = address
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def request_url(self, request: requests.PreparedRequest, proxies: object) -> str:  # type: ignore[override]
        return request.path_url
