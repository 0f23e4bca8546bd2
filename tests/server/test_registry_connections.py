"""The service keeps its connection to a registry open between requests."""

from __future__ import annotations

from support.registry_helpers import EmptyMlflow, local_http_server


class _CountingMlflow(EmptyMlflow):
    """Answers registered-models/search with an empty result, over keep-alive HTTP/1.1,
    remembering the client port of every request."""

    ports: list[int] = []

    def seen_request(self) -> None:
        type(self).ports.append(self.client_address[1])


def test_requests_to_one_registry_reuse_one_connection(alice, team_workspace):
    with local_http_server(_CountingMlflow) as url:
        registry = alice.client.create_registry("counted", url, workspace_id=team_workspace)
        for _ in range(5):
            page = alice.client.list_registry_models(registry)
            assert page.registered_models == []
        assert len(_CountingMlflow.ports) == 5
        assert len(set(_CountingMlflow.ports)) == 1
