"""The derived facts move here from the kpis app, state only: their tables, triggers and
functions were created by the kpis migrations 0002-0005 and keep their names."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("kpis", "0005_day_sums_and_relabelled_customers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
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
                    name="LedgerState",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("built_at", models.DateTimeField(null=True)),
                    ],
                    options={
                        "db_table": "kpis_ledger_state",
                    },
                ),
                migrations.CreateModel(
                    name="MrrDay",
                    fields=[
                        ("new", models.DecimalField(decimal_places=12, max_digits=30, null=True)),
                        (
                            "reactivation",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        (
                            "expansion",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        (
                            "contraction",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        ("churn", models.DecimalField(decimal_places=12, max_digits=30, null=True)),
                        ("net", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("starts", models.IntegerField()),
                        ("churns", models.IntegerField()),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "day",
                                "country",
                                "channel",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("day", models.DateField()),
                        ("country", models.CharField(max_length=64)),
                        ("channel", models.CharField(max_length=255)),
                        (
                            "cohort_change",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        (
                            "cohort_loss",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        ("cohort_lost", models.IntegerField()),
                    ],
                    options={
                        "db_table": "kpis_mrr_day",
                    },
                ),
                migrations.CreateModel(
                    name="MrrMovement",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "source",
                                "customer_ref",
                                "day",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("source", models.CharField(max_length=64)),
                        ("customer_ref", models.CharField(max_length=255)),
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
                        ("previous_day", models.DateField(null=True)),
                        ("next_day", models.DateField(null=True)),
                    ],
                    options={
                        "db_table": "kpis_mrr_movement",
                    },
                ),
                migrations.CreateModel(
                    name="MrrPlanDay",
                    fields=[
                        ("new", models.DecimalField(decimal_places=12, max_digits=30, null=True)),
                        (
                            "reactivation",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        (
                            "expansion",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        (
                            "contraction",
                            models.DecimalField(decimal_places=12, max_digits=30, null=True),
                        ),
                        ("churn", models.DecimalField(decimal_places=12, max_digits=30, null=True)),
                        ("net", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("starts", models.IntegerField()),
                        ("churns", models.IntegerField()),
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "day",
                                "source",
                                "plan_ref",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("day", models.DateField()),
                        ("source", models.CharField(max_length=64)),
                        ("plan_ref", models.CharField(max_length=255)),
                    ],
                    options={
                        "db_table": "kpis_mrr_plan_day",
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
                migrations.CreateModel(
                    name="RelabelledCustomer",
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
                        "db_table": "kpis_relabelled_customer",
                    },
                ),
                migrations.CreateModel(
                    name="RevenueDay",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "day",
                                "country",
                                "channel",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("day", models.DateField()),
                        ("country", models.CharField(max_length=64)),
                        ("channel", models.CharField(max_length=255)),
                        ("net", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("charged", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("order_amount", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("payments", models.IntegerField()),
                        ("charges", models.IntegerField()),
                        ("orders", models.IntegerField()),
                        ("paying_day", models.IntegerField()),
                        ("paying_week", models.IntegerField()),
                        ("paying_month", models.IntegerField()),
                        ("paying_quarter", models.IntegerField()),
                        ("paying_year", models.IntegerField()),
                    ],
                    options={
                        "db_table": "kpis_revenue_day",
                    },
                ),
                migrations.CreateModel(
                    name="CustomerFact",
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
                        ("first_paid_day", models.DateField()),
                        ("revenue_to_date", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("country", models.CharField(default="unknown", max_length=64)),
                        ("channel", models.CharField(default="unknown", max_length=255)),
                        ("campaign", models.CharField(default="unknown", max_length=255)),
                    ],
                    options={
                        "db_table": "kpis_customer_fact",
                        "indexes": [
                            models.Index(fields=["first_paid_day"], name="customer_fact_first_paid")
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="DataWarning",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("kind", models.CharField(max_length=64)),
                        ("dataset", models.CharField(max_length=64)),
                        ("source", models.CharField(max_length=64)),
                        ("external_id", models.CharField(max_length=255)),
                        ("customer_ref", models.CharField(blank=True, default="", max_length=255)),
                        ("day", models.DateField(null=True)),
                        ("message", models.CharField(max_length=500)),
                        ("created_at", models.DateTimeField()),
                    ],
                    options={
                        "db_table": "kpis_data_warning",
                        "indexes": [
                            models.Index(
                                fields=["kind", "source", "customer_ref"], name="warning_customer"
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="PaymentDay",
                    fields=[
                        (
                            "pk",
                            models.CompositePrimaryKey(
                                "source",
                                "customer_ref",
                                "day",
                                blank=True,
                                editable=False,
                                primary_key=True,
                                serialize=False,
                            ),
                        ),
                        ("source", models.CharField(max_length=64)),
                        ("customer_ref", models.CharField(max_length=255)),
                        ("day", models.DateField()),
                        ("net", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("charged", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("order_amount", models.DecimalField(decimal_places=12, max_digits=30)),
                        ("payments", models.IntegerField()),
                        ("charges", models.IntegerField()),
                        ("orders", models.IntegerField()),
                        ("paid", models.IntegerField()),
                        ("unconverted", models.IntegerField()),
                        ("previous_charge_day", models.DateField(null=True)),
                    ],
                    options={
                        "db_table": "kpis_payment_day",
                        "indexes": [models.Index(fields=["day"], name="payment_day_day")],
                    },
                ),
            ],
        ),
    ]
