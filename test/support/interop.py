"""Answers interop questions with pyotp and passlib, for the otpkit tests.

Reads a JSON list of calls on stdin, writes a JSON list of answers on stdout.
Run with Debian's /usr/bin/python3 (python3-pyotp, python3-passlib).
"""
import hashlib
import json
import sys
import warnings

warnings.simplefilter("ignore")  # passlib warns about deprecated stdlib modules

import pyotp  # noqa: E402
from passlib.totp import TOTP  # noqa: E402

DIGESTS = {"SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}
PASSLIB_ALGS = {"SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
NAMES = {"sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}


def digest_name(digest):
    return NAMES[digest().name]


def answer(call):
    op = call["op"]
    if op == "pyotp.totp":
        otp = pyotp.TOTP(call["secret"], digits=call["digits"], digest=DIGESTS[call["algorithm"]], interval=call["period"])
        return otp.at(call["time"])
    if op == "pyotp.hotp":
        otp = pyotp.HOTP(call["secret"], digits=call["digits"], digest=DIGESTS[call["algorithm"]])
        return otp.at(call["counter"])
    if op == "pyotp.verify":
        otp = pyotp.TOTP(call["secret"], digits=call["digits"], digest=DIGESTS[call["algorithm"]], interval=call["period"])
        return otp.verify(call["code"], for_time=call["time"], valid_window=1)
    if op == "pyotp.uri":
        digest = DIGESTS[call["algorithm"]]
        if call["type"] == "hotp":
            otp = pyotp.HOTP(call["secret"], digits=call["digits"], digest=digest)
            return otp.provisioning_uri(name=call["account"], issuer_name=call.get("issuer"), initial_count=call["counter"])
        otp = pyotp.TOTP(call["secret"], digits=call["digits"], digest=digest, interval=call["period"])
        return otp.provisioning_uri(name=call["account"], issuer_name=call.get("issuer"))
    if op == "pyotp.parse":
        otp = pyotp.parse_uri(call["uri"])
        out = {
            "secret": otp.secret,
            "account": otp.name,
            "issuer": otp.issuer,
            "algorithm": digest_name(otp.digest),
            "digits": otp.digits,
        }
        if isinstance(otp, pyotp.TOTP):
            out.update(type="totp", period=otp.interval, code=otp.at(call["time"]))
        else:
            # pyotp HOTP.at(n) is the code at initial_count + n
            out.update(type="hotp", counter=otp.initial_count, code=otp.at(0))
        return out
    if op == "passlib.totp":
        otp = TOTP(key=call["secret"], digits=call["digits"], alg=PASSLIB_ALGS[call["algorithm"]], period=call["period"])
        return otp.generate(call["time"]).token
    if op == "passlib.verify":
        otp = TOTP(key=call["secret"], digits=call["digits"], alg=PASSLIB_ALGS[call["algorithm"]], period=call["period"])
        try:
            otp.match(call["code"], time=call["time"], window=call["period"])
            return True
        except Exception:
            return False
    if op == "passlib.uri":
        otp = TOTP(key=call["secret"], digits=call["digits"], alg=PASSLIB_ALGS[call["algorithm"]], period=call["period"])
        return otp.to_uri(label=call["account"], issuer=call.get("issuer"))
    if op == "passlib.parse":
        otp = TOTP.from_uri(call["uri"])
        return {
            "type": "totp",
            "secret": otp.base32_key,
            "account": otp.label,
            "issuer": otp.issuer,
            "algorithm": NAMES[otp.alg],
            "digits": otp.digits,
            "period": otp.period,
            "code": otp.generate(call["time"]).token,
        }
    raise ValueError("unknown op")


def main():
    calls = json.load(sys.stdin)
    out = []
    for call in calls:
        try:
            out.append({"ok": answer(call)})
        except Exception as error:  # an answer per call, so one refusal does not hide the rest
            out.append({"error": f"{type(error).__name__}: {error}"})
    json.dump(out, sys.stdout)


main()
