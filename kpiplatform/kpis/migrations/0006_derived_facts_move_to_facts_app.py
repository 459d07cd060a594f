"""The derived facts now belong to the facts app (state only: no table changes)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("facts", "0001_initial"),
        ("kpis", "0005_day_sums_and_relabelled_customers"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name="CustomerFact",
                ),
                migrations.DeleteModel(
                    name="DataWarning",
                ),
                migrations.DeleteModel(
                    name="LedgerDirtyCustomer",
                ),
                migrations.DeleteModel(
                    name="LedgerState",
                ),
                migrations.DeleteModel(
                    name="MrrDay",
                ),
                migrations.DeleteModel(
                    name="MrrMovement",
                ),
                migrations.DeleteModel(
                    name="MrrPlanDay",
                ),
                migrations.DeleteModel(
                    name="MrrPlanMovement",
                ),
                migrations.DeleteModel(
                    name="PaymentDay",
                ),
                migrations.DeleteModel(
                    name="RelabelledCustomer",
                ),
                migrations.DeleteModel(
                    name="RevenueDay",
                ),
            ],
        ),
    ]
