"""Abuse limits (Flask-Limiter): log-in per account and per address, opt-in, check-in, and
wrong coupon codes; counted in Redis when configured (shared by every process), else in memory.

A refusal is a 429 in the one error shape with `Retry-After`. Keys are digests or row ids,
never an e-mail: the counters live in Redis, which is not ours to fill with personal data.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Flask, current_app, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse

from store_server.settings import StoreSettings
from store_server.web.errors import ApiError

log = logging.getLogger(__name__)
EXTENSION = "store_server.abuse_limits"

# Log-in: a tablet logs in a few times a shift; an office behind one address a few dozen times
# an hour. Wrong passwords count per account whoever sends them (600 a minute were accepted).
LOGIN_PER_ADDRESS = parse("30 per minute")
LOGIN_FAILURES_PER_ACCOUNT = parse("10 per 15 minutes")
# Opt-in: a shopper joins once; a store's Wi-Fi puts many phones behind one address.
OPT_IN_PER_ADDRESS = parse("20 per minute")
# "I'm here" alerts every tablet of the store: a phone pressing it in a loop floods them.
CHECK_IN_PER_DEVICE = parse("6 per minute")
# Wrong coupon codes per staffer: a till re-scanning is not guessing, a loop of guesses is.
COUPON_FAILURES_PER_STAFF = parse("10 per minute")


class AbuseLimits:
    """The app's limits over Flask-Limiter's storage and moving-window strategy."""

    def __init__(self, app: Flask, settings: StoreSettings) -> None:
        self._limiter = Limiter(
            key_func=client_address,
            app=app,
            storage_uri=settings.limits_storage_uri,
            strategy="moving-window",
        )
        # Deployments sharing one Redis count apart, as their events travel apart.
        self._deployment = settings.message_channel

    def charge(self, item: RateLimitItem, *key: str) -> None:
        """Count one request against `item` for `key`; a 429 once it is over."""
        if not self._hit(item, key):
            raise self._refusal(item, key)

    def refuse_if_over(self, item: RateLimitItem, *key: str) -> None:
        """A 429 if `key` is already over `item` (nothing is counted)."""
        try:
            over = not self._limiter.limiter.test(item, self._deployment, *key)
        except Exception:  # noqa: BLE001 - a dead storage must not lock everyone out
            log.warning("event=limits_storage_failed")
            return
        if over:
            raise self._refusal(item, key)

    def failed(self, item: RateLimitItem, *key: str) -> None:
        """Count one failure against `item` for `key` (refusing happens on the next try)."""
        self._hit(item, key)

    def _hit(self, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        try:
            return bool(self._limiter.limiter.hit(item, self._deployment, *key))
        except Exception:  # noqa: BLE001 - fail open, and say so
            log.warning("event=limits_storage_failed")
            return True

    def _refusal(self, item: RateLimitItem, key: tuple[str, ...]) -> ApiError:
        try:
            stats = self._limiter.limiter.get_window_stats(item, self._deployment, *key)
            reset_at = stats.reset_time
        except Exception:  # noqa: BLE001
            reset_at = 0.0
        # The limits library counts in wall-clock time, so the wait is measured on it too.
        wait_s = math.ceil(reset_at - time.time()) if reset_at else item.get_expiry()
        retry_after = max(1, wait_s)
        log.info("event=rate_limited limit=%s", key[0])
        return ApiError(
            429,
            "too_many_requests",
            f"too many attempts; try again in {retry_after} s",
            {"retry_after_s": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def init_limits(app: Flask, settings: StoreSettings) -> None:
    """Give the app its limits."""
    app.extensions[EXTENSION] = AbuseLimits(app, settings)


def limits() -> AbuseLimits:
    """The current app's limits."""
    found: AbuseLimits = current_app.extensions[EXTENSION]
    return found


def client_address() -> str:
    """The address the request came from (the proxy's, unless the deployment mends it)."""
    return request.remote_addr or "-"


def account_key(email: str) -> str:
    """A log-in account as a counter key: a digest, never the address itself."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]
