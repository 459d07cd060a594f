"""Pages of a company host about people: login, team, invitations, password reset, tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from kpiplatform.accounts import handover as handover_tickets
from kpiplatform.accounts import services
from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.forms import (
    AcceptInvitationForm,
    ApiTokenForm,
    EmailAuthenticationForm,
    InvitationForm,
    PasswordResetForm,
    RoleForm,
    SetPasswordForm,
)
from kpiplatform.accounts.models import ApiToken, Invitation, Role, User
from kpiplatform.hosts import company_url

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


class LoginView(auth_views.LoginView):
    form_class = EmailAuthenticationForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


def handover(request):
    """Exchange a one-time signup ticket for a session on this host."""
    user = handover_tickets.redeem(request.GET.get("ticket", ""))
    if user is None or not user.is_active:
        return HttpResponseBadRequest(
            "This sign-in link is invalid, used or expired. Log in with your e-mail and password."
        )
    login(request, user, backend=MODEL_BACKEND)
    return redirect("home")


# --- Team -----------------------------------------------------------------------------------


@login_required
def team(request):
    """Members and pending invitations; admins also see the forms that change them."""
    return _render_team(request, InvitationForm())


def _render_team(request, invitation_form: InvitationForm, status: int = 200):
    context = {
        "members": services.members(),
        "invitations": services.pending_invitations(),
        "invitation_form": invitation_form,
        "roles": Role.choices,
        "can_manage": request.user.has_role(Role.ADMIN),
    }
    return render(request, "accounts/team.html", context, status=status)


@require_POST
@role_required(Role.ADMIN)
def team_invite(request):
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invite(
                request.tenant, request.user, form.cleaned_data["email"], form.cleaned_data["role"]
            )
        except services.TeamRuleError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("team")
    return _render_team(request, form, status=400)


@require_POST
@role_required(Role.ADMIN)
def team_change_role(request, user_id: int):
    member = get_object_or_404(User, pk=user_id, is_active=True)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles admin, analyst or viewer.")
        return redirect("team")
    try:
        services.change_role(member, form.cleaned_data["role"])
    except services.TeamRuleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{member.email} is now {Role(form.cleaned_data['role']).label}.")
    return redirect("team")


@require_POST
@role_required(Role.ADMIN)
def team_remove(request, user_id: int):
    member = get_object_or_404(User, pk=user_id, is_active=True)
    try:
        services.remove_member(member)
    except services.TeamRuleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{member.email} was removed from the team.")
    return redirect("team")


@require_POST
@role_required(Role.ADMIN)
def invitation_revoke(request, invitation_id: int):
    invitation = get_object_or_404(Invitation, pk=invitation_id)
    services.revoke_invitation(invitation)
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("team")


# Reasons an invitation link cannot be used, with the status the page answers.
INVALID_INVITATION_STATUS = {"unknown": 404, "member": 409}


@require_http_methods(["GET", "POST"])
def invitation_accept(request, token: str):
    """The invited person sets a name and password and lands logged in, with the role."""
    try:
        invitation = services.find_invitation(token)
    except services.InvitationInvalid as exc:
        return render(
            request,
            "accounts/invitation_invalid.html",
            {"message": str(exc)},
            status=INVALID_INVITATION_STATUS.get(exc.reason, 410),
        )
    form = AcceptInvitationForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            _, user = services.accept_invitation(
                token, data["first_name"], data["last_name"], data["password1"]
            )
        except services.InvitationInvalid as exc:
            return render(
                request, "accounts/invitation_invalid.html", {"message": str(exc)}, status=410
            )
        login(request, user, backend=MODEL_BACKEND)
        messages.success(request, f"Welcome to {request.tenant.name}.")
        return redirect("home")
    return render(
        request,
        "accounts/invitation_accept.html",
        {"form": form, "invitation": invitation, "role_label": Role(invitation.role).label},
        status=400 if form.errors else 200,
    )


# --- Password reset (Django's views; links point at this company's host) ---------------------


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        # Build the link from the company's configured address, not the request's Host header.
        self.extra_email_context = {
            "company": self.request.tenant,
            "company_base_url": company_url(self.request.tenant.slug, ""),
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


# --- API tokens -----------------------------------------------------------------------------


# Session key holding a new token's raw value between the creating POST and its one display.
NEW_TOKEN_SESSION_KEY = "new_api_token"


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request):
    """The member's own tokens; creating one shows the raw value once (post/redirect/get).

    The creating POST keeps the raw value in the session and redirects to the page that shows
    it; that page takes it out of the session, so a reload neither creates another token nor
    shows this one again. The database keeps only a fingerprint.
    """
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        token, raw = ApiToken.issue(
            request.user, form.cleaned_data["name"], read_only=form.cleaned_data["access"] == "read"
        )
        request.session[NEW_TOKEN_SESSION_KEY] = {"id": token.pk, "raw": raw}
        return redirect("token-created")
    own = ApiToken.objects.filter(user=request.user)
    return render(
        request,
        "accounts/tokens.html",
        {"form": form, "tokens": own},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET"])
def token_created(request):
    """Show the token just created, once; afterwards only its name and prefix remain."""
    new = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
    token = new and ApiToken.objects.filter(pk=new["id"], user=request.user).first()
    if not token:
        messages.info(
            request,
            "A new token is shown only once, right after it is created; "
            "if you did not copy it, revoke it and create another.",
        )
        return redirect("tokens")
    response = render(request, "accounts/token_created.html", {"token": token, "raw": new["raw"]})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def token_revoke(request, token_id: int):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.revoke()
    messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    return redirect("tokens")
