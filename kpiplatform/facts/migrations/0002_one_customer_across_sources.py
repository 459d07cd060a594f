"""One customer across sources: a customer's labels from the lead it came from, and each
lead linked to the customer it became, matched by e-mail (case and surrounding spaces aside)
or by the lead's customer_ref in its own source (kpiplatform/facts/identity.py).

Two views, always current, so no refresh step can miss a change: ``kpis_customer_label``
(read by every fact summed per customer label instead of the customers themselves) and
``kpis_lead_customer`` (read by the lead KPIs). Indexes on the e-mail key serve the matches.
The customers' trigger now also records a change of e-mail, and a trigger on the leads
records the customers whose matching leads changed, so that the facts summed per label
move their history as for any relabel.
"""

from django.db import migrations, models

# Candidates are ordered the same way everywhere (the earliest, then by source and id), so
# every choice is deterministic.
CREATE_VIEWS = """
CREATE INDEX data_leads_email_key ON data_leads (lower(btrim(email)), created_at)
    WHERE deleted_at IS NULL AND btrim(email) <> '';
CREATE INDEX data_leads_customer_ref ON data_leads (source, customer_ref, created_at)
    WHERE deleted_at IS NULL AND customer_ref <> '';
CREATE INDEX data_customers_email_key ON data_customers (lower(btrim(email)), created_at)
    WHERE deleted_at IS NULL AND btrim(email) <> '';

CREATE VIEW kpis_customer_label AS
SELECT c.source, c.external_id AS customer_ref, c.country,
       CASE WHEN c.channel <> '' OR lead.source IS NULL THEN c.channel ELSE lead.channel END
           AS channel,
       CASE WHEN c.channel <> '' OR lead.source IS NULL THEN c.campaign ELSE lead.campaign END
           AS campaign,
       coalesce(lead.source, '') AS lead_source, coalesce(lead.external_id, '') AS lead_ref
FROM data_customers c
LEFT JOIN LATERAL (
    SELECT candidate.* FROM (
        SELECT l.source, l.external_id, l.channel, l.campaign, l.created_at
        FROM data_leads l
        WHERE l.deleted_at IS NULL AND l.customer_ref <> ''
          AND l.source = c.source AND l.customer_ref = c.external_id
        UNION ALL
        SELECT l.source, l.external_id, l.channel, l.campaign, l.created_at
        FROM data_leads l
        WHERE l.deleted_at IS NULL AND btrim(l.email) <> '' AND btrim(c.email) <> ''
          AND lower(btrim(l.email)) = lower(btrim(c.email))
    ) candidate
    ORDER BY candidate.created_at, candidate.source, candidate.external_id
    LIMIT 1
) lead ON true
WHERE c.deleted_at IS NULL;

CREATE VIEW kpis_lead_customer AS
SELECT l.source, l.external_id AS lead_ref, l.created_at, l.channel, l.campaign,
       coalesce(became.source, '') AS customer_source,
       coalesce(became.external_id, '') AS customer_ref,
       least(l.customer_at, f.first_paid_day::timestamp AT TIME ZONE 'UTC') AS customer_at
FROM data_leads l
LEFT JOIN LATERAL (
    SELECT candidate.source, candidate.external_id FROM (
        SELECT c.source, c.external_id, 0 AS rank, c.created_at
        FROM data_customers c
        WHERE l.customer_ref <> '' AND c.deleted_at IS NULL
          AND c.source = l.source AND c.external_id = l.customer_ref
        UNION ALL
        SELECT c.source, c.external_id, 1, c.created_at
        FROM data_customers c
        WHERE btrim(l.email) <> '' AND c.deleted_at IS NULL AND btrim(c.email) <> ''
          AND lower(btrim(c.email)) = lower(btrim(l.email))
    ) candidate
    ORDER BY candidate.rank, candidate.created_at NULLS LAST, candidate.source,
             candidate.external_id
    LIMIT 1
) became ON true
LEFT JOIN kpis_customer_fact f
       ON f.source = became.source AND f.customer_ref = became.external_id
WHERE l.deleted_at IS NULL;
"""

DROP_VIEWS = """
DROP VIEW kpis_lead_customer;
DROP VIEW kpis_customer_label;
DROP INDEX data_leads_email_key;
DROP INDEX data_leads_customer_ref;
DROP INDEX data_customers_email_key;
"""

# The customers' trigger function of kpis migration 0005, now also counting a change of
# e-mail (it moves the customer to another lead, hence other labels).
CUSTOMERS_FUNCTION = """
CREATE OR REPLACE FUNCTION kpis_mark_customers_relabelled() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := 'SELECT source, external_id FROM new_rows';
    ELSIF TG_OP = 'UPDATE' THEN
        changed := 'SELECT side.source, side.external_id FROM new_rows n '
                   'JOIN old_rows o ON o.id = n.id '
                   'CROSS JOIN LATERAL (VALUES (n.source, n.external_id), '
                   '                           (o.source, o.external_id)) side(source, external_id) '
                   'WHERE (n.source, n.external_id, n.country, n.channel, n.campaign, '
                   '       lower(btrim(n.email)), n.deleted_at IS NULL) IS DISTINCT FROM '
                   '      (o.source, o.external_id, o.country, o.channel, o.campaign, '
                   '       lower(btrim(o.email)), o.deleted_at IS NULL)';
    ELSIF TG_OP = 'DELETE' THEN
        changed := 'SELECT source, external_id FROM old_rows';
    ELSE
        changed := format('SELECT source, customer_ref FROM %I.kpis_payment_day',
                          TG_TABLE_SCHEMA);
    END IF;
    EXECUTE format(
        'INSERT INTO %I.kpis_relabelled_customer (source, customer_ref) '
        'SELECT DISTINCT source, external_id FROM (%s) changed(source, external_id) '
        'ON CONFLICT DO NOTHING',
        TG_TABLE_SCHEMA, changed);
    RETURN NULL;
END
$$;
"""

CUSTOMERS_FUNCTION_BEFORE = CUSTOMERS_FUNCTION.replace(
    "lower(btrim(n.email)), n.deleted_at", "n.deleted_at"
).replace("lower(btrim(o.email)), o.deleted_at", "o.deleted_at")

# A lead written, changed or removed relabels the customers it may be the lead of: those of
# its e-mail (before and after the change) and the one its customer_ref names. Schema
# qualified like the customers' function (a trigger runs with the writer's search path).
LEADS_TRIGGERS = """
CREATE FUNCTION kpis_mark_lead_customers_relabelled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := 'SELECT source, email, customer_ref FROM new_rows';
    ELSIF TG_OP = 'UPDATE' THEN
        changed := 'SELECT side.source, side.email, side.customer_ref FROM new_rows n '
                   'JOIN old_rows o ON o.id = n.id '
                   'CROSS JOIN LATERAL (VALUES (n.source, n.email, n.customer_ref), '
                   '    (o.source, o.email, o.customer_ref)) side(source, email, customer_ref) '
                   'WHERE (n.source, n.external_id, lower(btrim(n.email)), n.customer_ref, '
                   '       n.created_at, n.channel, n.campaign, n.deleted_at IS NULL) '
                   '      IS DISTINCT FROM '
                   '      (o.source, o.external_id, lower(btrim(o.email)), o.customer_ref, '
                   '       o.created_at, o.channel, o.campaign, o.deleted_at IS NULL)';
    ELSIF TG_OP = 'DELETE' THEN
        changed := 'SELECT source, email, customer_ref FROM old_rows';
    ELSE
        -- TRUNCATE has no transition table: every customer may have lost its lead.
        changed := format('SELECT source, email, external_id FROM %I.data_customers',
                          TG_TABLE_SCHEMA);
    END IF;
    EXECUTE format(
        'WITH changed(source, email, customer_ref) AS (%2$s) '
        'INSERT INTO %1$I.kpis_relabelled_customer (source, customer_ref) '
        'SELECT c.source, c.external_id FROM changed '
        'JOIN %1$I.data_customers c ON btrim(c.email) <> '''' '
        '     AND lower(btrim(c.email)) = lower(btrim(changed.email)) '
        'WHERE btrim(changed.email) <> '''' '
        'UNION SELECT source, customer_ref FROM changed WHERE customer_ref <> '''' '
        'ON CONFLICT DO NOTHING',
        TG_TABLE_SCHEMA, changed);
    RETURN NULL;
END
$$;
CREATE TRIGGER kpis_lead_customers_insert AFTER INSERT ON data_leads
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_lead_customers_relabelled();
CREATE TRIGGER kpis_lead_customers_update AFTER UPDATE ON data_leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_lead_customers_relabelled();
CREATE TRIGGER kpis_lead_customers_delete AFTER DELETE ON data_leads
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_lead_customers_relabelled();
CREATE TRIGGER kpis_lead_customers_truncate AFTER TRUNCATE ON data_leads
    FOR EACH STATEMENT EXECUTE FUNCTION kpis_mark_lead_customers_relabelled();
"""

DROP_LEADS_TRIGGERS = """
DROP TRIGGER kpis_lead_customers_insert ON data_leads;
DROP TRIGGER kpis_lead_customers_update ON data_leads;
DROP TRIGGER kpis_lead_customers_delete ON data_leads;
DROP TRIGGER kpis_lead_customers_truncate ON data_leads;
DROP FUNCTION kpis_mark_lead_customers_relabelled();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("facts", "0001_initial"),
        ("data", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="CustomerLabel",
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
                ("country", models.CharField(max_length=2)),
                ("channel", models.CharField(max_length=100)),
                ("campaign", models.CharField(max_length=255)),
                ("lead_source", models.CharField(max_length=64)),
                ("lead_ref", models.CharField(max_length=255)),
            ],
            options={
                "db_table": "kpis_customer_label",
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="LeadCustomer",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "source",
                        "lead_ref",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("source", models.CharField(max_length=64)),
                ("lead_ref", models.CharField(max_length=255)),
                ("created_at", models.DateTimeField()),
                ("channel", models.CharField(max_length=100)),
                ("campaign", models.CharField(max_length=255)),
                ("customer_source", models.CharField(max_length=64)),
                ("customer_ref", models.CharField(max_length=255)),
                ("customer_at", models.DateTimeField(null=True)),
            ],
            options={
                "db_table": "kpis_lead_customer",
                "managed": False,
            },
        ),
        migrations.RunSQL(CREATE_VIEWS, DROP_VIEWS),
        migrations.RunSQL(CUSTOMERS_FUNCTION, CUSTOMERS_FUNCTION_BEFORE),
        migrations.RunSQL(LEADS_TRIGGERS, DROP_LEADS_TRIGGERS),
        # The facts summed per label are built anew, with the labels leads now give.
        migrations.RunSQL("UPDATE kpis_ledger_state SET built_at = NULL", migrations.RunSQL.noop),
    ]
