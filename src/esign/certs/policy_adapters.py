"""The algorithm policy (:mod:`esign.policy`) in the shapes pyhanko-certvalidator asks for.

Kept apart so that signing, which needs the policy but no path validation, does not
import pyhanko-certvalidator.
"""

from __future__ import annotations

import datetime
from typing import Any

from asn1crypto import algos
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature
from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint, AlgorithmUsagePolicy
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from esign.policy import AlgorithmPolicy


class PathAlgorithmPolicy(AlgorithmUsagePolicy):  # type: ignore[misc]
    """Adapter: pyhanko-certvalidator's questions answered by :class:`AlgorithmPolicy`."""

    def __init__(self, policy: AlgorithmPolicy) -> None:
        self._policy = policy

    @staticmethod
    def _answer(refusal: str | None) -> Any:
        if refusal is None:
            return AlgorithmUsageConstraint(allowed=True)
        return AlgorithmUsageConstraint(allowed=False, failure_reason=refusal)

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime.datetime | None
    ) -> Any:
        return self._answer(self._policy.digest_refusal(algo["algorithm"].native, moment))

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime.datetime | None,
        public_key: asn1_keys.PublicKeyInfo | None,
    ) -> Any:
        refusal = self._policy.signature_refusal(algo, moment)
        if refusal is None and public_key is not None:
            refusal = self._policy.public_key_info_refusal(public_key, moment)
        return self._answer(refusal)


class PolicySignatureValidator(DefaultSignatureValidator):  # type: ignore[misc]
    def __init__(self, policy: AlgorithmPolicy, moment: datetime.datetime) -> None:
        self._policy = policy
        self._moment = moment

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: asn1_keys.PublicKeyInfo,
        signature_algorithm: algos.SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        refusal = self._policy.signature_refusal(
            signature_algorithm, self._moment
        ) or self._policy.public_key_info_refusal(public_key_info, self._moment)
        if refusal:
            raise InvalidSignature(refusal)
        super().validate_signature(
            signature, signed_data, public_key_info, signature_algorithm, context
        )
