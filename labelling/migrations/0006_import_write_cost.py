"""Cheaper label writes: no index a composite index already leads with, and no database
constraint on the AI label's copy of its comparison's set (issue 9: a million-label
import spent about a fifth of its PostgreSQL time checking it)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("labelling", "0005_approval_history"),
    ]

    operations = [
        migrations.AlterField(
            model_name="ailabel",
            name="comparison",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ai_labels",
                to="labelling.comparison",
            ),
        ),
        migrations.AlterField(
            model_name="ailabel",
            name="label_set",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="ai_labels",
                to="labelling.labelset",
            ),
        ),
        migrations.AlterField(
            model_name="comparison",
            name="label_set",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="comparisons",
                to="labelling.labelset",
            ),
        ),
    ]
