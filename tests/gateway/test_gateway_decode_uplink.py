"""What leaves the gateway: EID always; registered beacons and their TLM; the rest counted."""

from __future__ import annotations

import json

from gateway.counters import Counters
from gateway.decode import EDDYSTONE_SERVICE_UUID
from gateway.registry import Admission, GatewayConfig
from gateway.scanner import Advert
from gateway.service import AdvertHandler
from gateway.tracking import Tracker
from gateway.uplink import Observation

APPLE = 0x004C
# ibeacon-ble tests, SERVICE_INFO: a Blue Charm iBeacon.
IBEACON_BLUE_CHARM = b"\x02\x15BlueCharmBeacons\x0e\xfe\x13\x55\xc5"
BLUE_CHARM_ID = "426c7565-4368-6172-6d42-6561636f6e73:3838:4949"
# beacontools tests: EID "EID_test", tx power -29.
EID_BEACONTOOLS = b"\x30\xe3EID_test"
# ibeacon-ble tests fixture: plain TLM.
TLM_IBEACON_BLE = b"\x20\x00\x0b\xfe\x1c\x00\x00\x00\x07\x08\x00\x00\x3e\x7c"
BEACON_ADDRESS = "C0:00:00:00:00:01"


def _advert(
    manufacturer: dict[int, bytes], service: dict[str, bytes], address: str = BEACON_ADDRESS
) -> Advert:
    return Advert(
        address=address,
        rssi=-60,
        manufacturer_data=manufacturer,
        service_data=service,
        service_uuids=tuple(service),
        received_at=1_700_000_000.0,
    )


def _handle(
    *adverts: Advert, registered: tuple[tuple[str, str], ...] = ()
) -> tuple[Counters, list[Observation]]:
    counters, submitted = Counters(), list[Observation]()
    handler = AdvertHandler(
        counters, Admission(registered), Tracker(), lambda o, first: submitted.append(o)
    )
    for advert in adverts:
        handler(advert)
    return counters, submitted


def test_unregistered_ibeacon_is_dropped_and_counted_eid_goes() -> None:
    counters, submitted = _handle(
        _advert({APPLE: IBEACON_BLUE_CHARM}, {EDDYSTONE_SERVICE_UUID: EID_BEACONTOOLS}),
        _advert({APPLE: IBEACON_BLUE_CHARM}, {}, address="C0:00:00:00:00:02"),
        _advert({}, {EDDYSTONE_SERVICE_UUID: TLM_IBEACON_BLE}),
        _advert({APPLE: b"\x02\x15\x00"}, {}),
    )
    assert [o.frame for o in submitted] == [
        {"kind": "eddystone_eid", "eid": "4549445f74657374", "tx_power": -29}
    ]
    assert (counters.adverts_seen, counters.frames_decoded) == (4, 4)
    assert (counters.unregistered_dropped, counters.undecodable_dropped) == (2, 1)


def test_registered_ibeacon_and_the_tlm_of_its_address_are_sent() -> None:
    counters, submitted = _handle(
        _advert({}, {EDDYSTONE_SERVICE_UUID: TLM_IBEACON_BLE}),  # before: not yet known
        _advert({APPLE: IBEACON_BLUE_CHARM}, {}),
        _advert({}, {EDDYSTONE_SERVICE_UUID: TLM_IBEACON_BLE}),
        _advert({}, {EDDYSTONE_SERVICE_UUID: TLM_IBEACON_BLE}, address="C0:00:00:00:00:09"),
        registered=(("ibeacon", BLUE_CHARM_ID),),
    )
    assert [o.frame["kind"] for o in submitted] == ["ibeacon", "eddystone_tlm"]
    assert submitted[0].frame["uuid"] == BLUE_CHARM_ID.split(":")[0]
    assert counters.unregistered_dropped == 2
    # A TLM frame names no beacon: the observation says which registered beacon sent it.
    assert submitted[0].beacon_id is None and "beacon_id" not in submitted[0].to_wire()
    assert submitted[1].to_wire()["beacon_id"] == BLUE_CHARM_ID


def test_config_document_parses_registered_ids_per_kind() -> None:
    config = GatewayConfig.parse(
        {
            "gateway_id": "gw-entrance",
            "store_id": 1,
            "refresh_s": 300,
            "registered": [
                {"kind": "ibeacon", "id": BLUE_CHARM_ID.upper()},
                {"kind": "eddystone_uid", "id": "00112233445566778899:aabbccddeeff"},
                {"kind": "something_new", "id": "x"},
            ],
        }
    )
    assert config is not None
    assert config.registered == {
        ("ibeacon", BLUE_CHARM_ID),
        ("eddystone_uid", "00112233445566778899:aabbccddeeff"),
    }
    assert GatewayConfig.parse(json.loads(config.to_json())) == config
    assert config.entry_rssi_dbm is None
    entrance = GatewayConfig.parse({"gateway_id": "g", "entry_rssi_dbm": -70, "registered": []})
    assert entrance is not None and entrance.entry_rssi_dbm == -70.0
    assert GatewayConfig.parse(json.loads(entrance.to_json())) == entrance
    assert GatewayConfig.parse({"gateway_id": "g", "entry_rssi_dbm": "loud"}) is None
    assert GatewayConfig.parse({"gateway_id": "g", "registered": [{"kind": 1}]}) is None
    assert GatewayConfig.parse([]) is None
