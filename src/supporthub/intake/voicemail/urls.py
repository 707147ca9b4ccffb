"""Twilio callbacks: /intake/voicemail/recording/ and /intake/voicemail/transcription/."""

from django.urls import path

from supporthub.intake.voicemail import views

app_name = "intake_voicemail"
urlpatterns = [
    path("recording/", views.recording, name="recording"),
    path("transcription/", views.transcription, name="transcription"),
]
