"""Decoded frames and the uplink: protocol v1 carries EID frames only; the rest are counted."""

from __future__ import annotations

from typing import Any, cast

from gateway.counters import Counters
from gateway.decode import EDDYSTONE_SERVICE_UUID
from gateway.scanner import Advert
from gateway.service import handle_advert
from gateway.uplink import Observation, Uplink

APPLE = 0x004C
# ibeacon-ble tests, SERVICE_INFO: a Blue Charm iBeacon.
IBEACON_BLUE_CHARM = b"\x02\x15BlueCharmBeacons\x0e\xfe\x13\x55\xc5"
# beacontools tests: EID "EID_test", tx power -29.
EID_BEACONTOOLS = b"\x30\xe3EID_test"
# ibeacon-ble tests fixture: plain TLM.
TLM_IBEACON_BLE = b"\x20\x00\x0b\xfe\x1c\x00\x00\x00\x07\x08\x00\x00\x3e\x7c"


class RecordingUplink:
    """Stands in for Uplink: records what would be uploaded."""

    def __init__(self) -> None:
        self.submitted: list[tuple[Observation, str]] = []

    def submit(self, observation: Observation, identity: str) -> None:
        self.submitted.append((observation, identity))


def _advert(manufacturer: dict[int, bytes], service: dict[str, bytes]) -> Advert:
    return Advert(
        address="C0:00:00:00:00:01",
        rssi=-60,
        manufacturer_data=manufacturer,
        service_data=service,
        service_uuids=tuple(service),
        received_at=1_700_000_000.0,
    )


def _handle(*adverts: Advert) -> tuple[Counters, list[tuple[Observation, str]]]:
    counters, uplink = Counters(), RecordingUplink()
    for advert in adverts:
        handle_advert(advert, counters, cast(Uplink, cast(Any, uplink)))
    return counters, uplink.submitted


def test_only_eid_frames_are_uploaded_the_others_counted() -> None:
    counters, submitted = _handle(
        _advert({APPLE: IBEACON_BLUE_CHARM}, {EDDYSTONE_SERVICE_UUID: EID_BEACONTOOLS}),
        _advert({}, {EDDYSTONE_SERVICE_UUID: TLM_IBEACON_BLE}),
        _advert({APPLE: b"\x02\x15\x00"}, {}),
    )
    assert [(o.frame, identity) for o, identity in submitted] == [
        (
            {"kind": "eddystone_eid", "eid": "4549445f74657374", "tx_power": -29},
            "eddystone_eid:4549445f74657374",
        )
    ]
    snapshot = counters.snapshot()
    assert (snapshot["adverts_seen"], snapshot["frames_decoded"]) == (3, 3)
    assert (snapshot["frames_not_uploaded"], snapshot["undecodable_dropped"]) == (2, 1)
    assert snapshot["observations_dropped"] == 0


def test_an_ibeacon_alone_is_counted_not_uploaded() -> None:
    advert = _advert({APPLE: IBEACON_BLUE_CHARM}, {})
    counters, submitted = _handle(advert)
    assert submitted == []
    assert counters.frames_not_uploaded == 1
    assert counters.observations_dropped == 0
