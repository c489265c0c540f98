from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_pendingreceipt_opted_out"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="message_campaign_status_idx",
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                fields=["campaign_id", "status"],
                include=["cost"],
                name="message_campaign_status_idx",
            ),
        ),
    ]
