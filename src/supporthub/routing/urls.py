from django.urls import path

from supporthub.routing import feeds

app_name = "routing"
urlpatterns = [
    path("on-call/<str:token>.ics", feeds.rotation_feed, name="rotation_feed"),
]
