from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training runs"
    default_auto_field = "django.db.models.BigAutoField"
