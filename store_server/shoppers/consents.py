"""What a shopper has said yes to, per store, and the pause on being recognised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store_server.db.models import Consent, Shopper, Store
from store_server.problems import DomainError, Refusal


@dataclass(frozen=True)
class Profile:
    """What the store knows of a shopper (the rows, read inside the caller's session)."""

    shopper: Shopper
    consents: Sequence[Consent]


def profile(session: Session, shopper_id: int) -> Profile:
    """The shopper and their consents, oldest first."""
    shopper = session.get(Shopper, shopper_id)
    assert shopper is not None  # noqa: S101 - the device's foreign key
    consents = session.scalars(
        select(Consent).where(Consent.shopper_id == shopper.id).order_by(Consent.id)
    ).all()
    return Profile(shopper, consents)


def replace_consents(
    session: Session,
    shopper_id: int,
    store_id: int,
    consents: Sequence[tuple[str, str]],
    now: float,
) -> bool:
    """Set exactly these (purpose, channel) consents for one store of the shopper's chain
    (empty withdraws all; NOT_FOUND `unknown_store` for a store that does not exist or is of
    another chain, alike); whether the shopper still has any consent at any store."""
    shopper = session.get(Shopper, shopper_id)
    assert shopper is not None  # noqa: S101 - the device's foreign key
    store = session.get(Store, store_id)
    if store is None or store.chain_id != shopper.chain_id:
        raise DomainError(Refusal.NOT_FOUND, "unknown_store", f"no store {store_id}")
    # An unconfirmed address counts as given: refusing would tell her another shopper has it.
    has_email = bool(shopper.email or shopper.unconfirmed_email)
    if any(channel == "email" for _, channel in consents) and not has_email:
        raise DomainError(
            Refusal.INVALID, "email_required", "e-mail messages need an e-mail address"
        )
    if any(channel == "sms" for _, channel in consents):
        if not shopper.phone:
            raise DomainError(
                Refusal.INVALID, "phone_required", "text messages need a phone number"
            )
        shopper.sms_stopped = None  # ticking SMS again in the app overrides a texted STOP
    session.execute(
        delete(Consent).where(Consent.shopper_id == shopper_id, Consent.store_id == store_id)
    )
    for purpose, channel in set(consents):
        session.add(
            Consent(
                shopper_id=shopper_id,
                store_id=store_id,
                purpose=purpose,
                channel=channel,
                granted_at=now,
            )
        )
    session.flush()
    if not _allows_arrival_anywhere(session, shopper_id):
        # The pickup e-mail and phone serve only arrival alerts: they go when those do.
        shopper.pickup_email = shopper.pickup_phone = None
    return has_any_consent(session, shopper_id)


def has_any_consent(session: Session, shopper_id: int) -> bool:
    """Whether the shopper allows anything at any store."""
    found = session.scalar(select(Consent.id).where(Consent.shopper_id == shopper_id).limit(1))
    return found is not None


def _allows_arrival_anywhere(session: Session, shopper_id: int) -> bool:
    found = session.scalar(
        select(Consent.id).where(Consent.shopper_id == shopper_id, Consent.purpose == "arrival")
    )
    return found is not None


def pause_detection(session: Session, shopper_id: int, minutes: int, now: float) -> float | None:
    """Stop recognising the shopper for a while (0 minutes resumes); returns until when."""
    until = now + minutes * 60 if minutes else None
    session.execute(
        update(Shopper).where(Shopper.id == shopper_id).values(detection_paused_until=until)
    )
    return until


def paused_until(shopper: Shopper, now: float) -> float | None:
    """Until when the shopper's detection is paused, or None when it is not (any more)."""
    until = shopper.detection_paused_until
    return until if until is not None and until > now else None


def has_arrival_consent(session: Session, shopper_id: int, store_id: int) -> bool:
    """Whether the shopper switched arrival alerts on for this store."""
    return (
        session.scalar(
            select(Consent.id).where(
                Consent.shopper_id == shopper_id,
                Consent.store_id == store_id,
                Consent.purpose == "arrival",
            )
        )
        is not None
    )
