"""Key storage costs as ratios against the bare KDF measured in the same run.

Run: python benchmarks/bench_keys.py. The password work (scrypt, PBKDF2, Argon2id) is the
point of each format; the ratios show how close esign stays to that floor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from esign.keys import KeyVault, dump_key, dump_pkcs12, generate_key, parse_key, parse_pkcs12


def best(fn: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    key = generate_key("ec-p256")
    password = b"correct horse battery staple"
    salt = os.urandom(16)

    scrypt = best(lambda: Scrypt(salt=salt, length=32, n=1 << 14, r=8, p=5).derive(password))
    pkcs8 = dump_key(key, password, encoding="der")
    load8 = best(lambda: parse_key(pkcs8, password))
    print(f"PKCS#8 load (scrypt N=2^14 r=8 p=5) / bare scrypt: {load8 / scrypt:.2f}x "
          f"({load8 * 1000:.1f} ms vs {scrypt * 1000:.1f} ms)")  # fmt: skip

    pbkdf2 = best(lambda: PBKDF2HMAC(hashes.SHA256(), 32, salt, 600_000).derive(password), 3)
    dump12 = best(lambda: dump_pkcs12(key, None, password), 3)
    p12 = dump_pkcs12(key, None, password)
    load12 = best(lambda: parse_pkcs12(p12, password), 3)
    print(f"PKCS#12 write (key PBKDF2 600k + MAC 600k) / one bare PBKDF2 600k: "
          f"{dump12 / pbkdf2:.2f}x ({dump12 * 1000:.0f} ms)")  # fmt: skip
    print(f"PKCS#12 read / one bare PBKDF2 600k: {load12 / pbkdf2:.2f}x ({load12 * 1000:.0f} ms)")

    argon = best(
        lambda: Argon2id(salt=salt, length=32, iterations=3, lanes=4, memory_cost=64 * 1024).derive(
            password
        ),
        3,
    )
    vault = KeyVault(":memory:")
    vault.create_key("k", "ec-p256", "pw")
    unlock = best(lambda: vault.unlock("k", "pw").close(), 3)
    print(f"vault unlock / bare Argon2id (t=3 p=4 64 MiB): {unlock / argon:.2f}x "
          f"({unlock * 1000:.0f} ms vs {argon * 1000:.0f} ms)")  # fmt: skip


if __name__ == "__main__":
    main()
