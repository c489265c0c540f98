from django.apps import AppConfig


class EmailsmsConfig(AppConfig):
    name = "emailsms"
    default_auto_field = "django.db.models.BigAutoField"
