"""The plan ledger, and the customers whose MRR segments changed, recorded by triggers.

The ledger used to find changed customers by ``data_mrr_segments.updated_at`` after a
watermark; ``updated_at`` is the writing transaction's start time, so a write that started
before a ledger build and committed after it was never picked up. Statement-level triggers
(with transition tables: one statement per write, not one per row) record the customers
instead, inside the writing transaction. The data app does not know about KPIs: the
triggers belong to this app.
"""

from django.db import migrations, models

# Table names are qualified with the trigger's schema, so the function works whatever the
# caller's search_path and survives the schema renames of the signup pool.
MARK_DIRTY_FUNCTION = """
CREATE FUNCTION kpis_mark_ledger_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := 'SELECT source, customer_ref FROM new_rows';
    ELSIF TG_OP = 'UPDATE' THEN
        -- Both sides: a segment moved to another customer changes the two.
        changed := 'SELECT source, customer_ref FROM new_rows '
                   'UNION SELECT source, customer_ref FROM old_rows';
    ELSIF TG_OP = 'DELETE' THEN
        changed := 'SELECT source, customer_ref FROM old_rows';
    ELSE
        -- TRUNCATE has no transition table: every customer in the ledger changed.
        changed := format('SELECT source, customer_ref FROM %I.kpis_mrr_movement',
                          TG_TABLE_SCHEMA);
    END IF;
    EXECUTE format(
        'INSERT INTO %I.kpis_ledger_dirty_customer (source, customer_ref) '
        'SELECT DISTINCT source, customer_ref FROM (%s) changed ON CONFLICT DO NOTHING',
        TG_TABLE_SCHEMA, changed);
    RETURN NULL;
END
$$;
CREATE TRIGGER kpis_ledger_dirty_insert AFTER INSERT ON data_mrr_segments
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_ledger_dirty();
CREATE TRIGGER kpis_ledger_dirty_update AFTER UPDATE ON data_mrr_segments
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_ledger_dirty();
CREATE TRIGGER kpis_ledger_dirty_delete AFTER DELETE ON data_mrr_segments
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_ledger_dirty();
CREATE TRIGGER kpis_ledger_dirty_truncate AFTER TRUNCATE ON data_mrr_segments
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_ledger_dirty();
"""

DROP_MARK_DIRTY = """
DROP TRIGGER kpis_ledger_dirty_insert ON data_mrr_segments;
DROP TRIGGER kpis_ledger_dirty_update ON data_mrr_segments;
DROP TRIGGER kpis_ledger_dirty_delete ON data_mrr_segments;
DROP TRIGGER kpis_ledger_dirty_truncate ON data_mrr_segments;
DROP FUNCTION kpis_mark_ledger_dirty();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("kpis", "0002_ledger_and_computations"),
        ("data", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerDirtyCustomer",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "source",
                        "customer_ref",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("source", models.CharField(max_length=64)),
                ("customer_ref", models.CharField(max_length=255)),
            ],
            options={
                "db_table": "kpis_ledger_dirty_customer",
            },
        ),
        migrations.CreateModel(
            name="MrrPlanMovement",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "source",
                        "customer_ref",
                        "plan_ref",
                        "day",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("source", models.CharField(max_length=64)),
                ("customer_ref", models.CharField(max_length=255)),
                ("plan_ref", models.CharField(max_length=255)),
                ("day", models.DateField()),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("new", "New business"),
                            ("expansion", "Expansion"),
                            ("contraction", "Contraction"),
                            ("churn", "Churn"),
                            ("reactivation", "Reactivation"),
                        ],
                        max_length=12,
                    ),
                ),
                ("amount", models.DecimalField(decimal_places=12, max_digits=30)),
                ("mrr_before", models.DecimalField(decimal_places=12, max_digits=30)),
                ("mrr_after", models.DecimalField(decimal_places=12, max_digits=30)),
            ],
            options={
                "db_table": "kpis_mrr_plan_movement",
            },
        ),
        # Derived, rebuildable data: no WAL (see MrrMovement).
        migrations.RunSQL(
            "ALTER TABLE kpis_mrr_plan_movement SET UNLOGGED",
            reverse_sql="ALTER TABLE kpis_mrr_plan_movement SET LOGGED",
        ),
        migrations.RemoveField(
            model_name="ledgerstate",
            name="segments_seen_until",
        ),
        # Ledgers built under the old watermark may have missed writes: rebuild them fully.
        migrations.RunSQL("UPDATE kpis_ledger_state SET built_at = NULL", migrations.RunSQL.noop),
        migrations.RunSQL(MARK_DIRTY_FUNCTION, DROP_MARK_DIRTY),
    ]
