"""Low-level calls ("hazardous materials"), in the spirit of pyca/cryptography's hazmat.

Everything here is supported and documented, but skips a safeguard the everyday calls
give: an envelope without a signature (nobody vouches for the content, anyone with the
recipient's certificate can make one), a signature over a digest the caller computed.
Reach for it only when :func:`esign.seal` / :func:`esign.open_envelope` /
:func:`esign.sign` cannot do the job, e.g. to forward a signed document to someone else,
or to sign content hashed by another process.

- :mod:`esign.hazmat.envelope`: encrypt and decrypt without signing or verifying;
- :mod:`esign.hazmat.signing`: sign a digest computed elsewhere.

The modules these calls come from (``esign.envelope.writer``, ``.reader``, ``.cipher``,
``.binding``, ``.ber``, ``esign.envelope.recipients.common``/``.agreement``,
``esign.signing.signer_parts``...) are internal: their names may change in any release.
"""
