"""Role permissions for the API: reading needs a CellBatch role, each write names the roles it needs.

The services check roles again (and separation of duties); this gate refuses early, with a clear
403, before any input is parsed.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from batches.roles import Role, has_role
from batches.web import READ_ROLES


class RolePermission(BasePermission):
    """``view.write_roles`` maps an action (or a lower-case method) to the roles allowed to call it."""

    message = "You do not hold a CellBatch role that allows this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in SAFE_METHODS:
            return has_role(user, *READ_ROLES)
        key = getattr(view, "action", None) or (request.method or "").lower()
        roles: tuple[Role, ...] = getattr(view, "write_roles", {}).get(key, ())
        if not roles:
            self.message = "This action is not available through the API."
            return False
        if not has_role(user, *roles):
            self.message = f"This action requires the role {' or '.join(r.label for r in roles)}."
            return False
        return True


class AnyCellBatchRole(BasePermission):
    """The API's default gate: signed in and holding a CellBatch role. A signed-in user without a role
    reads nothing (documents included); a view that should answer without a role says so itself."""

    message = "You do not hold a CellBatch role."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and has_role(user, *READ_ROLES))
