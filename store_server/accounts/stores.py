"""Stores: creating one, in its chain, with a time zone, currency, locale, public URL, and the
phone and web page where shoppers reach a person, all of them real."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from store_server.db.models import Chain, Store
from store_server.pickup.matching import normalised_phone
from store_server.problems import DomainError, Refusal

# ISO 4217 codes of currencies in circulation (funds, metals and test codes left out): what a
# till can charge in. Written out because the standard library has no list and the server
# needs no locale database for anything else.
ISO_4217_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR
    MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW
    ZWG
    """.split()
)
# A BCP 47 language tag as stores use them: language, optional script, optional region
# (`en`, `en-GB`, `zh-Hant-TW`, `es-419`).
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")
MAX_STORE_NAME = 200
MAX_CHAIN_NAME = 200
MAX_PUBLIC_URL = 300


def invalid(field: str, message: str) -> DomainError:
    """The refusal of one bad value, its code naming the field (`invalid_timezone`)."""
    return DomainError(Refusal.INVALID, f"invalid_{field}", message, {"field": field})


def store_of(session: Session, store_id: int) -> Store:
    """The store with this id (not found `unknown_store`)."""
    store = session.get(Store, store_id)
    if store is None:
        raise DomainError(Refusal.NOT_FOUND, "unknown_store", f"no store {store_id}")
    return store


def chain_named(session: Session, name: str, *, create: bool = False) -> Chain:
    """The chain with this name; with `create`, a new one on first use (invalid `invalid_chain`
    for a bad name, not found `unknown_chain` otherwise)."""
    name = name.strip()
    if not name or len(name) > MAX_CHAIN_NAME:
        raise invalid("chain", f"chain: a chain name has 1 to {MAX_CHAIN_NAME} characters")
    chain = session.scalar(select(Chain).where(Chain.name == name))
    if chain is None and not create:
        raise DomainError(
            Refusal.NOT_FOUND, "unknown_chain", "chain: no chain has this name", {"field": "chain"}
        )
    if chain is None:
        chain = Chain(name=name)
        session.add(chain)
        session.flush()
    return chain


def _own_chain(session: Session, store_name: str) -> Chain:
    """A new chain for a store of its own, named after it (numbered if the name is taken)."""
    candidate, number = store_name, 1
    while session.scalar(select(Chain.id).where(Chain.name == candidate)) is not None:
        number += 1
        candidate = f"{store_name} ({number})"
    chain = Chain(name=candidate)
    session.add(chain)
    session.flush()
    return chain


def checked_public_url(url: str, field: str = "public_url", label: str = "public URL") -> str:
    """An absolute http(s) URL with a host and no query or fragment, without a trailing slash
    (invalid, naming `field`, otherwise)."""
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or len(url) > MAX_PUBLIC_URL
    ):
        raise invalid(field, f"{label} {url!r} is not an absolute http(s) URL (no query)")
    return url.rstrip("/")


def checked_help_url(url: str) -> str:
    """The store's own web page for shoppers: an absolute http(s) URL (a query is fine)."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_PUBLIC_URL:
        raise invalid("help_url", f"web page {url!r} is not an absolute http(s) URL")
    return url


def checked_help_phone(phone: str) -> str:
    """The store's phone in E.164 (`+44 20 7946 0000` -> `+442079460000`)."""
    normalised = normalised_phone(phone)
    if normalised is None:
        raise invalid("help_phone", f"phone {phone!r} is not a number with its country code")
    return normalised


def create_store(
    session: Session,
    name: str,
    timezone: str,
    currency: str,
    locale: str = "en",
    public_url: str = "",
    help_phone: str = "",
    help_url: str = "",
    chain: str | None = None,
) -> Store:
    """Add a store to the chain named `chain` (created on first use), or to a new chain of its
    own named after it; every value is checked first (invalid, the code naming the field)."""
    name = name.strip()
    if not name or len(name) > MAX_STORE_NAME:
        raise invalid("name", f"a store name has 1 to {MAX_STORE_NAME} characters")
    if timezone not in available_timezones():
        raise invalid("timezone", f"unknown time zone {timezone!r} (an IANA name: Europe/London)")
    if currency not in ISO_4217_CURRENCIES:
        raise invalid("currency", f"unknown currency {currency!r} (an ISO 4217 code: GBP)")
    if not _LOCALE.match(locale):
        raise invalid("locale", f"locale {locale!r} is not a language tag like en-GB")
    public_url = checked_public_url(public_url) if public_url else ""
    help_phone = checked_help_phone(help_phone) if help_phone else ""
    help_url = checked_help_url(help_url) if help_url else ""
    owner = chain_named(session, chain, create=True) if chain is not None else None
    store = Store(
        chain_id=(owner or _own_chain(session, name)).id,
        name=name,
        timezone=timezone,
        currency=currency,
        locale=locale,
        public_url=public_url,
        help_phone=help_phone,
        help_url=help_url,
    )
    session.add(store)
    session.flush()
    return store


# Within these an escalation is still useful: a minute gives staff time to see the alert, and
# a shopper left waiting longer than two hours has gone.
MIN_ESCALATION_S, MAX_ESCALATION_S = 30, 7200
MAX_OFFERS_PER_DAY, MAX_OFFERS_PER_VISIT = 20, 10
MAX_MIN_GAP_S = 7 * 86400
_CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(frozen=True)
class StoreSettingsChange:
    """Everything a manager sets about the store (the settings page), all at once."""

    name: str
    timezone: str
    currency: str
    ack_limit_s: int
    second_escalation_s: int
    quiet_start: str
    quiet_end: str
    max_offers_per_day: int
    max_offers_per_visit: int
    min_gap_s: int
    help_phone: str
    help_url: str


def update_store(session: Session, store_id: int, change: StoreSettingsChange) -> Store:
    """Apply the manager's settings; every value is checked first (invalid, naming the field)."""
    store = store_of(session, store_id)
    name = change.name.strip()
    if not name or len(name) > MAX_STORE_NAME:
        raise invalid("name", f"a store name has 1 to {MAX_STORE_NAME} characters")
    if change.timezone not in available_timezones():
        raise invalid("timezone", f"unknown time zone {change.timezone!r} (e.g. Europe/London)")
    if change.currency not in ISO_4217_CURRENCIES:
        raise invalid("currency", f"unknown currency {change.currency!r} (e.g. GBP)")
    for field, value in (
        ("ack_limit_s", change.ack_limit_s),
        ("second_escalation_s", change.second_escalation_s),
    ):
        if not MIN_ESCALATION_S <= value <= MAX_ESCALATION_S:
            raise invalid(field, f"between {MIN_ESCALATION_S} s and {MAX_ESCALATION_S} s")
    if change.second_escalation_s <= change.ack_limit_s:
        raise invalid("second_escalation_s", "the second escalation comes after the first")
    for field, text in (("quiet_start", change.quiet_start), ("quiet_end", change.quiet_end)):
        if not _CLOCK_TIME.match(text):
            raise invalid(field, "a time of day as HH:MM (24 h)")
    limits = (
        ("max_offers_per_day", change.max_offers_per_day, MAX_OFFERS_PER_DAY),
        ("max_offers_per_visit", change.max_offers_per_visit, MAX_OFFERS_PER_VISIT),
        ("min_gap_s", change.min_gap_s, MAX_MIN_GAP_S),
    )
    for field, number, most in limits:
        if not 0 <= number <= most:
            raise invalid(field, f"between 0 and {most}")
    phone = change.help_phone.replace(" ", "")
    if phone and not _E164.match(phone):
        raise invalid("help_phone", "a phone number with the country code, e.g. +44...")
    url = checked_public_url(change.help_url, "help_url") if change.help_url.strip() else ""
    store.name, store.timezone, store.currency = name, change.timezone, change.currency
    store.ack_limit_s, store.second_escalation_s = change.ack_limit_s, change.second_escalation_s
    store.quiet_start, store.quiet_end = change.quiet_start, change.quiet_end
    store.max_offers_per_day = change.max_offers_per_day
    store.max_offers_per_visit = change.max_offers_per_visit
    store.min_gap_s = change.min_gap_s
    store.help_phone, store.help_url = phone, url
    return store
