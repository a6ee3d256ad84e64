from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from training import services
from training.models import Run


class Command(BaseCommand):
    help = "Cancel a run (running shards stop after their current batch; results are kept)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)

    def handle(self, *args, run_id: int, **options) -> None:
        run = Run.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no run #{run_id}")
        try:
            run = services.run_cancel(run=run)
        except services.TrainingError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"run #{run.pk}: cancel requested ({run.status})")
