"""The read side: queries straight against the tables, each taking the caller's session."""
