from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0005_run_idempotency_fingerprint"),
    ]

    operations = [
        migrations.AddField(
            model_name="runshard",
            name="log_lines",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
