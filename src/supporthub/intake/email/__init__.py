"""Inbound email, durable first: every message stored raw before its source is told, then
parsed, threaded and ticketed under the policy's mail rules."""
