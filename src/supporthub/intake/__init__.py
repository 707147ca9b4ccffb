"""Intake channels, one package per kind: email, voicemail."""
