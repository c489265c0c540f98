"""Integrations pages (event webhooks, QR codes): Admin only."""

from tests.pages_common import ADMIN_ONLY, POST_ONLY_ADMIN


def _endpoint(world):
    from integrations.services import endpoint_create

    return {"pk": endpoint_create(url="https://example.com/hook", events=["message.received"]).pk}


def _delivery(world):
    from integrations.services import endpoint_create, endpoint_send_test

    endpoint = endpoint_create(url="https://example.com/hook", events=["message.received"])
    return {"pk": endpoint_send_test(endpoint=endpoint).pk}


def _sender(world):
    return {"pk": world["sender"].pk}


PAGES = [
    ("integrations:index", None, ADMIN_ONLY),
    ("integrations:endpoint_list", None, ADMIN_ONLY),
    ("integrations:endpoint_create", None, ADMIN_ONLY),
    ("integrations:endpoint_detail", _endpoint, ADMIN_ONLY),
    ("integrations:endpoint_edit", _endpoint, ADMIN_ONLY),
    ("integrations:endpoint_delete", _endpoint, ADMIN_ONLY),
    ("integrations:endpoint_test", _endpoint, POST_ONLY_ADMIN),
    ("integrations:endpoint_roll_secret", _endpoint, POST_ONLY_ADMIN),
    ("integrations:delivery_detail", _delivery, ADMIN_ONLY),
    ("integrations:delivery_replay", _delivery, POST_ONLY_ADMIN),
    ("integrations:qr_index", None, ADMIN_ONLY),
    ("integrations:qr_png", _sender, ADMIN_ONLY),
    ("integrations:qr_svg", _sender, ADMIN_ONLY),
    ("integrations:qr_poster", _sender, ADMIN_ONLY),
]
