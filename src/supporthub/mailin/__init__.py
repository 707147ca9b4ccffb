"""From a stored inbound message to a ticket: parsing, threading and the policy's mail rules."""
