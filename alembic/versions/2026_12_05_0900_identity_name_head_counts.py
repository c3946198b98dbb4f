"""Counts of active identities by name-key head: the total of a name-prefix search of one to three
letters (FHIR's Bundle.total of ``family=MAR``) read from two small tables instead of counted from
the key-head index ranges (42,000 index entries for the broadest three-letter prefix at 1M
identities, 7 ms of database time for every first page), or from every identity the two LIKEs find
for one or two letters (150-200 ms for ``LE`` at 1M).

What is counted (``app.db.name_heads``): each active identity adds +1 under the head (first three
letters) of its birth-name key, and +1 under that of its used-name key when the two heads differ.
The count of a prefix of one to three letters is the sum over the heads it begins (a range of head
values, bytewise order). An identity whose two heads differ but begin with the same one or two
letters (LEBRUN used LEGOFF) would be counted twice for that shorter prefix, so it adds -1 under
those letters followed by ``*`` (``LE*``), a value inside that prefix's range and outside every
longer one's. Keys shorter than three letters are their own head.

``identity_name_head_delta`` receives, in the transaction that writes ``identity``, the changes of
these sums; ``identity_name_head_count`` holds the folded sums (``NameHeadCounts.fold``, run by
``identito worker``). A count is the count rows plus the deltas not folded yet: exact in every
snapshot, written by triggers so that no write path (the repositories, a bulk COPY, a hand-made
UPDATE) can leave it behind. An identity writes one delta row for its head (two or three with a
used name): the write paths pay little (``docs/performance.md``).

On PostgreSQL inserts have one statement-level trigger (a bulk load writes one row per head, not per
identity); updates and deletes have row-level triggers whose WHEN clause (checked without calling
any function) lets through only the rows whose active flag or name heads changed; TRUNCATE empties
both tables. On SQLite row-level triggers write the same deltas, with the same WHEN for updates.

Revision ID: 2026_12_05_0900
Revises: 2026_12_04_0900
Create Date: 2026-12-05 09:00
"""

import sqlalchemy as sa

from alembic import op

revision = "2026_12_05_0900"
down_revision = "2026_12_04_0900"
branch_labels = None
depends_on = None


def _term_list(birth: str, used: str) -> list[tuple[str, int]]:
    """The (head, d) terms of one identity's keys (SQL expressions; a NULL head is no term). Written
    once for both engines (KEY_HEAD = 3)."""
    b3, u3 = f"substr({birth}, 1, 3)", f"substr({used}, 1, 3)"
    differ = f"{birth} IS NOT NULL AND {used} IS NOT NULL AND {u3} <> {b3}"
    shared = (f"CASE WHEN {differ} THEN CASE "
              f"WHEN substr({used}, 1, 2) = substr({birth}, 1, 2) THEN substr({birth}, 1, 2) || '*' "
              f"WHEN substr({used}, 1, 1) = substr({birth}, 1, 1) THEN substr({birth}, 1, 1) || '*' END END")
    used_head = f"CASE WHEN {used} IS NOT NULL AND ({birth} IS NULL OR {u3} <> {b3}) THEN {u3} END"
    return [(b3, 1), (used_head, 1), (shared, -1)]


def _terms(birth: str, used: str) -> str:
    """The terms as VALUES rows."""
    return ", ".join(f"({head}, {d})" for head, d in _term_list(birth, used))


# PostgreSQL: the terms of one identity as a function (inlined by the planner).
_PG_TERMS = f"""
CREATE FUNCTION identity_name_head_terms(birth text, used text) RETURNS TABLE (head text, d integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT h, w FROM (VALUES {_terms("birth", "used")}) AS v(h, w) WHERE h IS NOT NULL
$$
"""  # noqa: S608 - fixed SQL, no input

_PG_FUNCTION = """
CREATE FUNCTION identity_name_head_deltas() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM identity_name_head_delta;
        DELETE FROM identity_name_head_count;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO identity_name_head_delta (head, d)
        SELECT t.head, sum(t.d) FROM new_rows AS r,
            identity_name_head_terms(r.birth_name_key, r.used_name_key) AS t
        WHERE r.active GROUP BY t.head HAVING sum(t.d) <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO identity_name_head_delta (head, d)
        SELECT t.head, -t.d FROM identity_name_head_terms(OLD.birth_name_key, OLD.used_name_key) AS t;
    ELSE
        INSERT INTO identity_name_head_delta (head, d)
        SELECT head, sum(d) FROM (
            SELECT t.head, -t.d AS d FROM identity_name_head_terms(OLD.birth_name_key, OLD.used_name_key) AS t
            WHERE OLD.active
            UNION ALL
            SELECT t.head, t.d FROM identity_name_head_terms(NEW.birth_name_key, NEW.used_name_key) AS t
            WHERE NEW.active
        ) AS x GROUP BY head HAVING sum(d) <> 0;
    END IF;
    RETURN NULL;
END $$
"""

_HEADS_CHANGED = (
    "OLD.active IS DISTINCT FROM NEW.active "
    "OR substr(OLD.birth_name_key, 1, 3) IS DISTINCT FROM substr(NEW.birth_name_key, 1, 3) "
    "OR substr(OLD.used_name_key, 1, 3) IS DISTINCT FROM substr(NEW.used_name_key, 1, 3)"
)
_PG_TRIGGERS = (
    "CREATE TRIGGER identity_name_heads_insert AFTER INSERT ON identity REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION identity_name_head_deltas()",
    "CREATE TRIGGER identity_name_heads_update AFTER UPDATE ON identity "
    f"FOR EACH ROW WHEN ({_HEADS_CHANGED}) EXECUTE FUNCTION identity_name_head_deltas()",
    "CREATE TRIGGER identity_name_heads_delete AFTER DELETE ON identity FOR EACH ROW WHEN (OLD.active) "
    "EXECUTE FUNCTION identity_name_head_deltas()",
    "CREATE TRIGGER identity_name_heads_truncate AFTER TRUNCATE ON identity "
    "FOR EACH STATEMENT EXECUTE FUNCTION identity_name_head_deltas()",
)
_PG_BACKFILL = (
    "INSERT INTO identity_name_head_count (head, n) SELECT t.head, sum(t.d) FROM identity AS r, "
    "identity_name_head_terms(r.birth_name_key, r.used_name_key) AS t WHERE r.active GROUP BY t.head"
)


def _sqlite_deltas(row: str, sign: int) -> str:
    """The delta rows of one row of a row-level trigger (NEW or OLD), when it is active."""
    terms = _terms(f"{row}.birth_name_key", f"{row}.used_name_key")
    return (f"INSERT INTO identity_name_head_delta (head, d) SELECT column1, {sign} * column2 "  # noqa: S608
            f"FROM (VALUES {terms}) WHERE column1 IS NOT NULL AND {row}.active;")


_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER identity_name_heads_insert AFTER INSERT ON identity "
    f"BEGIN {_sqlite_deltas('NEW', 1)} END",
    f"CREATE TRIGGER identity_name_heads_delete AFTER DELETE ON identity "
    f"BEGIN {_sqlite_deltas('OLD', -1)} END",
    # Only when a head or the active flag may have changed: an update of other columns writes nothing.
    "CREATE TRIGGER identity_name_heads_update AFTER UPDATE OF active, birth_name_key, used_name_key "
    f"ON identity WHEN {_HEADS_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    f"BEGIN {_sqlite_deltas('OLD', -1)} {_sqlite_deltas('NEW', 1)} END",
)
_SQLITE_BACKFILL = (  # the terms of every active identity: one SELECT per term
    "INSERT INTO identity_name_head_count (head, n) SELECT head, sum(d) FROM ("  # noqa: S608
    + " UNION ALL ".join(f"SELECT {head} AS head, {d} AS d FROM identity WHERE active"  # noqa: S608
                         for head, d in _term_list("birth_name_key", "used_name_key"))
    + ") WHERE head IS NOT NULL GROUP BY head"
)
_TRIGGER_NAMES = ("identity_name_heads_insert", "identity_name_heads_update", "identity_name_heads_delete",
                  "identity_name_heads_truncate")
# Bytewise order on PostgreSQL: a prefix's heads are one range, LE* inside LE's.
_HEAD = sa.String(3).with_variant(sa.String(3, collation="C"), "postgresql")


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "identity_name_head_count",
        sa.Column("head", _HEAD, primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "identity_name_head_delta",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("head", _HEAD, nullable=False),
        sa.Column("d", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_identity_name_head_delta_head", "identity_name_head_delta", ["head", "d"])
    if postgresql:
        # No identity written between the counting below and the triggers: they see every later write.
        op.execute("LOCK TABLE identity IN SHARE ROW EXCLUSIVE MODE")
        op.execute(_PG_TERMS)
        op.execute(_PG_FUNCTION)
        for statement in _PG_TRIGGERS:
            op.execute(statement)
        op.execute(_PG_BACKFILL)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        op.execute(_SQLITE_BACKFILL)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON identity" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS identity_name_head_deltas()")
        op.execute("DROP FUNCTION IF EXISTS identity_name_head_terms(text, text)")
    op.drop_index("ix_identity_name_head_delta_head", table_name="identity_name_head_delta")
    op.drop_table("identity_name_head_delta")
    op.drop_table("identity_name_head_count")
