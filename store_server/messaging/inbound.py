"""What shoppers send back: texted STOP/START/HELP and e-mail unsubscribes, applied to consents.

STOP revokes every SMS consent of the shoppers with that number and remembers what it revoked;
START restores exactly that; HELP only answers. An e-mail unsubscribe link's token names one
shopper, whose every e-mail consent it withdraws. (The web layer, web/api/inbound.py, checks the
provider's signature and answers in TwiML or HTML.)
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store_server.db.database import rows_changed
from store_server.db.models import Consent, Shopper, Store
from store_server.messaging.channels.email import TOKEN_PATTERN
from store_server.messaging.channels.sms import ConsentChange
from store_server.problems import DomainError, Refusal


def apply_sms_change(session: Session, change: ConsentChange, now: float) -> list[int]:
    """Apply a texted keyword to every shopper with that number; returns their ids."""
    shoppers = session.scalars(select(Shopper).where(Shopper.phone == change.phone)).all()
    for shopper in shoppers:
        if change.action == "opt_out":
            revoked = session.execute(
                select(Consent.store_id, Consent.purpose).where(
                    Consent.shopper_id == shopper.id, Consent.channel == "sms"
                )
            ).all()
            session.execute(
                delete(Consent).where(Consent.shopper_id == shopper.id, Consent.channel == "sms")
            )
            if revoked:  # a second STOP must not forget what the first revoked
                shopper.sms_stopped = [[store_id, purpose] for store_id, purpose in revoked]
        elif change.action == "opt_in" and shopper.sms_stopped:
            for store_id, purpose in shopper.sms_stopped:
                exists = session.scalar(
                    select(Consent.id).where(
                        Consent.shopper_id == shopper.id,
                        Consent.store_id == store_id,
                        Consent.purpose == purpose,
                        Consent.channel == "sms",
                    )
                )
                if exists is None and session.get(Store, store_id) is not None:
                    session.add(
                        Consent(
                            shopper_id=shopper.id,
                            store_id=store_id,
                            purpose=purpose,
                            channel="sms",
                            granted_at=now,
                        )
                    )
            shopper.sms_stopped = None
    return [shopper.id for shopper in shoppers]


def program_name(session: Session) -> str:
    """The name a texted HELP answers with: the store's, or a generic one for several stores."""
    names = session.scalars(select(Store.name).order_by(Store.id).limit(2)).all()
    return names[0] if len(names) == 1 else "Store updates"


def shopper_by_token(session: Session, token: str) -> Shopper:
    """The shopper an unsubscribe link's token names (NOT_FOUND `unknown_token` if none)."""
    shopper = None
    if TOKEN_PATTERN.fullmatch(token):
        shopper = session.scalars(select(Shopper).where(Shopper.unsubscribe_token == token)).first()
    if shopper is None:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_token", "this unsubscribe link is not valid (any more)"
        )
    return shopper


def unsubscribe_email(session: Session, token: str) -> tuple[int, int]:
    """Withdraw every e-mail consent of the link's shopper; returns her id and how many there
    were."""
    shopper = shopper_by_token(session, token)
    revoked = rows_changed(
        session.execute(
            delete(Consent).where(Consent.shopper_id == shopper.id, Consent.channel == "email")
        )
    )
    return shopper.id, revoked
