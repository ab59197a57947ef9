from __future__ import annotations

import time

import httpx

from fanout.local.fakes.faults import Fault, FaultKind
from fanout.local.fakes.server import CONTAINER_HEADER

AUTH = {"Authorization": "Bearer ghp-a", CONTAINER_HEADER: "c0"}
COMMENTS = "/repos/acme/widgets/issues/7/comments"


def test_comment_lifecycle_post_patch_get_delete(github_api):
    fake, base = github_api()
    created = httpx.post(f"{base}{COMMENTS}", json={"body": "one"}, headers=AUTH)
    comment_id = created.json()["id"]
    patched = httpx.patch(
        f"{base}/repos/acme/widgets/issues/comments/{comment_id}", json={"body": "two"}, headers=AUTH
    )
    assert created.status_code == 201
    assert created.json()["user"]["login"] == "bot-a"
    assert patched.status_code == 200
    assert patched.json()["body"] == "two"
    [kept] = fake.comments(repo="acme/widgets", issue=7)
    assert (kept.id, kept.body, kept.edits) == (comment_id, "two", 1)

    deleted = httpx.delete(f"{base}/repos/acme/widgets/issues/comments/{comment_id}", headers=AUTH)
    missing = httpx.patch(
        f"{base}/repos/acme/widgets/issues/comments/{comment_id}", json={"body": "x"}, headers=AUTH
    )
    assert (deleted.status_code, missing.status_code) == (204, 404)
    assert fake.comments() == []


def test_list_paginates_with_link_headers(github_api):
    _, base = github_api()
    for n in range(5):
        httpx.post(f"{base}{COMMENTS}", json={"body": f"c{n}"}, headers=AUTH)
    bodies: list[str] = []
    url: str | None = f"{base}{COMMENTS}?per_page=2"
    pages = 0
    while url:
        response = httpx.get(url, headers=AUTH)
        bodies += [c["body"] for c in response.json()]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert bodies == ["c0", "c1", "c2", "c3", "c4"]
    assert pages == 3


def test_user_and_bad_credentials(github_api):
    fake, base = github_api()
    assert httpx.get(f"{base}/user", headers=AUTH).json()["login"] == "bot-a"
    bad = httpx.post(f"{base}{COMMENTS}", json={"body": "x"}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert fake.comments() == []


def test_empty_body_is_422(github_api):
    _, base = github_api()
    assert httpx.post(f"{base}{COMMENTS}", json={"body": ""}, headers=AUTH).status_code == 422


def test_secondary_limit_with_and_without_retry_after(github_api):
    fake, base = github_api(Fault(FaultKind.GITHUB_SECONDARY, retry_after_s=3, duration_s=60))
    response = httpx.post(f"{base}{COMMENTS}", json={"body": "x"}, headers=AUTH)
    again = httpx.post(f"{base}{COMMENTS}", json={"body": "x"}, headers=AUTH)
    assert response.status_code == 403
    assert response.headers["retry-after"] == "3"
    assert "secondary rate limit" in response.json()["message"]
    assert fake.log.calls()[1].inside_own_retry_after
    assert fake.comments() == []

    _bare, base2 = github_api(Fault(FaultKind.GITHUB_SECONDARY, retry_after_s=0))
    response = httpx.post(f"{base2}{COMMENTS}", json={"body": "x"}, headers=AUTH)
    assert response.status_code == 403
    assert "retry-after" not in response.headers
    assert again.status_code == 403


def test_primary_limit_sets_remaining_zero_and_reset(github_api):
    _, base = github_api(Fault(FaultKind.GITHUB_PRIMARY, retry_after_s=5))
    response = httpx.post(f"{base}{COMMENTS}", json={"body": "x"}, headers=AUTH)
    assert response.status_code == 403
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert 0 < int(response.headers["x-ratelimit-reset"]) - time.time() <= 6


def test_server_errors_and_scope(github_api):
    _fake, base = github_api(Fault(FaultKind.GITHUB_5XX, scope="ghp-other"))
    assert httpx.post(f"{base}{COMMENTS}", json={"body": "x"}, headers=AUTH).status_code == 201
    fake2, base2 = github_api(Fault(FaultKind.GITHUB_5XX))
    assert httpx.get(f"{base2}{COMMENTS}", headers=AUTH).status_code == 502
    assert [c.fault for c in fake2.log.calls()] == ["github_5xx"]
