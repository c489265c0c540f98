from __future__ import annotations

import re

from django import forms

from emailsms.models import AllowedSender
from messaging.models import Sender

_ADDRESS = re.compile(r"^[^@\s]*@[a-z0-9.-]+\.[a-z]{2,}$|^[^@\s]*@localhost$", re.IGNORECASE)


class AllowedSenderForm(forms.Form):
    address = forms.CharField(
        max_length=254,
        help_text="An address (ada@example.com) or a whole domain (@example.com).",
    )
    sender = forms.ModelChoiceField(
        queryset=Sender.objects.filter(is_active=True).order_by("value"),
        label="Send texts from",
    )
    note = forms.CharField(max_length=200, required=False)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, allowed: AllowedSender | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.allowed = allowed

    @staticmethod
    def initial_for(allowed: AllowedSender | None) -> dict:
        if allowed is None:
            from messaging.services import default_sender

            default = default_sender()
            return {"is_active": True, "sender": default.pk if default else None}
        return {
            "address": allowed.address,
            "sender": allowed.sender_id,
            "note": allowed.note,
            "is_active": allowed.is_active,
        }

    def clean_address(self) -> str:
        address = self.cleaned_data["address"].strip().lower()
        if not _ADDRESS.match(address) or address.count("@") != 1:
            raise forms.ValidationError(
                "Give an address (ada@example.com) or a domain (@example.com)."
            )
        taken = AllowedSender.objects.filter(address__iexact=address)
        if self.allowed is not None:
            taken = taken.exclude(pk=self.allowed.pk)
        if taken.exists():
            raise forms.ValidationError("This address is already allowed.")
        return address
