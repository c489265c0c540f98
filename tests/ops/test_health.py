"""/health/ and `manage.py health`: database, broker, beat and a worker per queue."""

import json
import time

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from ops import checks, heartbeats

pytestmark = pytest.mark.django_db


def _all_alive(now: float | None = None) -> None:
    now = time.time() if now is None else now
    heartbeats.beat_stamp(now)
    for queue in heartbeats.QUEUES:
        heartbeats.worker_stamp(queue, f"celery@{queue}-host", now)


@pytest.fixture(autouse=True)
def _forget_heartbeats():
    from django.core.cache import cache

    keys = [heartbeats.BEAT_KEY, heartbeats.WORKERS_KEY]
    keys += [heartbeats.queue_key(q) for q in heartbeats.QUEUES]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def test_it_answers_200_when_everything_is_alive(client):
    _all_alive()
    response = client.get(reverse("ops:health"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "beat", "workers"}
    assert all(check["ok"] for check in body["checks"].values())
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_and_says_which_queue_has_no_worker(client):
    _all_alive()
    heartbeats.worker_stamp("bulk", "celery@old", time.time() - 3600)
    response = client.get(reverse("ops:health"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert not body["checks"]["workers"]["ok"]
    assert "bulk: no worker" in body["checks"]["workers"]["detail"]
    assert body["checks"]["beat"]["ok"] and body["checks"]["database"]["ok"]


def test_without_any_heartbeat_beat_and_workers_fail(client):
    body = client.get(reverse("ops:health")).json()
    assert not body["checks"]["beat"]["ok"]
    assert "never" in body["checks"]["beat"]["detail"]
    assert not body["checks"]["workers"]["ok"]


def test_only_runs_the_named_checks(client):
    response = client.get(reverse("ops:health"), {"only": "database,broker"})
    assert response.status_code == 200  # no heartbeats, but they were not asked about
    assert set(response.json()["checks"]) == {"database", "broker"}


def test_an_unknown_check_is_a_400(client):
    response = client.get(reverse("ops:health"), {"only": "database,coffee"})
    assert response.status_code == 400
    assert "coffee" in response.json()["error"]


def test_a_broken_broker_fails_without_a_500(client, settings):
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
            **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
            "data_folder_in": "/nonexistent/smsworks-broker",
        }
    else:
        from tests.simulator.process import free_port

        # A port nobody listens on: refused at once.
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get(reverse("ops:health"), {"only": "broker"})
    assert response.status_code == 503
    assert not response.json()["checks"]["broker"]["ok"]


def test_a_crashing_check_is_a_failed_check(client, monkeypatch):
    def boom():
        raise RuntimeError("surprise")

    monkeypatch.setitem(checks.CHECKS, "database", boom)
    response = client.get(reverse("ops:health"), {"only": "database"})
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "ok": False,
        "detail": "check crashed: RuntimeError",
    }


def test_the_answer_reveals_no_configuration(client, settings):
    _all_alive()
    text = client.get(reverse("ops:health")).content.decode()
    for secret in (settings.SECRET_KEY, settings.DATABASES["default"]["NAME"]):
        assert secret not in text
    assert "redis://" not in text


def test_the_command_prints_the_checks_and_exits_non_zero_when_one_fails(capsys):
    _all_alive()
    call_command("health")
    out = capsys.readouterr().out
    assert "ok   database" in out and "ok   workers" in out

    heartbeats.beat_stamp(time.time() - 3600)
    with pytest.raises(CommandError, match="unhealthy: beat"):
        call_command("health")
    assert "FAIL beat" in capsys.readouterr().out


def test_the_command_speaks_json_and_takes_only(capsys):
    call_command("health", "--json", "--only", "database")
    body = json.loads(capsys.readouterr().out)
    assert body == {
        "status": "ok",
        "checks": {"database": {"ok": True, "detail": body["checks"]["database"]["detail"]}},
    }
    with pytest.raises(CommandError, match="unknown check"):
        call_command("health", "--only", "coffee")


def test_the_heartbeat_task_stamps_its_queue_and_worker():
    from ops.tasks import heartbeat

    heartbeat.apply(args=("bulk",))  # no worker: runs here, hostname unknown
    assert heartbeats.queue_last("bulk")["at"] > time.time() - 60
    assert "bulk" in next(iter(heartbeats.workers_last().values()))
    assert not checks.check_workers().ok  # the other queues are still silent
