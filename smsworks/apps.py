from django.apps import AppConfig


class SmsworksConfig(AppConfig):
    name = "smsworks"
    verbose_name = "smsworks"
