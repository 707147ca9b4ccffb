"""After-hours urgent tickets: paging the on-call engineer and notifying the CS lead."""
