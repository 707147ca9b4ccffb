"""A minimal Django project serving django-helpdesk 2.6.1 and its REST API (the bench peer)."""
