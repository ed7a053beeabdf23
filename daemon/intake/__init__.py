"""Taking mail in: the SMTP/LMTP listener, IMAP mailboxes and `tierdesk inject`, all into the spool."""
