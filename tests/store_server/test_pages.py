"""The pages' own routes: the shopper page's web app manifest follows the page's store."""

from __future__ import annotations

from tests.store_server.conftest import World


def test_the_manifest_linked_from_a_store_page_starts_at_that_page(world: World) -> None:
    client, store_id = world.client(), world.seed.store_id
    page = client.get(f"/app?store={store_id}").get_data(as_text=True)
    assert f'<link rel="manifest" href="/manifest.webmanifest?store={store_id}">' in page
    answer = client.get(f"/manifest.webmanifest?store={store_id}")
    assert answer.mimetype == "application/manifest+json"
    assert answer.get_json()["start_url"] == f"/app?store={store_id}"
    assert answer.headers["Cache-Control"] == "no-cache"
    again = client.get(
        f"/manifest.webmanifest?store={store_id}", headers={"If-None-Match": answer.headers["ETag"]}
    )
    assert again.status_code == 304


def test_without_a_store_the_manifest_starts_at_the_plain_page(world: World) -> None:
    client = world.client()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in client.get("/app").get_data(
        as_text=True
    )
    for query in ("", "?store=", "?store=abc", "?store=-1", "?store=0"):
        manifest = client.get(f"/manifest.webmanifest{query}").get_json()
        assert manifest["start_url"] == "/app", query


def test_the_socket_io_client_is_served_from_the_package(world: World) -> None:
    with world.client().get("/vendor/socket.io.min.js") as served:
        assert served.status_code == 200 and b"io" in served.data
    assert world.client().get("/vendor/jquery.js").status_code == 404
