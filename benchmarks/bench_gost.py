"""GOST R 34.10-2012 sign / verify per second: esign next to openssl with the GOST engine.

    python benchmarks/bench_gost.py [SECONDS]      (default 3 seconds per measurement)

Measured in one run on one machine, for the 256-bit sets TC26-A and CryptoPro-A and the
512-bit set TC26-512-A, over a 1 KiB document:

- openssl + GOST engine: ``EVP_DigestSign`` / ``EVP_DigestVerify`` with ``md_gost12_*``
  called through ctypes in a child process whose private ``OPENSSL_CONF`` loads the
  engine (no process start-up per operation, so this is the engine's real rate);
- esign primitive: ``GostPrivateKey.sign_digest`` / ``GostPublicKey.verify_digest``
  (gostcrypto underneath) over a precomputed Streebog digest;
- esign CAdES: ``esign.sign`` (CAdES-BES, four signed attributes) and ``esign.verify``
  (signature, attributes, path to the anchor; the CA's certificate signature is checked
  once and then remembered) with one trust context.

Also Streebog-256 over 1 KiB: gostcrypto (pure Python) against hashlib with OpenSSL's GOST
provider loaded (child process, private ``OPENSSL_CONF``). Ratios are esign / openssl.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization

import esign
from esign.certs import TrustContext
from esign.gost import streebog
from esign.gost.authority import GostAuthority
from esign.gost.keys import generate

DOC = bytes(range(256)) * 4  # 1 KiB
SETS = (("gost2012-256-tca", 256), ("gost2012-256-a", 256), ("gost2012-512-a", 512))

OPENSSL_CHILD = r"""
import ctypes, ctypes.util, json, sys, time
lib = ctypes.CDLL(ctypes.util.find_library("crypto"))
P = ctypes.c_void_p
for name, res, args in (
    ("OPENSSL_init_crypto", ctypes.c_int, [ctypes.c_uint64, P]),
    ("ENGINE_by_id", P, [ctypes.c_char_p]),
    ("ENGINE_init", ctypes.c_int, [P]),
    ("ENGINE_set_default", ctypes.c_int, [P, ctypes.c_uint]),
    ("BIO_new_mem_buf", P, [ctypes.c_char_p, ctypes.c_int]),
    ("PEM_read_bio_PrivateKey", P, [P, P, P, P]),
    ("EVP_get_digestbyname", P, [ctypes.c_char_p]),
    ("EVP_MD_CTX_new", P, []),
    ("EVP_MD_CTX_reset", ctypes.c_int, [P]),
    ("EVP_DigestSignInit", ctypes.c_int, [P, P, P, P, P]),
    ("EVP_DigestSign", ctypes.c_int, [P, ctypes.c_char_p, ctypes.POINTER(ctypes.c_size_t),
                                      ctypes.c_char_p, ctypes.c_size_t]),
    ("EVP_DigestVerifyInit", ctypes.c_int, [P, P, P, P, P]),
    ("EVP_DigestVerify", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t,
                                        ctypes.c_char_p, ctypes.c_size_t]),
):
    fn = getattr(lib, name); fn.restype = res; fn.argtypes = args
lib.OPENSSL_init_crypto(0x40, None)  # OPENSSL_INIT_LOAD_CONFIG: the private OPENSSL_CONF
engine = lib.ENGINE_by_id(b"gost")
assert engine and lib.ENGINE_init(engine) == 1, "GOST engine not loadable"
lib.ENGINE_set_default(engine, 0xFFFF)
spec = json.loads(sys.stdin.read())
doc = bytes.fromhex(spec["doc"]); seconds = spec["seconds"]; out = {}
for name, (pem, md_name) in spec["keys"].items():
    pem = pem.encode()
    pkey = lib.PEM_read_bio_PrivateKey(lib.BIO_new_mem_buf(pem, len(pem)), None, None, None)
    md = lib.EVP_get_digestbyname(md_name.encode())
    assert pkey and md, name
    ctx = lib.EVP_MD_CTX_new()
    buf = ctypes.create_string_buffer(256); size = ctypes.c_size_t(256)
    def sign():
        lib.EVP_MD_CTX_reset(ctx)
        assert lib.EVP_DigestSignInit(ctx, None, md, None, pkey) == 1
        size.value = 256
        assert lib.EVP_DigestSign(ctx, buf, ctypes.byref(size), doc, len(doc)) == 1
    sign(); signature = buf.raw[: size.value]
    def verify():
        lib.EVP_MD_CTX_reset(ctx)
        assert lib.EVP_DigestVerifyInit(ctx, None, md, None, pkey) == 1
        assert lib.EVP_DigestVerify(ctx, signature, len(signature), doc, len(doc)) == 1
    rates = {}
    for label, fn in (("sign", sign), ("verify", verify)):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            fn(); count += 1
        rates[label] = count / (time.perf_counter() - start)
    out[name] = rates
print(json.dumps(out))
"""

HASHLIB_CHILD = r"""
import hashlib, json, sys, time
doc = bytes(range(256)) * 4; seconds = float(sys.argv[1]); count, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    hashlib.new("md_gost12_256", doc).digest(); count += 1
print(json.dumps({"rate": count / (time.perf_counter() - start)}))
"""


def _rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def _engine_conf(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.cnf"
    if kind == "engine":
        engine = sorted(glob.glob("/usr/lib/*/engines-3/gost.so"))
        if not engine:
            sys.exit("libengine-gost-openssl is not installed")
        body = (
            "openssl_conf = d\n[d]\nengines = e\n[e]\ngost = g\n"
            f"[g]\nengine_id = gost\ndynamic_path = {engine[0]}\ndefault_algorithms = ALL\n"
        )
    else:
        body = (
            "openssl_conf = d\n[d]\nproviders = p\n[p]\ndefault = x\ngostprov = y\n"
            "[x]\nactivate = 1\n[y]\nactivate = 1\n"
        )
    path.write_text(body)
    return path


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    folder = Path(tempfile.mkdtemp(prefix="bench-gost-"))
    rows = {}
    openssl_keys = {}
    for name, bits in SETS:
        ca = GostAuthority.create_root("CN=Bench GOST CA", algorithm=name)
        key = generate(name)
        cert = ca.issue(key.public_key(), subject="CN=Bench signer")
        trust = TrustContext([ca.certificate])
        digest = streebog.digest(bits, DOC)
        value = key.sign_digest(digest)
        public = key.public_key()
        signature = esign.sign(DOC, signer=(key, cert))  # type: ignore[arg-type]
        assert esign.verify(signature, DOC, trust=trust).valid
        rows[name] = {
            "esign_primitive_sign": _rate(lambda k=key, d=digest: k.sign_digest(d), seconds),
            "esign_primitive_verify": _rate(
                lambda p=public, v=value, d=digest: p.verify_digest(v, d), seconds
            ),
            "esign_cades_sign": _rate(
                lambda k=key, c=cert: esign.sign(DOC, signer=(k, c)),  # type: ignore[misc]
                seconds,
            ),
            "esign_cades_verify": _rate(
                lambda s=signature, t=trust: esign.verify(s, DOC, trust=t), seconds
            ),
        }
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        openssl_keys[name] = (pem, f"md_gost12_{bits}")
    env = dict(os.environ, OPENSSL_CONF=str(_engine_conf(folder, "engine")))
    spec = json.dumps({"doc": DOC.hex(), "seconds": seconds, "keys": openssl_keys})
    child = subprocess.run(
        [sys.executable, "-c", OPENSSL_CHILD], input=spec, env=env, capture_output=True, text=True
    )
    if child.returncode != 0:
        sys.exit(f"openssl child failed: {child.stderr}")
    engine_rates = json.loads(child.stdout)
    hashlib_env = dict(os.environ, OPENSSL_CONF=str(_engine_conf(folder, "provider")))
    hashed = subprocess.run(
        [sys.executable, "-c", HASHLIB_CHILD, str(seconds)],
        env=hashlib_env,
        capture_output=True,
        text=True,
    )
    from gostcrypto import gosthash

    pure = _rate(lambda: gosthash.new("streebog256", data=DOC).digest(), seconds)
    print(
        f"{'set':18} {'op':7} {'openssl+engine/s':>17} {'esign prim/s':>13} "
        f"{'ratio':>7} {'esign CAdES/s':>14} {'ratio':>7}"
    )
    result: dict[str, object] = {}
    for name, _ in SETS:
        for op in ("sign", "verify"):
            base = engine_rates[name][op]
            prim = rows[name][f"esign_primitive_{op}"]
            cades = rows[name][f"esign_cades_{op}"]
            print(
                f"{name:18} {op:7} {base:17.0f} {prim:13.1f} {prim / base:7.4f} "
                f"{cades:14.1f} {cades / base:7.4f}"
            )
            result[f"{name}/{op}"] = {
                "openssl_engine": base,
                "esign_primitive": prim,
                "esign_cades": cades,
                "primitive_ratio": prim / base,
                "cades_ratio": cades / base,
            }
    if hashed.returncode == 0:
        fast = json.loads(hashed.stdout)["rate"]
        print(
            f"streebog256 1 KiB: hashlib+gostprov {fast:.0f}/s, gostcrypto {pure:.0f}/s, "
            f"ratio {fast / pure:.0f}x"
        )
        result["streebog256_1k"] = {"hashlib_gostprov": fast, "gostcrypto": pure}
    else:
        print(f"streebog256 1 KiB: gostcrypto {pure:.0f}/s (gostprov not loadable)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_gost.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
