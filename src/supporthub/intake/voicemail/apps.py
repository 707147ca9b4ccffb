from django.apps import AppConfig


class VoicemailIntakeConfig(AppConfig):
    name = "supporthub.intake.voicemail"
    label = "intake_voicemail"
    verbose_name = "Voicemail"
