"""Keys: generation by stable algorithm name and password-protected storage."""

from esign.keys.algorithms import (
    ALGORITHMS,
    KeyAlgorithm,
    PrivateKey,
    PublicKey,
    algorithm_name,
    generate_key,
)
from esign.keys.storage import dump_key, load_key, parse_key, save_key

__all__ = [
    "ALGORITHMS",
    "KeyAlgorithm",
    "PrivateKey",
    "PublicKey",
    "algorithm_name",
    "dump_key",
    "generate_key",
    "load_key",
    "parse_key",
    "save_key",
]
