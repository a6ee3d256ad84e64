"""The API's own idempotency table goes: a run start's key lives on the run
(``Run.idempotency_key`` with ``idempotency_fingerprint``, training 0005), the one
mechanism for launch pages and the API. Keys already stored move onto their runs
first (a run that has a key of its own keeps it; a key a team used twice moves once)."""

from django.db import migrations


def keys_onto_runs(apps, schema_editor):
    IdempotencyKey = apps.get_model("api", "IdempotencyKey")
    Run = apps.get_model("training", "Run")
    taken = set(Run.objects.exclude(idempotency_key="").values_list("team_id", "idempotency_key"))
    for row in IdempotencyKey.objects.order_by("pk").iterator():
        key = row.key[:200]
        if (row.team_id, key) in taken:
            continue
        moved = Run.objects.filter(pk=row.run_id, idempotency_key="").update(
            idempotency_key=key, idempotency_fingerprint=row.request_hash
        )
        if moved:
            taken.add((row.team_id, key))


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_api_tokens_and_idempotency_keys"),
        ("training", "0005_run_idempotency_fingerprint"),
    ]

    operations = [
        migrations.RunPython(keys_onto_runs, migrations.RunPython.noop),
        migrations.DeleteModel(name="IdempotencyKey"),
    ]
