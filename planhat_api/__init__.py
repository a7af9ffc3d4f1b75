"""HTTP policy shared by the Planhat tickets tap and target.

Base URL, authentication, rate limiting, retries and error mapping live here
once, so that both connectors treat the API the same way. Nothing in this
package imports the tap, the target or the sandbox.
"""

from planhat_api.client import PlanhatClient
from planhat_api.config import CLIENT_SETTINGS_SCHEMA, ClientSettings, settings_schema
from planhat_api.errors import PlanhatAPIError, PlanhatRetriesExhaustedError
from planhat_api.ratelimit import RateLimiter
from planhat_api.schema import load_readable_ticket_schema, load_ticket_schema

__all__ = [
    "CLIENT_SETTINGS_SCHEMA",
    "ClientSettings",
    "PlanhatAPIError",
    "PlanhatClient",
    "PlanhatRetriesExhaustedError",
    "RateLimiter",
    "load_readable_ticket_schema",
    "load_ticket_schema",
    "settings_schema",
]
