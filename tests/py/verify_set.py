"""Verifies Security Event Tokens with joserfc, a JOSE library of another ecosystem than the
transmitter's, against the transmitter's published JWKS.

Usage: verify_set.py JWKS_FILE < SETS (one compact JWS per line)

Prints one JSON object per SET, {"header": ..., "claims": ...}, on stdout. Exits non-zero,
naming the SET, when one does not verify with ES256 against a key of the JWKS, when its header
is not typ "secevent+jwt" with the kid of that key, or when its payload is not a JSON object.
"""

import json
import sys

from joserfc import jws
from joserfc.jwk import KeySet


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        key_set = KeySet.import_key_set(json.load(f))
    kids = {key.kid for key in key_set.keys}
    for number, line in enumerate(sys.stdin, start=1):
        token = line.strip()
        if not token:
            continue
        try:
            verified = jws.deserialize_compact(token, key_set, algorithms=["ES256"])
        except Exception as error:  # noqa: BLE001 - any failure is a failed verification
            print(f"SET {number} does not verify: {error!r}", file=sys.stderr)
            return 1
        header = verified.protected
        if header.get("typ") != "secevent+jwt" or header.get("kid") not in kids:
            print(f"SET {number} has the header {header}", file=sys.stderr)
            return 1
        claims = json.loads(verified.payload)
        if not isinstance(claims, dict):
            print(f"SET {number}'s payload is not a JSON object", file=sys.stderr)
            return 1
        print(json.dumps({"header": header, "claims": claims}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
