from django.urls import path

from kpiplatform.kpis import views

urlpatterns = [
    path("settings/", views.company_settings, name="company-settings"),
]
