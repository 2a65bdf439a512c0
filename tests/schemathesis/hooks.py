"""Schemathesis hooks for the dynsec gateway (loaded via SCHEMATHESIS_HOOKS).

Every operation but `auth` carries its token in the JSON body. A generated
token would stop nearly every case at authentication, so a body that is a
JSON object gets the admin token from $DYNSEC_TOKEN and the cases reach the
handlers; bodies of other shapes are sent as generated (the gateway must
refuse them with a 4xx `{"error": ...}` all the same).
"""

import os

import schemathesis

TOKEN = os.environ["DYNSEC_TOKEN"]


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.path.endswith("/auth"):
        return
    if isinstance(case.body, dict):
        case.body["token"] = TOKEN
