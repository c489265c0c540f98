"""The running simulator's parts, shared by every handler through the app."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web

from simulator.config import SimConfig
from simulator.receipts import Dispatcher
from simulator.state import Store
from simulator.wire import ApiError, BatchIds, SimMessage, new_message_id, now_iso

UNLIMITED_CREDITS_SHOWN = 1_000_000.0
# The default secret is short on purpose (it is documented and typed by hand); a
# simulator has nothing to protect.
warnings.filterwarnings("ignore", category=jwt.warnings.InsecureKeyLengthWarning)


@dataclass
class Sim:
    config: SimConfig
    store: Store
    dispatcher: Dispatcher
    batch_ids: BatchIds = field(default_factory=BatchIds)
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (0: none)

    def new_message(
        self, fields: dict[str, Any], *, credits: float, batchid: str = "", created: str = ""
    ) -> SimMessage:
        return SimMessage(
            seq=self.store.next_seq(),
            messageid=new_message_id(),
            batchid=batchid,
            sender=fields["sender"],
            destination=fields["destination"],
            content=fields["content"],
            tag=fields["tag"],
            metadata=fields["metadata"],
            deliveryreporturl=fields["deliveryreporturl"],
            created=created or now_iso(),
            created_ts=time.time(),
            credits=credits,
            reference=fields["reference"],
        )

    def credits_left(self) -> float:
        credits = self.config.credits
        return UNLIMITED_CREDITS_SHOWN if credits is None else round(credits, 2)

    def charge(self, amount: float) -> None:
        if self.config.credits is None:
            return
        if amount > self.config.credits:
            raise ApiError(
                402,
                402,
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: {amount:g} needed, {self.config.credits:g} left",
                permanent=False,
            )
        self.config.credits -= amount

    def is_opted_out(self, destination: str) -> bool:
        return destination in self.config.opted_out

    def token_valid(self, token: str) -> str:
        """Why the token is refused; empty when it is good."""
        if self.config.token and token == self.config.token:
            return ""
        expiry = self._tokens.get(token)
        if expiry is not None and (expiry == 0 or expiry > time.time()):
            return ""
        try:
            claims = jwt.decode(token, self.config.jwt_secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            return "the token has expired"
        except jwt.InvalidTokenError:
            return "the token is not valid"
        if len(self._tokens) > 1000:
            self._tokens.clear()
        self._tokens[token] = float(claims.get("exp") or 0)
        return ""

    def mint_token(self) -> str:
        return mint_token(self.config)


def mint_token(config: SimConfig) -> str:
    claims = {"key": "simulator", "customerid": config.customer_id, "iat": int(time.time())}
    return jwt.encode(claims, config.jwt_secret, algorithm="HS256")


SIM = web.AppKey("sim", Sim)
