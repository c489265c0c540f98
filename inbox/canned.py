"""Writes to canned replies."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from inbox.models import CannedReply


def canned_save(
    *, canned: CannedReply | None, owner: AbstractBaseUser | None, title: str, body: str
) -> CannedReply:
    canned = canned or CannedReply()
    canned.owner, canned.title, canned.body = owner, title.strip(), body.strip()
    canned.save()
    return canned


def canned_delete(*, canned: CannedReply) -> None:
    canned.delete()
