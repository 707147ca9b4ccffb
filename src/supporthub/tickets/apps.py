from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "supporthub.tickets"
    label = "tickets"
    verbose_name = "Tickets"
