"""Who may do what: roles carried by the bearer token and the RNIV separation of duties."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import NotAllowed
from app.domain.status import Status


class Role(StrEnum):
    """Roles of the token's roles claim."""

    ADMISSION = "admission"
    IDENTITOVIGILANCE = "identitovigilance"
    DOCUMENTS = "documents"
    INTEGRATION = "integration"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """Who asks: a token subject with roles, a sending application, or a job."""

    subject: str
    roles: frozenset[str]
    kind: str = "user"


def require_any(roles: Iterable[str], *allowed: Role) -> None:
    """Refuse unless the actor holds one of the allowed roles."""
    if not set(roles) & {r.value for r in allowed}:
        raise NotAllowed("role-missing", roles=", ".join(r.value for r in allowed))


def check_strict_edit(roles: Iterable[str], status: Status) -> None:
    """Only the identitovigilance cell edits strict traits of RECUP/QUAL identities (EXI REC 07)."""
    held = set(roles)
    if status in (Status.RECUP, Status.QUAL):
        if not held & {Role.IDENTITOVIGILANCE.value, Role.INTEGRATION.value}:
            raise NotAllowed("strict-edit-needs-identitovigilance", status=status.value)
    else:
        require_any(held, Role.ADMISSION, Role.IDENTITOVIGILANCE, Role.INTEGRATION)
