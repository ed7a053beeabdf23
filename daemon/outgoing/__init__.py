"""Our outgoing mail: templates, composing, MIME, and the sender that delivers the outbox."""
