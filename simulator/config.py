"""Settings: fixed at start (flags) and runtime ones that /_sim/config may change."""

from __future__ import annotations

import argparse
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.wire import digits_of

RATES = ("delivered", "undelivered", "failed", "rate_429", "rate_5xx", "rate_slow", "rate_timeout")
# What POST /_sim/config may change while running, and how each value is read.
RUNTIME = {
    **dict.fromkeys(RATES, "rate"),
    "slow_ms": "ms",
    "timeout_ms": "ms",
    "timeout_accepts": "bool",
    "receipt_delay_ms": "range",
    "receipt_retries": "count",
    "receipt_batch": "count",
    "inbound_url": "url",
    "receipt_url": "url",
    "opted_out": "numbers",
    "credits": "credits",
}


@dataclass
class SimConfig:
    # fixed at start
    host: str = "127.0.0.1"
    port: int = 9000
    jwt_secret: str = "simulator-secret"  # noqa: S105 - the documented simulator default
    token: str = ""  # a fixed token accepted as-is, besides signed JWTs
    customer_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    record: str = "var/simulator/messages.jsonl"
    keep: int = 100_000  # messages held in memory for lookups and /_sim/messages
    receipt_concurrency: int = 64  # receipt POSTs in flight (client connection limit)
    max_pending: int = 200_000  # receipts waiting; the API slows down past this
    access_log: bool = False
    # runtime
    delivered: float = 0.95
    undelivered: float = 0.03
    failed: float = 0.02
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_slow: float = 0.0
    slow_ms: int = 3000
    rate_timeout: float = 0.0
    timeout_ms: int = 30_000
    timeout_accepts: bool = True  # a timed-out send is still accepted (the answer is what is lost)
    receipt_delay_ms: tuple[int, int] = (200, 2000)
    receipt_retries: int = 5
    receipt_batch: int = 1  # > 1: post receipts as JSON arrays of up to this many
    inbound_url: str = ""
    receipt_url: str = ""  # the account-wide delivery report URL, for messages without one
    opted_out: list[str] = field(default_factory=list)
    credits: float | None = None  # None: unlimited

    def runtime(self) -> dict[str, Any]:
        values = asdict(self)
        return {name: values[name] for name in RUNTIME}

    def public(self) -> dict[str, Any]:
        values = self.runtime()
        values["receipt_delay_ms"] = list(self.receipt_delay_ms)
        values["customer_id"] = self.customer_id
        return values

    def update(self, changes: dict[str, Any]) -> None:
        """Validate every change first, then apply them all (or none)."""
        unknown = sorted(set(changes) - set(RUNTIME))
        if unknown:
            raise ValueError(f"unknown or fixed setting(s): {', '.join(unknown)}")
        parsed = {name: _parse(RUNTIME[name], name, value) for name, value in changes.items()}
        for name, value in parsed.items():
            setattr(self, name, value)


def _parse(kind: str, name: str, value: Any) -> Any:
    try:
        if kind == "rate":
            rate = float(value)
            if not 0.0 <= rate <= 1.0:
                raise ValueError
            return rate
        if kind in ("ms", "count"):
            number = int(value)
            if number < 0 or (kind == "count" and name == "receipt_batch" and number < 1):
                raise ValueError
            return number
        if kind == "bool":
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind == "range":
            low, high = (value, value) if isinstance(value, int | float | str) else value
            low, high = int(low), int(high)
            if low < 0 or high < low:
                raise ValueError
            return (low, high)
        if kind == "url":
            url = str(value or "").strip()
            if url and not url.startswith(("http://", "https://")):
                raise ValueError
            return url
        if kind == "numbers":
            items = value.split(",") if isinstance(value, str) else list(value)
            return [digits_of(str(item)) for item in items if str(item).strip()]
        if kind == "credits":
            return None if value is None or value == "" else max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    raise ValueError(f"invalid value for {name}: {value!r}")


def parse_args(argv: list[str] | None = None) -> tuple[SimConfig, argparse.Namespace]:
    defaults = SimConfig()
    p = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A fake The SMS Works API: receipts, failure injection and a virtual phone.",
    )
    p.add_argument("--host", default=defaults.host)
    p.add_argument("--port", type=int, default=defaults.port)
    p.add_argument(
        "--jwt-secret", default=defaults.jwt_secret, help="HS256 secret of accepted JWTs"
    )
    p.add_argument("--token", default="", help="also accept this fixed token")
    p.add_argument("--customer-id", default=defaults.customer_id)
    p.add_argument("--record", default=defaults.record, help="JSONL file of accepted messages")
    p.add_argument("--keep", type=int, default=defaults.keep)
    p.add_argument("--receipt-concurrency", type=int, default=defaults.receipt_concurrency)
    p.add_argument("--max-pending", type=int, default=defaults.max_pending)
    p.add_argument("--access-log", action="store_true")
    for rate in RATES:
        p.add_argument(f"--{rate.replace('_', '-')}", type=float, default=getattr(defaults, rate))
    p.add_argument("--slow-ms", type=int, default=defaults.slow_ms)
    p.add_argument("--timeout-ms", type=int, default=defaults.timeout_ms)
    p.add_argument(
        "--timeout-drops",
        action="store_true",
        help="a timed-out send is not accepted (default: accepted, only the answer is late)",
    )
    p.add_argument(
        "--receipt-delay-ms",
        type=int,
        nargs="+",
        metavar=("MIN", "MAX"),
        default=list(defaults.receipt_delay_ms),
    )
    p.add_argument("--receipt-retries", type=int, default=defaults.receipt_retries)
    p.add_argument("--receipt-batch", type=int, default=defaults.receipt_batch)
    p.add_argument("--inbound-url", default="")
    p.add_argument("--receipt-url", default="")
    p.add_argument("--opted-out", action="append", default=[], metavar="NUMBER")
    p.add_argument("--credits", type=float, default=None)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--print-token", action="store_true", help="print a valid JWT and exit")
    args = p.parse_args(argv)

    config = SimConfig(
        host=args.host,
        port=args.port,
        jwt_secret=args.jwt_secret,
        token=args.token,
        customer_id=args.customer_id,
        record=args.record,
        keep=max(1, args.keep),
        receipt_concurrency=max(1, args.receipt_concurrency),
        max_pending=max(1, args.max_pending),
        access_log=args.access_log,
    )
    runtime = {name: getattr(args, name) for name in RUNTIME if hasattr(args, name)}
    runtime["timeout_accepts"] = not args.timeout_drops
    delay = args.receipt_delay_ms
    runtime["receipt_delay_ms"] = (delay[0], delay[-1])
    try:
        config.update(runtime)
    except ValueError as exc:
        p.error(str(exc))
    return config, args
