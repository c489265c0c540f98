"""A worker killed with SIGKILL in the middle of a launch, then the relaunch: every
recipient gets exactly one outbox row, none is missing.

The launch writes the audience in one INSERT ... SELECT inside one transaction, so
the killed launch leaves nothing half-written; the campaign stays "launching" and
the beat tick relaunches it once the claim is stale."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import launch
from campaigns.models import Campaign
from contacts.models import ContactList
from messaging.models import Message, Status
from tests.factories import SenderFactory
from tests.processes import celery_worker, kill, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RECIPIENTS = 30_000
OPTED_OUT_EVERY = 100


def _execute(sql: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@pytest.fixture
def big_audience():
    if connection.vendor != "postgresql":
        pytest.skip("the crash is timed against PostgreSQL's view of the running INSERT")
    _execute(
        """
        INSERT INTO contacts_contact (phone, first_name, last_name, email, custom, time_zone,
            country, source, opted_out, opted_out_at, created_at, updated_at)
        SELECT '+4479' || lpad(g::text, 8, '0'), 'Ada', 'Example', '', '{}'::jsonb,
               'Europe/London', 'GB', 'import', g %% %(every)s = 0,
               CASE WHEN g %% %(every)s = 0 THEN now() END, now(), now()
        FROM generate_series(1, %(n)s) AS g
        """,
        {"n": RECIPIENTS, "every": OPTED_OUT_EVERY},
    )
    _execute(
        "INSERT INTO contacts_suppression (phone, contact_id, source, created_at) "
        "SELECT phone, id, 'keyword', now() FROM contacts_contact WHERE opted_out"
    )
    everyone = ContactList.objects.create(name="Everyone")
    _execute(
        "INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at) "
        "SELECT %s, id, now() FROM contacts_contact",
        [everyone.pk],
    )
    _execute("ANALYZE contacts_contact, contacts_listmembership, contacts_suppression")
    campaign = Campaign.objects.create(
        name="Big launch",
        sender=SenderFactory(),
        body="Hi {{ first_name | there }}, the sale is on",
        respect_quiet_hours=False,
    )
    campaign.lists.set([everyone])
    return campaign


def _launch_running() -> bool:
    """The worker's INSERT of the outbox rows is running in PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state = 'active' "
            "AND query LIKE '%%INSERT INTO messaging_message (%%'"
        )
        return cursor.fetchone()[0] > 0


def _no_backend_runs_the_insert() -> bool:
    return not _launch_running()


def test_a_worker_killed_mid_launch_then_relaunched_writes_each_recipient_once(big_audience):
    campaign = big_audience
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now()
    )
    # Only the launch runs in this worker: dispatch has no provider to reach here.
    with celery_worker(queues="default,bulk,transactional") as worker:
        from campaigns import tasks

        tasks.launch.delay(campaign.pk)
        wait_for(_launch_running, timeout=60, interval=0.01, what="the launch's INSERT")
        kill(worker)

    # The killed transaction never commits: PostgreSQL rolls it back when it notices.
    wait_for(_no_backend_runs_the_insert, timeout=60, what="the killed INSERT to end")
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LAUNCHING
    assert Message.objects.filter(campaign_id=campaign.pk).count() == 0

    # Not stale yet: beat's tick leaves a launch another worker may still be running.
    assert campaign.pk not in launch.campaigns_due()
    Campaign.objects.filter(pk=campaign.pk).update(
        updated_at=timezone.now() - launch.STALE_LAUNCH - timedelta(seconds=1)
    )
    assert campaign.pk in launch.campaigns_due()

    assert launch.campaign_launch(campaign_id=campaign.pk) is True
    assert launch.campaign_launch(campaign_id=campaign.pk) is False  # claimed once

    rows = Message.objects.filter(campaign_id=campaign.pk)
    suppressed = RECIPIENTS // OPTED_OUT_EVERY
    assert rows.count() == RECIPIENTS
    assert rows.values("contact_id").distinct().count() == RECIPIENTS
    assert rows.filter(status=Status.SUPPRESSED).count() == suppressed
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients, campaign.suppressed) == (
        Campaign.Status.SENDING,
        RECIPIENTS - suppressed,
        suppressed,
    )
