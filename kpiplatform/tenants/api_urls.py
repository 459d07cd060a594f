from django.urls import path

from kpiplatform.tenants.api import SignupView

urlpatterns = [path("signup/", SignupView.as_view(), name="api-signup")]
