from django.urls import path

from kpiplatform.plugins import views

urlpatterns = [
    path("", views.plugin_list, name="plugins"),
    path("<str:name>/switch/", views.plugin_switch, name="plugin-switch"),
]
