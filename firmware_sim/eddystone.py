"""Eddystone-EID: the rotating identifier an opted-in phone advertises (docs/protocol.md)."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

EDDYSTONE_SERVICE_UUID = "0000feaa-0000-1000-8000-00805f9b34fb"

# Frame type byte of an Eddystone-EID frame (Eddystone specification).
EID_FRAME_TYPE = 0x30
EID_LENGTH = 8
IDENTITY_KEY_LENGTH = 16
# The spec allows rotation exponents 0..15 (a new EID every 1 s to every 9.1 h).
MAX_ROTATION_EXPONENT = 15


def _aes128_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block with AES-128-ECB."""
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block, as the spec says
    return encryptor.update(block) + encryptor.finalize()


def _check_identity_key(identity_key: bytes) -> None:
    if len(identity_key) != IDENTITY_KEY_LENGTH:
        raise ValueError(f"identity key must be {IDENTITY_KEY_LENGTH} bytes")


def temporary_key(identity_key: bytes, time_counter: int) -> bytes:
    """Derive the 16-byte temporary key for the 2^16-second period holding `time_counter`."""
    _check_identity_key(identity_key)
    block = bytes(11) + b"\xff" + bytes(2) + ((time_counter >> 16) & 0xFFFF).to_bytes(2, "big")
    return _aes128_block(identity_key, block)


def compute_eid(identity_key: bytes, rotation_exponent: int, time_counter: int) -> bytes:
    """Compute the 8-byte EID of a device at `time_counter` (Unix seconds)."""
    if not 0 <= rotation_exponent <= MAX_ROTATION_EXPONENT:
        raise ValueError(f"rotation exponent must be 0..{MAX_ROTATION_EXPONENT}")
    window_start = (time_counter >> rotation_exponent) << rotation_exponent
    block = bytes(11) + bytes([rotation_exponent]) + (window_start & 0xFFFFFFFF).to_bytes(4, "big")
    return _aes128_block(temporary_key(identity_key, time_counter), block)[:EID_LENGTH]


def eid_service_data(tx_power: int, eid: bytes) -> bytes:
    """Build the FEAA service data of an EID frame: 30, tx_power as i8, the 8-byte EID."""
    if len(eid) != EID_LENGTH:
        raise ValueError(f"eid must be {EID_LENGTH} bytes")
    return bytes([EID_FRAME_TYPE]) + tx_power.to_bytes(1, "big", signed=True) + eid
