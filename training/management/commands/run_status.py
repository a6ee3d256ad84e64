from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from training.models import Run


class Command(BaseCommand):
    help = "Show a run's status, progress and shards."

    def add_arguments(self, parser) -> None:
        parser.add_argument("run_id", type=int)

    def handle(self, *args, run_id: int, **options) -> None:
        run = Run.objects.filter(pk=run_id).select_related("team").first()
        if run is None:
            raise CommandError(f"no run #{run_id}")
        eta = f"{run.eta_seconds:.0f} s" if run.eta_seconds is not None else "-"
        self.stdout.write(
            f"run #{run.pk} ({run.team.slug}, {run.kind}) {run.status}\n"
            f"  progress {run.done_units}/{run.total_units} generations ({run.percent:.1f}%), "
            f"{run.examples_done}/{run.examples_total} examples\n"
            f"  stage {run.stage or '-'} round {run.round}, {run.tokens_per_s:.1f} tok/s, ETA {eta}, "
            f"heartbeat {run.heartbeat_at or '-'}"
        )
        for shard in run.shards.order_by("index"):
            self.stdout.write(
                f"  shard {shard.index} [{shard.start}, {shard.end}) {shard.status} "
                f"{shard.done_units}/{shard.total_units} attempts={shard.attempts} worker={shard.worker or '-'}"
                + (f" error={shard.error}" if shard.error else "")
            )
        if run.error:
            self.stdout.write(f"  error: {run.error}")
