"""The bound on calls waiting on registries: per user and in all, a call over it is a 503 with
``Retry-After`` at once, and a slot is given back however the call ends."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from wallaroo_registry_ui.server.errors import ApiError
from wallaroo_registry_ui.server.registry_calls import RegistryCallSlots


def test_a_user_over_the_bound_gets_503_while_others_still_get_slots():
    slots = RegistryCallSlots(per_user=2, total=10)
    with ExitStack() as held:
        held.enter_context(slots.slot(1))
        held.enter_context(slots.slot(1))
        with pytest.raises(ApiError) as refused:
            held.enter_context(slots.slot(1))
        held.enter_context(slots.slot(2))
    assert refused.value.status == 503
    assert int(refused.value.headers["Retry-After"]) > 0
    assert "2 calls waiting on registries, the most one user may have" in refused.value.msg


def test_the_service_over_its_bound_gets_503_for_everyone():
    slots = RegistryCallSlots(per_user=5, total=3)
    with ExitStack() as held:
        for user in (1, 2, 3):
            held.enter_context(slots.slot(user))
        with pytest.raises(ApiError) as refused:
            held.enter_context(slots.slot(4))
    assert refused.value.status == 503
    assert "the service is busy: 3 calls are waiting on registries" in refused.value.msg


def test_slots_come_back_when_a_call_fails():
    slots = RegistryCallSlots(per_user=1, total=1)
    for _ in range(3):
        with pytest.raises(ValueError), slots.slot(7):
            raise ValueError("the registry broke")
    with slots.slot(7):
        pass
