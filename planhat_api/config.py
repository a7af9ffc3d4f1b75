"""Connection settings shared by tap and target, and their validation."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

DEFAULT_API_URL = "https://api.planhat.com"

#: Planhat's documented hard limit: 150 requests in any one second.
MAX_REQUESTS_PER_SECOND = 150

# Regional hosts seen so far: api-eu, api-eu2, api-eu3, api-us2, api-us4.
_REGION_PATTERN = re.compile(r"^[a-z]{2}[0-9]{0,2}$")
_URL_UNSAFE_CHARACTERS = re.compile(r"[\s\\]")
_TOKEN_INVALID_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")

CLIENT_SETTINGS_SCHEMA = th.PropertiesList(
    th.Property(
        "api_token",
        th.StringType(min_length=1),
        required=True,
        secret=True,
        title="API token",
        description="Planhat API token of a service account, sent as a Bearer token.",
    ),
    th.Property(
        "api_url",
        th.StringType(min_length=1),
        title="API URL",
        description=(
            "Base URL of the Planhat API. Default: https://api.planhat.com, or the "
            "regional host that `region` builds. Plain http:// is accepted only for "
            "loopback hosts such as 127.0.0.1. Do not set together with `region`."
        ),
    ),
    th.Property(
        "region",
        th.StringType(min_length=1),
        title="Region",
        description=(
            "Planhat region of the workspace, such as `eu`, `eu2` or `us4`; builds "
            "https://api-REGION.planhat.com. Leave unset for the default host. "
            "Do not set together with `api_url`."
        ),
    ),
    th.Property(
        "max_requests_per_minute",
        th.IntegerType(minimum=1),
        default=200,
        title="Max requests per minute",
        description=(
            "Requests this process sends in any 60-second window. Planhat's soft "
            "quota is 200 a minute per token; lower it when other jobs share the "
            "token. Never more than 150 requests go out in any one second."
        ),
    ),
    th.Property(
        "request_timeout_seconds",
        th.NumberType(exclusive_minimum=0),
        default=120,
        title="Request timeout (seconds)",
        description=(
            "Seconds to wait for the API to connect or to send the next bytes of a "
            "response before the attempt counts as timed out and is retried."
        ),
    ),
    th.Property(
        "retry_max_attempts",
        th.IntegerType(minimum=1),
        default=6,
        title="Max attempts per request",
        description=(
            "Attempts per request, the first one included, before a retryable error "
            "(429, 5xx, time-out, dropped connection, invalid JSON) fails the run."
        ),
    ),
    th.Property(
        "retry_initial_wait_seconds",
        th.NumberType(minimum=0),
        default=1,
        title="First retry wait (seconds)",
        description=(
            "Wait before the first retry, in seconds; it doubles on every further "
            "attempt, with random jitter, up to `retry_max_wait_seconds`."
        ),
    ),
    th.Property(
        "retry_max_wait_seconds",
        th.NumberType(minimum=0),
        default=120,
        title="Max retry wait (seconds)",
        description=(
            "Longest wait between two attempts, in seconds. A 429 whose Retry-After "
            "asks for a longer wait fails the run at once instead of sleeping."
        ),
    ),
)


def settings_schema(connector_settings: th.PropertiesList) -> dict[str, Any]:
    """Return a config JSON schema: connection settings first, then the connector's."""
    client = CLIENT_SETTINGS_SCHEMA.to_dict()
    own = connector_settings.to_dict()
    return {
        **own,
        "properties": {**client["properties"], **own["properties"]},
        "required": [*client.get("required", []), *own.get("required", [])],
    }


@dataclass(frozen=True)
class ClientSettings:
    """Validated connection settings of one Planhat client."""

    base_url: str
    api_token: str
    max_requests_per_minute: int = 200
    max_requests_per_second: int = MAX_REQUESTS_PER_SECOND
    request_timeout_seconds: float = 120
    retry_max_attempts: int = 6
    retry_initial_wait_seconds: float = 1
    retry_max_wait_seconds: float = 120

    def __repr__(self) -> str:
        """Describe the settings without the token."""
        return f"ClientSettings(base_url={self.base_url!r}, api_token='***')"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Build settings from a tap or target config, checking what JSON schema cannot.

        Raises:
            ConfigValidationError: naming each invalid setting and how to fix it.
        """
        errors: list[str] = []
        base_url = resolve_base_url(config, errors)
        token = config.get("api_token")
        _validate_token(token, errors)
        if errors:
            raise ConfigValidationError("Invalid Planhat settings", errors=errors)

        return cls(
            base_url=base_url,
            api_token=str(token),
            max_requests_per_minute=int(config.get("max_requests_per_minute", 200)),
            request_timeout_seconds=float(config.get("request_timeout_seconds", 120)),
            retry_max_attempts=int(config.get("retry_max_attempts", 6)),
            retry_initial_wait_seconds=float(
                config.get("retry_initial_wait_seconds", 1),
            ),
            retry_max_wait_seconds=float(config.get("retry_max_wait_seconds", 120)),
        )


def resolve_base_url(config: Mapping[str, Any], errors: list[str]) -> str:
    """Return the base URL that `api_url` or `region` selects, appending any errors."""
    api_url = config.get("api_url")
    region = config.get("region")
    if api_url and region:
        errors.append(
            f"Settings api_url ({api_url!r}) and region ({region!r}) are both set. "
            "Set only one: region builds the regional host, api_url names any host.",
        )
        return DEFAULT_API_URL

    if region:
        if not _REGION_PATTERN.match(str(region)):
            errors.append(
                f"Setting region {region!r} is invalid. Use the part of the regional "
                "host after 'api-', such as 'eu', 'eu2' or 'us4'.",
            )
            return DEFAULT_API_URL
        return f"https://api-{region}.planhat.com"

    if not api_url:
        return DEFAULT_API_URL
    return _validate_api_url(str(api_url), errors)


def _validate_api_url(api_url: str, errors: list[str]) -> str:
    if "@" in api_url:
        # Never echo the value: user info may hold a password.
        errors.append(
            "Setting api_url contains '@' (user info such as user:password@). "
            "Give only the scheme, host, port and optional path prefix; the API "
            "token is the only credential.",
        )
        return api_url
    if _URL_UNSAFE_CHARACTERS.search(api_url):
        errors.append(
            f"Setting api_url {api_url!r} is not a valid URL: it contains whitespace "
            "or a backslash. Give only the scheme, host, port and optional path "
            "prefix.",
        )
        return api_url

    # Check the host that requests (through urllib3) will connect to, not
    # what another parser makes of the URL: the two can disagree.
    try:
        parts = parse_url(api_url)
    except LocationParseError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.host:
        errors.append(
            f"Setting api_url {api_url!r} is not a valid URL. Use a base URL such as "
            "https://api.planhat.com or http://127.0.0.1:8765 for the local sandbox.",
        )
        return api_url

    if parts.scheme == "http" and not _is_loopback(parts.host.strip("[]")):
        errors.append(
            f"Setting api_url {api_url!r} uses plain http:// for a host that is not "
            "loopback, which would send the API token unencrypted. Use https://.",
        )
    if parts.query is not None or parts.fragment is not None:
        errors.append(
            f"Setting api_url {api_url!r} has a query or fragment. Give only the "
            "scheme, host, port and optional path prefix.",
        )
    return api_url.rstrip("/")


def _validate_token(token: object, errors: list[str]) -> None:
    # Never echo the value of the token in these messages.
    if not isinstance(token, str) or not token.strip():
        errors.append(
            "Setting api_token is missing or blank. Set it to the token of a Planhat "
            "service account (environment variable *_API_TOKEN in Meltano).",
        )
    elif token != token.strip() or _TOKEN_INVALID_CHARACTERS.search(token):
        errors.append(
            "Setting api_token contains whitespace or control characters, often a "
            "trailing newline from the file the secret was read from. Remove them.",
        )
    elif not token.isascii():
        errors.append(
            "Setting api_token contains non-ASCII characters, which no Planhat "
            "token has. Check that the right value was copied.",
        )


def _is_loopback(hostname: str) -> bool:
    if hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
