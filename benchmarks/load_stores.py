"""Load test of the shared stores: issuing, revoking and guessing from many processes at once.

    python benchmarks/load_stores.py [--postgres URL] [--per-process 200]
                                     [--processes 1 2 4 8] [--guessers 8]

For PostgreSQL and for SQLite (one durable file), with 1, 2, 4 and 8 issuing processes:
each issues ``--per-process`` certificates from one CA into one registry while another
process issues, revokes and publishes a CRL every 50 ms against the same registry. Reported:
certificates per second (issuers only, wall time from a common start), and duplicates
(every serial any process got back, against the registry's rows: must be zero). Then
``--guessers`` processes each try a wrong password 3 times against one vault key and one
account: exactly 3 tries may be checked, every other one refused as locked, and the right
password refused afterwards.

Without ``--postgres`` a throw-away server is started on 127.0.0.1 (Debian's
``postgresql`` package; as root it runs as the ``postgres`` user) and stopped at the end.
Everything is bounded: counts are fixed, and every process has a 300 s timeout.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests._postgres


from esign.certs import CertificateAuthority
from esign.certs.registry import open_registry
from esign.errors import (
    AccountLockedError,
    AuthenticationError,
    KeyLockedError,
    RegistryUnavailableError,
    WrongPasswordError,
)
from esign.keys import generate_key
from esign.keys.vault import KeyVault
from esign.simple.credentials import CredentialStore

FORK = multiprocessing.get_context("fork")
SECRET = bytes(range(32))
#: Seconds between the revoker's rounds (issue, revoke, publish a CRL): a steady background.
PACE = 0.05


def _ca(root: CertificateAuthority, url: str) -> CertificateAuthority:
    return CertificateAuthority(root.key, root.certificate, registry=open_registry(url))


def _issuer(root: CertificateAuthority, url: str, count: int, start: Any, out: Any) -> None:
    ca = _ca(root, url)
    keys = [generate_key("ec-p256").public_key() for _ in range(16)]
    serials, retries = [], 0
    start.wait()
    began = time.perf_counter()
    i = 0
    while len(serials) < count:
        try:
            cert = ca.issue(keys[i % 16], subject=f"CN=Taxpayer {os.getpid()} {i}")
        except RegistryUnavailableError as exc:  # busy: wait as told, then retry
            retries += 1
            time.sleep(exc.retry_after)
            continue
        serials.append(cert.serial_number)
        i += 1
    out.put(("issuer", serials, time.perf_counter() - began, retries))


def _revoker(root: CertificateAuthority, url: str, start: Any, stop: Any, out: Any) -> None:
    ca = _ca(root, url)
    key = generate_key("ec-p256").public_key()
    serials, revoked, crls = [], 0, 0
    start.wait()
    while not stop.is_set():
        try:
            cert = ca.issue(key, subject="CN=Revoked soon")
            serials.append(cert.serial_number)
            ca.revoke(cert, reason="superseded")
            revoked += 1
            ca.crl()
            crls += 1
        except RegistryUnavailableError as exc:
            time.sleep(exc.retry_after)
        time.sleep(PACE)
    out.put(("revoker", serials, revoked, crls))


def issue_round(root: CertificateAuthority, url: str, processes: int, per: int) -> dict[str, Any]:
    registry = open_registry(url)
    registry.bind(root.certificate)
    start, stop, out = FORK.Event(), FORK.Event(), FORK.Queue()
    issuers = [
        FORK.Process(target=_issuer, args=(root, url, per, start, out)) for _ in range(processes)
    ]
    revoker = FORK.Process(target=_revoker, args=(root, url, start, stop, out))
    for p in [*issuers, revoker]:
        p.start()
    time.sleep(0.5)  # let every process connect and prepare its keys
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=300) for _ in issuers]
    wall = time.perf_counter() - began
    stop.set()
    revoked = out.get(timeout=300)
    for p in [*issuers, revoker]:
        p.join(300)
    returned = [s for r in results for s in r[1]] + list(revoked[1])
    rows = [r.serial for r in registry.records()]
    return {
        "rate": processes * per / wall,
        "retries": sum(r[3] for r in results),
        "returned": len(returned),
        "duplicates": len(returned) - len(set(returned)) + len(rows) - len(set(rows)),
        "missing": len(set(returned) - set(rows)),
        "rows": len(rows),
        "revoked": revoked[2],
        "crls": revoked[3],
    }


def _guess_vault(url: str, start: Any, out: Any) -> None:
    vault = KeyVault(url)
    start.wait()
    for _ in range(3):
        try:
            vault.unlock("ivanov", "wrong password")
            out.put("unlocked")
        except WrongPasswordError:
            out.put("checked, wrong")
        except KeyLockedError as exc:
            out.put("checked, now locked" if "now locked" in str(exc) else "refused, locked")


def _guess_account(url: str, start: Any, out: Any) -> None:
    store = CredentialStore(url, secret_key=SECRET)
    start.wait()
    for _ in range(3):
        try:
            store.authenticate("ivanov", "wrong password")
            out.put("logged in")
        except AccountLockedError:
            out.put("locked")
        except AuthenticationError:
            out.put("checked, wrong")


def guess_round(url: str, guessers: int) -> tuple[Counter[str], bool, Counter[str], bool]:
    vault = KeyVault(url)
    vault.create_key("ivanov", "ec-p256", "right password")
    store = CredentialStore(url, secret_key=SECRET)
    store.register("ivanov", "right password", tin="7707083893", email="i@x.ru", control_word="w")
    outcomes = []
    for target in (_guess_vault, _guess_account):
        start, out = FORK.Event(), FORK.Queue()
        procs = [FORK.Process(target=target, args=(url, start, out)) for _ in range(guessers)]
        for p in procs:
            p.start()
        start.set()
        outcomes.append(Counter(out.get(timeout=300) for _ in range(3 * guessers)))
        for p in procs:
            p.join(300)
    try:
        vault.unlock("ivanov", "right password")
        vault_locked = False
    except KeyLockedError:
        vault_locked = True
    try:
        store.authenticate("ivanov", "right password")
        account_locked = False
    except AccountLockedError:
        account_locked = True
    return outcomes[0], vault_locked, outcomes[1], account_locked


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", metavar="URL", help="a server (default: start one)")
    parser.add_argument("--per-process", type=int, default=200)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--guessers", type=int, default=8)
    args = parser.parse_args()
    import psycopg
    from tests._postgres import server_url

    base = args.postgres or server_url()

    def fresh(backend: str, tmp: str, n: int) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp}/store-{n}.db"
        schema = f"load_{os.getpid()}_{n}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # type: ignore[call-overload]
            conn.execute(f"CREATE SCHEMA {schema}")  # type: ignore[call-overload]
        return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"

    print(
        f"load average before: {os.getloadavg()}; {os.cpu_count()} cores; {datetime.date.today()}"
    )
    root = CertificateAuthority.create_root("CN=Load Test Root CA")
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{'store':<11} {'issuers':>7} {'certs/s':>8} {'returned':>8} {'rows':>6} "
            f"{'dupl.':>5} {'missing':>7} {'busy retries':>12} {'revoked':>7} {'CRLs':>5}"
        )
        for backend in ("postgresql", "sqlite"):
            for processes in args.processes:
                n += 1
                r = issue_round(root, fresh(backend, tmp, n), processes, args.per_process)
                print(f"{backend:<11} {processes:>7} {r['rate']:>8.0f} {r['returned']:>8} "
                      f"{r['rows']:>6} {r['duplicates']:>5} {r['missing']:>7} "
                      f"{r['retries']:>12} {r['revoked']:>7} {r['crls']:>5}")  # fmt: skip
        for backend in ("postgresql", "sqlite"):
            n += 1
            vault, vault_locked, account, account_locked = guess_round(
                fresh(backend, tmp, n), args.guessers
            )
            print(f"{backend}: {args.guessers} guessers x 3 wrong passwords")
            print(f"  vault key: {dict(vault)}; right password then refused: {vault_locked}")
            print(f"  account:   {dict(account)}; right password then refused: {account_locked}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
