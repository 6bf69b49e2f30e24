"""The debtor portfolio: importing a bank's export (and, later, segmentation)."""
