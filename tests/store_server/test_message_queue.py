"""The message queue's channel per deployment, and the start refused on a dead queue."""

from __future__ import annotations

import sys

import pytest

from bench.stack import free_port
from store_server.cluster import check_message_queue
from store_server.settings import SettingsError, StoreSettings
from tests.support.services import redis_url


def test_each_database_gets_its_own_channel_and_no_password_reaches_it() -> None:
    one = StoreSettings(database_url="postgresql+psycopg://app:s3cret@db/chain_a")
    same = StoreSettings(database_url="postgresql+psycopg://app:other@db/chain_a")
    two = StoreSettings(database_url="postgresql+psycopg://app:s3cret@db/chain_b")
    assert one.message_channel.startswith("store-server-")
    assert one.message_channel == same.message_channel  # a rotated password changes nothing
    assert one.message_channel != two.message_channel
    named = StoreSettings(database_url="sqlite:///x.db", socketio_channel="chain-eu")
    assert named.message_channel == "chain-eu"


def test_limits_count_in_the_queues_redis_unless_told_otherwise() -> None:
    assert StoreSettings().limits_storage_uri == "memory://"
    queued = StoreSettings(socketio_message_queue="redis://q:6379/0")
    assert queued.limits_storage_uri == "redis://q:6379/0"
    own = StoreSettings(socketio_message_queue="redis://q/0", rate_limit_storage_url="redis://l/1")
    assert own.limits_storage_uri == "redis://l/1"


def test_a_queue_nobody_answers_refuses_the_start() -> None:
    with pytest.raises(SettingsError, match="does not answer"):
        check_message_queue(f"redis://127.0.0.1:{free_port()}/0")


def test_a_queue_without_the_redis_package_refuses_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # as if not installed
    with pytest.raises(SettingsError, match=r"redis package is missing.*\[cluster\]"):
        check_message_queue("redis://127.0.0.1:6379/0")


def test_a_queue_that_answers_is_taken() -> None:
    url = redis_url()
    if url is None:
        pytest.skip("STORE_TEST_REDIS_URL is not set (.ci/run sets it)")
    check_message_queue(url)
