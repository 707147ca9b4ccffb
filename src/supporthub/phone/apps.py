from django.apps import AppConfig


class PhoneConfig(AppConfig):
    name = "supporthub.phone"
    verbose_name = "Phone and voicemail"
