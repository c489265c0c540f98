"""One drill: a campaign of N messages to N contacts, launched by beat and sent by the
real workers through the SMS Works backend to the simulator, with live receipts and
inbound texts, while faults hit the platform; then the invariant checker.

Each fault waits until the campaign has moved on (more messages accepted by the
provider) since the previous one, so every fault lands mid-send.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from tests.drills import checker
from tests.drills.harness import DrillError, Platform, wait_until

log = logging.getLogger("drills")

SENDER_NUMBER = "+447700900555"
# Deterministic randomness (which receipts the storm repeats, who texts in).
SEED = 20261204


@dataclass
class DrillConfig:
    messages: int
    rate: int  # the sender's messages per second: paces the send so faults land mid-send
    faults: list[str]
    inbound: int  # inbound texts during the send
    down_seconds: float = 8.0  # provider down, Redis down
    slow_seconds: float = 10.0  # provider slow / timing out
    storm_size: int = 300  # messages whose receipts the storm repeats
    settle_timeout: float = 300.0
    send_timeout: float = 600.0


@dataclass
class DrillResult:
    findings: checker.Findings
    seconds: float
    faults: list[tuple[str, float, str]] = field(default_factory=list)  # name, at (s), note
    restarts: dict[str, list[int]] = field(default_factory=dict)

    def describe(self) -> str:
        lines = [f"drill took {self.seconds:.0f}s: {self.findings.summary()}"]
        lines += [f"  {at:6.1f}s {name}: {note}" for name, at, note in self.faults]
        if self.restarts:
            lines.append(f"  processes that exited by themselves (exit codes): {self.restarts}")
        return "\n".join(lines)


# --- the data -----------------------------------------------------------------------------
def _execute(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def contacts_create(n: int) -> None:
    """N contacts and a list holding them, set-based (two INSERT ... SELECT)."""
    _execute(
        """
        INSERT INTO contacts_contact (phone, first_name, last_name, email, custom, time_zone,
            country, source, opted_out, created_at, updated_at)
        SELECT '+4477' || lpad(g::text, 8, '0'),
               (ARRAY['Ada','Alan','Grace','Tim','Karen','Sophie','Radia','Linus',''])[1 + g %% 9],
               'Drill', '', '{}'::jsonb, 'Europe/London', 'GB', 'import', false, now(), now()
        FROM generate_series(1, %(n)s) AS g
        """,
        {"n": n},
    )


def setup_campaign(platform: Platform, config: DrillConfig):
    """Provider account (the simulator, through its gate), sender, contacts, list and a
    campaign, scheduled to start now; beat's campaigns.tick launches it."""
    from django.contrib.auth.models import User

    from campaigns.launch import links_save
    from campaigns.models import Campaign
    from contacts.models import ContactList
    from messaging.models import ProviderAccount, Sender

    account = ProviderAccount.objects.create(
        name="drill",
        backend="smsworks",
        base_url=platform.gate.url,
        credentials={"jwt": platform.sim.token()},
        timeout_seconds=5,
    )
    sender = Sender.objects.create(
        account=account,
        value=SENDER_NUMBER,
        messages_per_second=config.rate,
        is_default=True,
    )
    contacts_create(config.messages)
    the_list = ContactList.objects.create(name="Drill")
    _execute(
        "INSERT INTO contacts_listmembership (contact_list_id, contact_id, added_at) "
        "SELECT %s, id, now() FROM contacts_contact WHERE last_name = 'Drill'",
        [the_list.pk],
    )
    _execute("ANALYZE contacts_contact")
    _execute("ANALYZE contacts_listmembership")
    admin = User.objects.create_superuser("drill", "drill@example.com", "x" * 20)
    campaign = Campaign.objects.create(
        name="Drill",
        sender=sender,
        body="Hi {{ first_name | there }}, the drill is on.",
        shorten_links=False,
        opt_out_footer=False,
        respect_quiet_hours=False,
        created_by=admin,
    )
    campaign.lists.set([the_list])
    links_save(campaign)
    return account, sender, campaign


def schedule_now(campaign) -> None:
    from django.utils import timezone

    from campaigns.models import Campaign

    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SCHEDULED, scheduled_at=timezone.now()
    )


def inbound_url(account, platform: Platform) -> str:
    from django.urls import reverse

    from messaging.services import backend_of

    path = reverse("messaging:webhook_inbound", args=[account.public_id])
    return f"{platform.web_url}{path}{backend_of(account).webhook_query()}"


# --- what happens during the send ------------------------------------------------------------
class Texter(threading.Thread):
    """Phones text the platform during the send (through the simulator, which retries
    while the platform does not answer). Keeps the ids of every text sent."""

    def __init__(self, platform: Platform, count: int, numbers: int, every: float) -> None:
        super().__init__(daemon=True)
        self.platform, self.count, self.numbers, self.every = platform, count, numbers, every
        self.ids: list[str] = []
        self.errors: list[str] = []
        self.halt = threading.Event()
        self.rng = random.Random(SEED)

    def run(self) -> None:
        sent = 0
        while sent < self.count and not self.halt.is_set():
            number = f"4477{self.rng.randint(1, self.numbers):08d}"
            body = {"from": number, "to": SENDER_NUMBER.lstrip("+"), "body": f"Thanks {sent}"}
            try:
                answer = httpx.post(f"{self.platform.sim.url}/_sim/inbound", json=body, timeout=30)
                data = answer.json()
                if data.get("messageid"):
                    self.ids.append(data["messageid"])
                    sent += 1
                else:
                    self.errors.append(str(data))
            except (httpx.HTTPError, ValueError) as exc:
                self.errors.append(repr(exc))
            self.halt.wait(self.every)


def receipt_storm(platform: Platform, size: int) -> str:
    """Duplicate and out-of-order receipts: each final receipt of `size` messages three
    more times, a stale SENT after it, and an early SENT for messages whose receipt is
    still to come; shuffled and posted 16 at a time."""
    rng = random.Random(SEED)
    messages = checker.simulator_messages(platform.sim.url, 100_000)
    final = [m for m in messages if m["status"] in checker.RECEIPT_STATUS]
    early = [m for m in messages if m["status"] == "SENT"][: size // 2]
    chosen = rng.sample(final, min(size, len(final)))
    posts: list[tuple[str, dict]] = []
    for m in chosen:
        posts += [(m["deliveryreporturl"], _receipt(m, m["status"]))] * 3
        posts.append((m["deliveryreporturl"], _receipt(m, "SENT")))
    posts += [(m["deliveryreporturl"], _receipt(m, "SENT")) for m in early]
    rng.shuffle(posts)
    answers: list[int] = []

    def post(item: tuple[str, dict]) -> None:
        url, body = item
        for _ in range(20):  # the web process may be restarting: retry like a provider
            try:
                status = httpx.post(url, json=body, timeout=30).status_code
            except httpx.HTTPError:
                status = 0
            if status == 200:
                break
            time.sleep(1)
        answers.append(status)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(post, posts))
    refused = sum(1 for s in answers if s != 200)
    if refused:
        raise DrillError(f"the receipt webhook refused {refused} of {len(posts)} storm receipts")
    return f"{len(posts)} receipts posted ({len(chosen)} final x3 + stale, {len(early)} early)"


def _receipt(m: dict, status: str) -> dict:
    body = {
        "messageid": m["messageid"],
        "id": m["messageid"],
        "batchid": m["batchid"],
        "sender": m["sender"],
        "destination": m["destination"],
        "content": m["content"],
        "tag": m["tag"],
        "metadata": [{"key": "reference", "value": m["reference"]}],
        "status": status,
        "created": m["created"],
        "modified": m["created"],
    }
    if status == "DELIVERED":
        body["deliveredat"] = m["created"]
    if status != "SENT" and m.get("failurereason"):
        body["failurereason"] = m["failurereason"]
    return body


# --- the faults --------------------------------------------------------------------------------
def _fault_kill_worker(platform: Platform, config: DrillConfig) -> str:
    """SIGKILL the bulk worker with a batch in flight (the provider answers late for a
    moment, so the kill catches claimed rows), then start it again."""
    from messaging.models import Message, Status

    platform.sim.config(rate_slow=1.0, slow_ms=2000)
    try:
        wait_until(
            lambda: Message.objects.filter(status=Status.SENDING).exists(),
            timeout=60,
            what="a batch in flight",
            interval=0.05,
            check=platform.check,
        )
        in_flight = Message.objects.filter(status=Status.SENDING).count()
        platform.kill("bulk", while_down=lambda: platform.sim.config(rate_slow=0.0))
    finally:
        platform.sim.config(rate_slow=0.0)
    return f"killed with {in_flight} messages in flight"


def _kill(name: str) -> Callable[[Platform, DrillConfig], str]:
    def fault(platform: Platform, config: DrillConfig) -> str:
        platform.kill(name)
        return "killed and started again"

    fault.__doc__ = f"SIGKILL {name}, then start it again."
    return fault


def _fault_redis(platform: Platform, config: DrillConfig) -> str:
    platform.restart_redis(down_seconds=min(config.down_seconds, 3.0))
    return "killed, started again empty"


def _fault_database(platform: Platform, config: DrillConfig) -> str:
    dropped = platform.drop_database_connections()
    time.sleep(1.0)
    dropped += platform.drop_database_connections()
    return f"{dropped} connections terminated"


def _fault_provider_down(platform: Platform, config: DrillConfig) -> str:
    platform.provider_down(config.down_seconds)
    return f"connection refused for {config.down_seconds:.0f}s"


def _fault_provider_slow(platform: Platform, config: DrillConfig) -> str:
    # Slow answers (2 s, inside the 5 s client timeout), and answers later than the
    # client waits (it cannot tell whether the message went: the lookup decides).
    platform.sim.config(rate_slow=0.5, slow_ms=2000, rate_timeout=0.2, timeout_ms=7000)
    try:
        time.sleep(config.slow_seconds)
    finally:
        platform.sim.config(rate_slow=0.0, rate_timeout=0.0)
    return f"slow and timing out for {config.slow_seconds:.0f}s"


def _fault_storm(platform: Platform, config: DrillConfig) -> str:
    return receipt_storm(platform, config.storm_size)


FAULTS: dict[str, Callable[[Platform, DrillConfig], str]] = {
    "kill_worker": _fault_kill_worker,
    "kill_beat": _kill("beat"),
    "kill_web": _kill("web"),
    "restart_redis": _fault_redis,
    "drop_database": _fault_database,
    "provider_down": _fault_provider_down,
    "provider_slow": _fault_provider_slow,
    "receipt_storm": _fault_storm,
}


# --- the drill --------------------------------------------------------------------------------
def run_drill(platform: Platform, config: DrillConfig) -> DrillResult:
    from messaging.models import Message, Status

    started = time.monotonic()
    account, _sender, campaign = setup_campaign(platform, config)
    platform.sim.config(inbound_url=inbound_url(account, platform))
    schedule_now(campaign)
    result = DrillResult(findings=checker.Findings(expected=config.messages), seconds=0.0)
    nominal = config.messages / config.rate
    texter = Texter(
        platform, config.inbound, config.messages, every=max(0.2, nominal / max(1, config.inbound))
    )
    texter.start()

    def accepted() -> int:
        stats = platform.sim.stats()
        return stats["accepted"]

    try:
        step = max(1, config.messages // (len(config.faults) + 2))
        for index, name in enumerate(config.faults):
            goal = min(config.messages - 1, step * (index + 1))
            wait_until(
                lambda goal=goal: accepted() >= goal,
                timeout=config.send_timeout,
                what=f"{goal} messages at the provider before {name}",
                interval=0.2,
                check=platform.check,
            )
            at = time.monotonic() - started
            note = FAULTS[name](platform, config)
            result.faults.append((name, at, note))
            log.warning("drill fault %s at %.1fs: %s", name, at, note)

        wait_until(
            lambda: (
                not Message.objects.filter(
                    campaign_id=campaign.pk, status__in=[Status.QUEUED, Status.SENDING]
                ).exists()
                and Message.objects.filter(campaign_id=campaign.pk).count() == config.messages
            ),
            timeout=config.send_timeout,
            what="every message sent",
            interval=0.5,
            check=platform.check,
        )
        # Texts go on while messages are sent; the last one in flight may still finish.
        texter.halt.set()
        texter.join(timeout=90)
        state = ""
        deadline = time.monotonic() + config.settle_timeout
        last_note = time.monotonic()
        log.warning("drill: every message sent at %.1fs", time.monotonic() - started)
        while time.monotonic() < deadline:
            platform.check()
            done, state = checker.settled(
                campaign_id=campaign.pk,
                expected=config.messages,
                sim_url=platform.sim.url,
                inbound_ids=list(texter.ids),
            )
            if done:
                break
            if time.monotonic() - last_note > 10:
                log.warning("drill settling: %s", state)
                last_note = time.monotonic()
            time.sleep(1.0)
    finally:
        texter.halt.set()
    result.findings = checker.check(
        campaign_id=campaign.pk,
        expected=config.messages,
        sim_url=platform.sim.url,
        record=platform.record,
        inbound_ids=list(texter.ids),
    )
    if texter.errors:
        result.faults.append(("texter", 0.0, f"{len(texter.errors)} errors: {texter.errors[:3]}"))
    if state and not result.findings.ok:
        result.faults.append(("settle", time.monotonic() - started, state))
    result.seconds = time.monotonic() - started
    result.restarts = platform.restarts()
    return result
