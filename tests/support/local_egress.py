"""The egress rules of the tests' in-process connectors: 127.0.0.1 allowed, as the services
the tests start allow it."""

from __future__ import annotations

from wallaroo_registry_ui.demo.registry_service import LOCAL_REGISTRY_HOSTS
from wallaroo_registry_ui.server.connectors.egress import EgressPolicy, parse_host_rules

LOCAL_EGRESS = EgressPolicy(allow=parse_host_rules(LOCAL_REGISTRY_HOSTS, "--allow-registry-host"))
