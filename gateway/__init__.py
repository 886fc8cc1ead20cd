"""The store's BLE gateway: scan with bleak, decode, upload observations to the store server."""

__version__ = "0.1.0"
