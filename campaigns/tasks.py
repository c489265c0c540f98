from celery import shared_task

from campaigns import launch as launching
from campaigns import recurring, services


@shared_task(name="campaigns.launch", acks_late=True, reject_on_worker_lost=True)
def launch(campaign_id: int) -> bool:
    # acks_late is safe: the claim and ON CONFLICT make a second run harmless.
    return launching.campaign_launch(campaign_id=campaign_id)


@shared_task(name="campaigns.tick")
def tick() -> dict:
    """Beat: launch what is due (and relaunch a launch that died), complete what is done."""
    due = launching.campaigns_due()
    for campaign_id in due:
        launch.delay(campaign_id)
    return {"due": len(due), "completed": services.campaigns_complete()}


@shared_task(name="campaigns.run_recurring")
def run_recurring(campaign_id: int) -> int | None:
    run = recurring.run_recurring(campaign_id=campaign_id)
    return run.pk if run else None
