"""Following up promises: settlement against payments, reminders before the due date."""
