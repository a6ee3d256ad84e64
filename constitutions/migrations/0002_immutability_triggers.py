"""Database triggers that make published constitution versions immutable.

The services already refuse to edit a published version; these triggers make the
database refuse it too, so no code path (the ORM, the admin, raw SQL, a future
bug) can change what a run was trained on. Allowed on a non-draft version row:
switching between published and archived. Everything else is refused.

SQLite's ``flush`` deletes rows one by one (PostgreSQL truncates, which fires no
row triggers), so the SQLite triggers honour a one-row switch table,
``cai_guard``, that only the flush of the custom SQLite backend turns on.
"""

from django.db import migrations

CHILD_TABLES = ("constitutions_category", "constitutions_principle", "constitutions_fewshotexample")
VERSION_TABLE = "constitutions_constitutionversion"

# Columns that never change once a version leaves draft.
FROZEN_COLUMNS = (
    "constitution_id",
    "number",
    "parent_id",
    "author_id",
    "changelog",
    "content_hash",
    "row_version",
    "created_at",
    "published_at",
)

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION cai_refuse_frozen_child() RETURNS trigger AS $$
DECLARE
    st text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT status INTO st FROM {VERSION_TABLE} WHERE id = OLD.version_id;
        IF st IS NOT NULL AND st <> 'draft' THEN
            RAISE EXCEPTION 'constitution version % is % and immutable: % on % refused',
                OLD.version_id, st, TG_OP, TG_TABLE_NAME USING ERRCODE = '23514';
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        SELECT status INTO st FROM {VERSION_TABLE} WHERE id = NEW.version_id;
        IF st IS NOT NULL AND st <> 'draft' THEN
            RAISE EXCEPTION 'constitution version % is % and immutable: % on % refused',
                NEW.version_id, st, TG_OP, TG_TABLE_NAME USING ERRCODE = '23514';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cai_refuse_frozen_version() RETURNS trigger AS $$
BEGIN
    IF OLD.status <> 'draft' THEN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'constitution version % is % and cannot be deleted', OLD.id, OLD.status
                USING ERRCODE = '23514';
        END IF;
        IF NEW.status = 'draft'
           OR {" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)} THEN
            RAISE EXCEPTION 'constitution version % is % and immutable', OLD.id, OLD.status
                USING ERRCODE = '23514';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def _pg_sql() -> list[str]:
    statements = [PG_FUNCTIONS]
    for table in CHILD_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION cai_refuse_frozen_child();"
        )
    statements.append(
        f"CREATE TRIGGER {VERSION_TABLE}_frozen BEFORE UPDATE OR DELETE ON {VERSION_TABLE} "
        "FOR EACH ROW EXECUTE FUNCTION cai_refuse_frozen_version();"
    )
    return statements


def _sqlite_sql() -> list[str]:
    guard = "NOT EXISTS (SELECT 1 FROM cai_guard WHERE bypass = 1)"

    def frozen(ref: str) -> str:
        return f"(SELECT status FROM {VERSION_TABLE} WHERE id = {ref}.version_id) <> 'draft'"

    statements = [
        "CREATE TABLE IF NOT EXISTS cai_guard (id INTEGER PRIMARY KEY CHECK (id = 1), bypass INTEGER NOT NULL DEFAULT 0);",
        "INSERT OR IGNORE INTO cai_guard (id, bypass) VALUES (1, 0);",
    ]
    for table in CHILD_TABLES:
        msg = f"constitution version is published and immutable: change to {table} refused"
        statements += [
            f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} "
            f"WHEN {guard} AND {frozen('NEW')} BEGIN SELECT RAISE(ABORT, '{msg}'); END;",
            f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} "
            f"WHEN {guard} AND ({frozen('OLD')} OR {frozen('NEW')}) BEGIN SELECT RAISE(ABORT, '{msg}'); END;",
            f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} "
            f"WHEN {guard} AND {frozen('OLD')} BEGIN SELECT RAISE(ABORT, '{msg}'); END;",
        ]
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN_COLUMNS)
    statements += [
        f"CREATE TRIGGER {VERSION_TABLE}_frozen_update BEFORE UPDATE ON {VERSION_TABLE} "
        f"WHEN {guard} AND OLD.status <> 'draft' AND (NEW.status = 'draft' OR {changed}) "
        "BEGIN SELECT RAISE(ABORT, 'constitution version is published and immutable'); END;",
        f"CREATE TRIGGER {VERSION_TABLE}_frozen_delete BEFORE DELETE ON {VERSION_TABLE} "
        f"WHEN {guard} AND OLD.status <> 'draft' "
        "BEGIN SELECT RAISE(ABORT, 'constitution version is published and cannot be deleted'); END;",
    ]
    return statements


def install(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _pg_sql()
    elif vendor == "sqlite":
        statements = _sqlite_sql()
    else:
        raise RuntimeError(f"cai_web supports PostgreSQL and SQLite, not {vendor}")
    for sql in statements:
        # params=None: the PL/pgSQL bodies use '%' placeholders of their own.
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    tables = (*CHILD_TABLES, VERSION_TABLE)
    if vendor == "postgresql":
        for table in tables:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen ON {table};")
        schema_editor.execute("DROP FUNCTION IF EXISTS cai_refuse_frozen_child();")
        schema_editor.execute("DROP FUNCTION IF EXISTS cai_refuse_frozen_version();")
    elif vendor == "sqlite":
        for table in tables:
            for op in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_frozen_{op};")
        schema_editor.execute("DROP TABLE IF EXISTS cai_guard;")


class Migration(migrations.Migration):
    dependencies = [("constitutions", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
