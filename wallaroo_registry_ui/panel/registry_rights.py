"""What the caller's role lets them do with registries in the panel, and why not, in words.

The service decides (a forbidden call is a 403 naming the role it needs); this only keeps the
view from offering what would be refused, and says why. A server that does not tell the
caller's role (an older one) is offered everything, and answers for itself.
"""

from __future__ import annotations

from wallaroo_registry_ui.contract import ADMIN, OWNER

ACTIONS = {
    "connect": "Connecting a registry to this workspace",
    "attach": "Attaching a registry",
    "detach": "Detaching a registry",
}


def registry_rights(role: str, not_attachable: int = 0) -> dict[str, str]:
    """``{"connect", "attach", "detach"}``: why each is not allowed (``""`` when it is), and
    ``note``: the reasons in a sentence or two for the view to show.

    ``not_attachable`` counts registries the caller can use but did not connect, which only
    their creator or an instance admin may attach to another workspace.
    """
    manages = role in ("", OWNER, ADMIN)
    rights = {
        action: ""
        if manages
        else f"{doing} needs the owner role in this workspace; you are a {role}."
        for action, doing in ACTIONS.items()
    }
    notes = []
    if not manages:
        notes.append(
            f"You are a {role} in this workspace: you can browse and upload; connecting, "
            "attaching and detaching registries needs the owner role."
        )
    elif not_attachable and role != ADMIN:
        one = not_attachable == 1
        notes.append(
            f"{not_attachable} {'registry' if one else 'registries'} you can use "
            f"{'was' if one else 'were'} connected by someone else: only "
            f"{'its' if one else 'their'} creator or an instance admin can attach "
            f"{'it' if one else 'them'} to another workspace."
        )
    rights["note"] = " ".join(notes)
    return rights
