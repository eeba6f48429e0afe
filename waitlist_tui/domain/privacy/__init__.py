"""Privacy: the audit trail as the desk reads it (trail), a client's erasure on request
(erasure) and the clinic's retention rule for closed entries (retention)."""
