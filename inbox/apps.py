from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"

    def ready(self) -> None:
        from inbox import receivers  # noqa: F401 - connects the engine's signals
