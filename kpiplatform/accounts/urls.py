from django.contrib.auth import views as auth_views
from django.urls import path

from kpiplatform.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/handover/", views.handover, name="handover"),
]
