from django.apps import AppConfig


class LabellingConfig(AppConfig):
    name = "labelling"
    verbose_name = "AI labels and human review"
    default_auto_field = "django.db.models.BigAutoField"
