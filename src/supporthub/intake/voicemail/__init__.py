"""Voicemail to ticket: Twilio recording and transcription callbacks."""
