"""Operations on the store.  Each takes a session, validates, audits, and never commits."""
