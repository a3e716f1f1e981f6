"""The tamper-evident audit ledger: sealing (seal.py), verification (verify.py), reading (trail.py).

docs/audit-trail.md explains the design: what is hashed, in which order, and what verification can
and cannot detect.
"""
