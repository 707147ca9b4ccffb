"""Support Hub: a support desk that enforces a vendor's written support policy."""
