"""Stores: creating one with a time zone, currency, locale, public URL, and the phone and web
page where shoppers reach a person, all of them real."""

from __future__ import annotations

import re
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from sqlalchemy.orm import Session

from store_server.db.models import Store
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


def checked_public_url(url: str) -> str:
    """An absolute http(s) URL with a host and no query or fragment, without a trailing slash."""
    url = url.strip()
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or len(url) > MAX_PUBLIC_URL
    ):
        raise invalid("public_url", f"public URL {url!r} is not an absolute http(s) URL (no query)")
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
) -> Store:
    """Add a store; every value is checked first (invalid, the code naming the field)."""
    name = name.strip()
    if not name or len(name) > MAX_STORE_NAME:
        raise invalid("name", f"a store name has 1 to {MAX_STORE_NAME} characters")
    if timezone not in available_timezones():
        raise invalid("timezone", f"unknown time zone {timezone!r} (an IANA name: Europe/London)")
    if currency not in ISO_4217_CURRENCIES:
        raise invalid("currency", f"unknown currency {currency!r} (an ISO 4217 code: GBP)")
    if not _LOCALE.match(locale):
        raise invalid("locale", f"locale {locale!r} is not a language tag like en-GB")
    store = Store(
        name=name,
        timezone=timezone,
        currency=currency,
        locale=locale,
        public_url=checked_public_url(public_url) if public_url else "",
        help_phone=checked_help_phone(help_phone) if help_phone else "",
        help_url=checked_help_url(help_url) if help_url else "",
    )
    session.add(store)
    session.flush()
    return store
