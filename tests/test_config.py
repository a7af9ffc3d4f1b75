"""Validation of the shared connection settings."""

from __future__ import annotations

import pytest
from singer_sdk.exceptions import ConfigValidationError

from planhat_api import ClientSettings


def errors_of(config):
    with pytest.raises(ConfigValidationError) as raised:
        ClientSettings.from_config(config)
    return " ".join(raised.value.errors)


def test_default_host():
    assert ClientSettings.from_config({"api_token": "t"}).base_url == "https://api.planhat.com"


@pytest.mark.parametrize(("region", "host"), [("eu", "https://api-eu.planhat.com"), ("us4", "https://api-us4.planhat.com")])
def test_region_builds_host(region, host):
    assert ClientSettings.from_config({"api_token": "t", "region": region}).base_url == host


def test_region_and_api_url_conflict():
    message = errors_of({"api_token": "t", "region": "eu", "api_url": "https://api.planhat.com"})

    assert "are both set. Set only one" in message


def test_invalid_region():
    assert "Setting region 'api-eu.planhat.com' is invalid" in errors_of({"api_token": "t", "region": "api-eu.planhat.com"})


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1/", "http://[::1]:9"])
def test_plain_http_allowed_on_loopback(url):
    assert ClientSettings.from_config({"api_token": "t", "api_url": url}).base_url == url.rstrip("/")


def test_plain_http_rejected_elsewhere():
    message = errors_of({"api_token": "t", "api_url": "http://api.planhat.com"})

    assert "plain http:// for a host that is not loopback" in message


@pytest.mark.parametrize("url", ["api.planhat.com", "ftp://x", "https://"])
def test_malformed_url(url):
    assert f"Setting api_url {url!r} is not a valid URL" in errors_of({"api_token": "t", "api_url": url})


def test_missing_token():
    assert "Setting api_token is missing" in errors_of({})


def test_repr_hides_token():
    settings = ClientSettings.from_config({"api_token": "very-secret"})

    assert "very-secret" not in repr(settings)


def test_backslash_host_trick_rejected():
    # urlsplit reads the host as 127.0.0.1, but requests would connect to vm.
    message = errors_of({"api_token": "t", "api_url": "http://vm:9999\\@127.0.0.1:8765"})

    assert "contains '@'" in message


def test_user_info_rejected_without_echo():
    message = errors_of({"api_token": "t", "api_url": "http://user:PWSEKRET@127.0.0.1:8765"})

    assert "contains '@'" in message
    assert "PWSEKRET" not in message


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:abc", "http://127.0.0.1:8765 "])
def test_unparsable_url_rejected(url):
    message = errors_of({"api_token": "t", "api_url": url})

    assert "Setting api_url" in message


@pytest.mark.parametrize("token", ["SEKRET-TOKEN\n", "   ", " SEKRET", "SEK\tRET", "SEKRÉT"])
def test_malformed_token_rejected_without_echo(token):
    message = errors_of({"api_token": token})

    assert "Setting api_token" in message
    assert "SEK" not in message
