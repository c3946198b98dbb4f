"""Unique ids of a package: OIDs (``2.25.<uuid>``) and ``urn:uuid`` entry ids.

With a seed every id is derived from it (byte-identical packages for tests and replays); without,
ids are random. Entry UUIDs are always derived from the unique id they stand for, so the entryUUID
of a document sent earlier (the target of a replacement) is known from its unique id alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

NAMESPACE = uuid.UUID("6f1c2a8e-3d1b-5e4f-9a7c-1d2e3f405162")  # Identito's namespace for derived ids


def oid_of(value: uuid.UUID) -> str:
    """The OID of a UUID under the joint ISO/ITU-T arc 2.25 (ITU-T X.667)."""
    return f"2.25.{value.int}"


def entry_uuid(unique_id: str) -> str:
    """The entryUUID of a registry object, derived from its unique id."""
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, unique_id)}"


@dataclass(frozen=True, slots=True)
class PackageIds:
    """The unique ids one package needs."""

    document: str  # DocumentEntry.uniqueId (an OID)
    submission_set: str  # SubmissionSet.uniqueId (an OID)

    @classmethod
    def make(cls, seed: str | None = None) -> PackageIds:
        """Ids derived from ``seed``, or random ones."""
        def one(purpose: str) -> str:
            value = uuid.uuid5(NAMESPACE, f"{seed}:{purpose}") if seed is not None else uuid.uuid4()
            return oid_of(value)
        return cls(one("document"), one("submission-set"))

    @property
    def document_entry(self) -> str:
        """The DocumentEntry's entryUUID."""
        return entry_uuid(self.document)

    @property
    def submission_entry(self) -> str:
        """The SubmissionSet's entryUUID."""
        return entry_uuid(self.submission_set)

    def local(self, name: str) -> str:
        """The entryUUID of a classification or association of this package."""
        return entry_uuid(f"{self.submission_set}/{name}")
