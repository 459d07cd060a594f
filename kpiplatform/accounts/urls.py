from django.contrib.auth import views as auth_views
from django.urls import path

from kpiplatform.accounts import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("auth/handover/", views.handover, name="handover"),
    path("team/", views.team, name="team"),
    path("team/invite/", views.team_invite, name="team-invite"),
    path("team/<int:user_id>/role/", views.team_change_role, name="team-change-role"),
    path("team/<int:user_id>/remove/", views.team_remove, name="team-remove"),
    path(
        "team/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("invitations/accept/<str:token>/", views.invitation_accept, name="invitation-accept"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/created/", views.token_created, name="token-created"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
]
