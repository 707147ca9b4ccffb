"""Inbound mail, durable first: every received message stored raw before its source is told."""
