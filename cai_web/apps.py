from django.apps import AppConfig


class CaiWebConfig(AppConfig):
    name = "cai_web"
    verbose_name = "Teams"
