"""The write side: what writers submit, its validation, the use cases, the audit log and the submission boundary."""
