"""{{name}}: requests without the configured header get 400; the others go
on with its value in the context entry `api_version`."""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

_header = ""


class Policy(exports.Policy):
    def phases(self):
        return [types.Phase.REQUEST_HEADERS]

    def configure(self, config):
        global _header
        header = json.loads(config).get("header")
        if not isinstance(header, str) or not header:
            raise Err("header: give the header to require")
        _header = header.lower()

    def on_request(self, phase, request, context):
        value = request.header(_header)
        if value is not None:
            return types.Decision_Continue([types.Edit_SetEntry(("api_version", value))])
        return types.Decision_Deny(types.Denial(
            status=400,
            headers=[("content-type", "application/json")],
            body=json.dumps({"error": f"missing {_header}"}, separators=(",", ":")).encode(),
            reason="missing-header",
        ))

    def on_response(self, phase, request, response, context):
        return types.Decision_Continue([])
