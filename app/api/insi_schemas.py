"""API schemas of the INSi routes (requests, answers, journal rows)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.domain.insi import InsEntry, InsiAnswer, Matricule, TraitsQuery, VitaleQuery

_ASSERTION_MAX = 64 * 1024


class TraitsSearch(BaseModel):
    """Traits sent as they are: INSi wants them in the INS profile already (checked before sending)."""

    model_config = ConfigDict(extra="forbid")

    birth_name: str = Field(max_length=100)
    first_names: list[str] = Field(min_length=1, max_length=10, description="Birth first names to send")
    sex: str = Field(max_length=1, description="M or F")
    birth_date: date
    birth_place_code: str | None = Field(default=None, max_length=5)

    def query(self) -> TraitsQuery:
        """The domain query."""
        return TraitsQuery(
            self.birth_name, tuple(self.first_names), self.sex, self.birth_date, self.birth_place_code
        )


class MatriculeIn(BaseModel):
    """A matricule read from the Carte Vitale."""

    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=r"^[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{6}$")
    key: str = Field(pattern=r"^[0-9]{2}$")
    kind: str | None = Field(default=None, max_length=4)

    def domain(self) -> Matricule:
        """The domain matricule."""
        return Matricule(self.number, self.key, self.kind)


class VitaleSearch(BaseModel):
    """The Carte Vitale data read at the desk and the card's signed assertion."""

    model_config = ConfigDict(extra="forbid")

    insured: MatriculeIn
    beneficiary: MatriculeIn | None = None
    birth_name: str = Field(max_length=100)
    birth_date: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description="As read; may be lunar")
    birth_rank: int = Field(default=1, ge=1, le=9)
    assertion: str = Field(max_length=_ASSERTION_MAX, description="The Vitale SAML assertion (XML)")

    def query(self) -> VitaleQuery:
        """The domain query."""
        return VitaleQuery(
            self.insured.domain(),
            self.birth_name,
            self.birth_date,
            self.birth_rank,
            self.beneficiary.domain() if self.beneficiary else None,
            self.assertion.encode("utf-8"),
        )


class InsiSearchRequest(BaseModel):
    """Search by traits or by Carte Vitale (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    traits: TraitsSearch | None = None
    vitale: VitaleSearch | None = None
    identity_id: int | None = Field(default=None, description="Identity the search is for (journal only)")
    relayed_assertion: str | None = Field(
        default=None,
        max_length=_ASSERTION_MAX,
        description="Assertion signed at the desk (XML), placed unchanged",
    )

    @model_validator(mode="after")
    def _one(self) -> InsiSearchRequest:
        if (self.traits is None) == (self.vitale is None):
            raise ValueError("send either traits or vitale")
        return self


class InsOut(BaseModel):
    """An INS of the answer."""

    matricule: str
    oid: str
    start: str | None = None
    end: str | None = None

    @classmethod
    def of(cls, entry: InsEntry) -> InsOut:
        """From the domain."""
        return cls(matricule=entry.matricule.matricule, oid=entry.oid, start=entry.start, end=entry.end)


class ReturnedTraitsOut(BaseModel):
    """The traits INSi returned (TIQ), to be stored exactly as returned (EXI REC 07)."""

    birth_name: str
    first_names: str
    first_name: str
    sex: str
    birth_date: str
    birth_place_code: str | None


class InsiAnswerOut(BaseModel):
    """The answer: code and label, and for 00 the INS, its history and the traits."""

    code: str
    label: str
    message_id: str
    ins: InsOut | None = None
    history: list[InsOut] = Field(default_factory=list)
    traits: ReturnedTraitsOut | None = None

    @classmethod
    def of(cls, answer: InsiAnswer) -> InsiAnswerOut:
        """From the domain."""
        traits = answer.traits
        return cls(
            code=answer.code.value,
            label=answer.label,
            message_id=answer.message_id,
            ins=InsOut.of(answer.active) if answer.active else None,
            history=[InsOut.of(h) for h in answer.history],
            traits=ReturnedTraitsOut(
                birth_name=traits.birth_name,
                first_names=traits.first_names,
                first_name=traits.first_birth_first_name,
                sex=traits.sex,
                birth_date=traits.birth_date,
                birth_place_code=traits.birth_place_code,
            )
            if traits
            else None,
        )


class InsiCallOut(BaseModel):
    """One journal row."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    operation: str
    credential_mode: str
    emitter: str
    requested_by: str
    purpose: str
    identity_id: int | None
    outcome: str
    error_category: str | None
    duration_ms: float
    message_id: str
    traits_hash: str | None


class InsiCallPage(BaseModel):
    """A page of the journal."""

    items: list[InsiCallOut]
    limit: int
    offset: int
    has_more: bool
