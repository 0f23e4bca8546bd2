"""The egress rules (connectors/egress.py): what a HOST_OR_CIDR is, which addresses are
refused in every spelling, what allows them, and that a session under the rules connects to
the address it checked and to nothing else."""

from __future__ import annotations

import ipaddress
import ssl

import pytest
import requests
from support.listeners import certificate_for, listening

from wallaroo_registry_ui.server.connection_pools import ConnectionPools
from wallaroo_registry_ui.server.connectors import egress
from wallaroo_registry_ui.server.connectors.egress import (
    EgressPolicy,
    EgressRefused,
    own_addresses,
    parse_host_rule,
    parse_host_rules,
)

LOOPBACK_FORMS = [
    "127.0.0.1",
    "localhost",
    "2130706433",
    "0x7f000001",
    "127.1",
    "017700000001",
    "[::ffff:127.0.0.1]",
    "127.8.9.10",
]
REFUSED = [
    *[(form, "a loopback address") for form in LOOPBACK_FORMS],
    ("[::1]", "a loopback address"),
    ("169.254.169.254", "a link-local address"),
    ("[fe80::1]", "a link-local address"),
    ("[::ffff:169.254.169.254]", "a link-local address"),
    ("0.0.0.0", "an unspecified address"),
    ("0", "an unspecified address"),
    ("[::]", "an unspecified address"),
    ("[::ffff:0.0.0.0]", "an unspecified address"),
    ("[::127.0.0.1]", "a loopback address"),
    ("[64:ff9b::a9fe:a9fe]", "a link-local address"),
]


def policy(allow: list[str] = (), registry_hosts: list[str] = (), own: str | None = None):
    return EgressPolicy(
        parse_host_rules(allow, "--allow-registry-host"),
        parse_host_rules(registry_hosts, "--registry-hosts"),
        own_addresses(own),
    )


def session_under(rules: EgressPolicy) -> requests.Session:
    return ConnectionPools(rules).session_for("registry", "url")


@pytest.mark.parametrize(
    "text, network, name",
    [
        ("10.0.0.5", "10.0.0.5/32", None),
        ("10.1.2.3/8", "10.0.0.0/8", None),
        ("[::1]", "::1/128", None),
        ("fd00::/8", "fd00::/8", None),
        ("::ffff:127.0.0.1", "127.0.0.1/32", None),
        ("MLflow.Example.com.", None, "mlflow.example.com"),
        ("localhost", None, "localhost"),
    ],
)
def test_a_host_rule_is_a_name_an_address_or_a_cidr(text, network, name):
    rule = parse_host_rule(text)
    assert rule.network == (ipaddress.ip_network(network) if network else None)
    assert rule.name == name


@pytest.mark.parametrize("text", ["", "  ", "a b", "10.0.0.0/33", "::1/200", "x/y", "-a.example"])
def test_a_bad_host_rule_is_refused_naming_the_flag(text):
    with pytest.raises(ValueError, match=r"^--registry-hosts: ") as caught:
        parse_host_rules(["ok.example", text], "--registry-hosts")
    assert "host name, an IP address or a CIDR" in str(caught.value)


@pytest.mark.parametrize("host, reason", REFUSED, ids=[h for h, _ in REFUSED])
def test_every_spelling_of_a_refused_address_is_refused(host, reason):
    refused = EgressPolicy().url_refusal(f"http://{host}:8080/prefix")
    assert refused is not None and refused.reason == reason
    assert f"`serve --allow-registry-host {refused.address}`" in str(refused)
    assert str(refused).startswith(host.strip("[]"))


def test_the_refusal_names_the_address_a_name_resolves_to():
    refused = EgressPolicy().url_refusal("http://localhost:5000")
    assert str(refused) == (
        "localhost resolves to 127.0.0.1, a loopback address; the service's operator may "
        "allow it with `serve --allow-registry-host 127.0.0.1`"
    )
    assert str(EgressPolicy().url_refusal("http://127.0.0.1:5000")).startswith(
        "127.0.0.1 is a loopback address; "
    )


@pytest.mark.parametrize("allow", [["127.0.0.1"], ["127.0.0.0/8"], ["::ffff:127.0.0.1"]])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_an_allowed_address_is_allowed_in_every_spelling(allow, host):
    assert policy(allow).url_refusal(f"http://{host}:5000") is None


def test_an_allowed_name_lifts_the_refusal_of_that_name_only():
    rules = policy(["localhost"])
    assert rules.url_refusal("http://localhost:5000") is None
    assert rules.url_refusal("http://LocalHost.:5000") is None
    assert rules.url_refusal("http://127.0.0.1:5000") is not None


def test_allowing_loopback_does_not_allow_link_local():
    rules = policy(["127.0.0.0/8"])
    assert rules.url_refusal("http://169.254.169.254/latest/meta-data").reason == (
        "a link-local address"
    )


def test_the_services_own_address_is_refused_unless_allowed():
    own = own_addresses("10.9.8.7")
    assert own == {ipaddress.ip_address("10.9.8.7")}
    refused = EgressPolicy(own=own).url_refusal("http://10.9.8.7:5000")
    assert refused.reason == "the service's own address"
    assert EgressPolicy(own=own).url_refusal("http://10.9.8.8:5000") is None
    assert policy(["10.9.8.7"], own="10.9.8.7").url_refusal("http://10.9.8.7") is None


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", "", None, "no-such-host.invalid"])
def test_a_wildcard_listen_address_is_no_own_address(wildcard):
    assert own_addresses(wildcard) == frozenset()


def test_registry_hosts_allow_only_what_they_list():
    rules = policy(["127.0.0.0/8"], ["127.0.0.1", "mlflow.internal"])
    assert rules.url_refusal("http://127.0.0.1:5000") is None
    refused = rules.url_refusal("http://127.0.0.2:5000")
    assert str(refused) == (
        "127.0.0.2 is not one of the registry hosts this service may connect to; the "
        "service's operator lists those with `serve --registry-hosts`"
    )
    assert "resolves" not in str(rules.url_refusal("http://localhost.localdomain.invalid"))


def test_a_listed_registry_host_still_needs_allowing_if_it_is_loopback():
    refused = policy([], ["127.0.0.1"]).url_refusal("http://127.0.0.1:5000")
    assert refused.reason == "a loopback address"


def test_a_name_that_resolves_to_nothing_is_left_for_later():
    assert EgressPolicy().url_refusal("http://registry.invalid:5000") is None


def test_a_name_is_pinned_to_its_first_allowed_address(monkeypatch):
    answers = {"mixed.invalid": ["169.254.169.254", "127.0.0.1"]}
    monkeypatch.setattr(egress, "resolve", lambda host, port: _addresses(answers[host]))
    assert policy(["127.0.0.1"]).checked_address("mixed.invalid", 80) == "127.0.0.1"
    with pytest.raises(EgressRefused, match="a link-local address"):
        EgressPolicy().checked_address("mixed.invalid", 80)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1"])
def test_a_session_under_the_default_rules_reaches_nothing(host):
    with listening() as listener:
        url = f"http://{host}:{listener.port}/api"
        with pytest.raises(EgressRefused, match="a loopback address"):
            session_under(EgressPolicy()).get(url, timeout=5)
        assert listener.accepted == 0


def test_a_refused_ipv6_loopback_listener_is_not_reached():
    with listening("::1") as listener:
        with pytest.raises(EgressRefused):
            session_under(EgressPolicy()).get(f"{listener.url}/api", timeout=5)
        with pytest.raises(EgressRefused):
            session_under(policy(["127.0.0.1"])).get(f"{listener.url}/api", timeout=5)
        assert listener.accepted == 0
        assert session_under(policy(["::1"])).get(f"{listener.url}/api", timeout=5).ok


def test_an_allowed_name_keeps_its_host_header():
    with listening() as listener:
        session = session_under(policy(["127.0.0.1"]))
        for host in ("localhost", "0x7f000001"):
            assert session.get(f"http://{host}:{listener.port}/x", timeout=5).ok
        assert [seen.headers["Host"] for seen in listener.seen] == [
            f"localhost:{listener.port}",
            f"0x7f000001:{listener.port}",
        ]


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(monkeypatch):
    """``.invalid`` names never resolve: reaching the listener proves the session connected
    to the address the rules checked, and every request is checked again (a second DNS
    answer pointing at cloud metadata is refused although a connection is pooled)."""
    answers = iter([["127.0.0.1"], ["127.0.0.1"], ["169.254.169.254"]])
    monkeypatch.setattr(egress, "resolve", lambda host, port: _addresses(next(answers)))
    with listening() as listener:
        session = session_under(policy(["127.0.0.1"]))
        url = f"http://registry.invalid:{listener.port}/x"
        assert session.get(url, timeout=5).ok
        assert session.get(url, timeout=5).ok
        with pytest.raises(EgressRefused, match=r"resolves to 169\.254\.169\.254"):
            session.get(url, timeout=5)
        assert len(listener.seen) == 2
        assert listener.seen[0].headers["Host"] == f"registry.invalid:{listener.port}"


def test_tls_to_a_pinned_address_checks_the_certificate_of_the_name(monkeypatch, tmp_path):
    monkeypatch.setattr(egress, "resolve", lambda host, port: _addresses(["127.0.0.1"]))
    cert, key = certificate_for("registry.invalid", tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen_names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: seen_names.append(name)
    with listening(tls=context) as listener:
        session = session_under(policy(["127.0.0.1"]))
        trust = {"verify": str(cert), "timeout": 5}
        assert session.get(f"https://registry.invalid:{listener.port}/x", **trust).ok
        assert seen_names == ["registry.invalid"]
        with pytest.raises(requests.exceptions.SSLError, match=r"match|mismatch"):
            session.get(f"https://other.invalid:{listener.port}/x", **trust)
        assert len(listener.seen) == 1


def _addresses(texts: list[str]) -> list:
    return [ipaddress.ip_address(text) for text in texts]
