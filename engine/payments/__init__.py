"""Payments from the core bank: validation, the file import and the webhook."""
