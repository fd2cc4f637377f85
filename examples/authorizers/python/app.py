"""The example tenant authorizer in Python: the rules are in ../README.md,
the cases it must pass in ../cases.json. Built with componentize-py, which
generates the `wit_world` bindings from ../../../wit."""

import hashlib
import hmac
import json
import re
import time

# hmac imports `warnings` lazily, on first use; componentize-py bundles only
# the modules imported while it builds, so import it here.
import warnings  # noqa: F401

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

SKEW_S = 300
TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
TIMESTAMP = re.compile(r"[0-9]{1,10}")

_secret = b""


def check(method, path, tenant, timestamp, signature, now):
    """The refusal reason, or None when the request passes."""
    if not tenant or not timestamp or not signature:
        return "missing-credentials"
    if not TENANT.fullmatch(tenant):
        return "bad-tenant"
    if not TIMESTAMP.fullmatch(timestamp) or abs(int(timestamp) - now) > SKEW_S:
        return "stale-timestamp"
    message = f"{method}\n{path}\n{timestamp}\n{tenant}".encode()
    expected = hmac.new(_secret, message, hashlib.sha256).hexdigest()
    # Constant time.
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad-signature"
    return None


class Policy(exports.Policy):
    def phases(self):
        return [types.Phase.REQUEST_HEADERS]

    def configure(self, config):
        global _secret
        secret = json.loads(config).get("secret")
        if not isinstance(secret, str) or len(secret.encode()) < 32:
            raise Err("secret: at least 32 bytes")
        _secret = secret.encode()

    def on_request(self, phase, request, context):
        tenant = request.header("x-tenant") or ""
        timestamp = request.header("x-timestamp") or ""
        signature = request.header("x-signature") or ""
        now = int(time.time())
        refusal = check(request.method(), request.path(), tenant, timestamp, signature, now)
        # The signature covers the method and path: the decision is cached
        # per resource.
        if refusal is None:
            return types.Decision_Continue([
                types.Edit_SetPrincipal(tenant),
                types.Edit_SetEntry(("tenant", tenant)),
                types.Edit_SetEntry(("portcullis.resource-specific", "true")),
            ])
        return types.Decision_Deny(types.Denial(
            status=401,
            headers=[
                ("content-type", "application/json"),
                ("www-authenticate", "Custom"),
                ("portcullis-resource-specific", "true"),
            ],
            body=b'{"error":"unauthorized"}',
            reason=refusal,
        ))

    def on_response(self, phase, request, response, context):
        return types.Decision_Continue([])
