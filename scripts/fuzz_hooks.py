"""Schemathesis hooks for scripts/contract-fuzz.sh.

`cargo lambda watch` stands in for API Gateway locally, and it cannot carry two kinds of
request to a function at all: a body that is not valid UTF-8, and a header value with bytes
outside visible ASCII. It answers those with its own 500 before any function runs, so they
would test the emulator, not the API. Just before such a request is sent, its offending part
is replaced by one the API must still refuse in the same way: invalid UTF-8 becomes the same
text with replacement characters (not JSON, so still a 400), and a header value outside
visible ASCII becomes a value with a space in it (an invalid `Idempotency-Key`, still a 400).
Every request then reaches the functions, which must never answer 5xx.
"""

import schemathesis


def _visible_ascii(text):
    return all(0x20 <= ord(ch) < 0x7F for ch in text)


@schemathesis.hook
def before_call(ctx, case, kwargs):
    body = case.body
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            case.body = bytes(body).decode("utf-8", errors="replace").encode("utf-8")
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "authorization":
            continue
        if isinstance(value, str) and not _visible_ascii(value):
            case.headers[name] = "not visible ascii"
