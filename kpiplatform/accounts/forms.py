import logging

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction

from kpiplatform.accounts.models import ApiToken, Role, User
from kpiplatform.accounts.throttling import may_send_password_reset

log = logging.getLogger(__name__)


class EmailAuthenticationForm(AuthenticationForm):
    """Log in with an e-mail address and password."""

    username = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong e-mail or password. Passwords are case-sensitive.",
    }

    def clean_username(self) -> str:
        # Addresses are stored in lower case; lockouts count the same lower-case spelling.
        return self.cleaned_data["username"].lower()


class InvitationForm(forms.Form):
    """An admin invites someone by e-mail with a role."""

    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    """The invited person picks a name and a password."""

    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150, required=False)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            candidate = User(
                email=self.email,
                username=self.email,
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                password_validation.validate_password(password1, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class ApiTokenForm(forms.Form):
    """A member creates a personal API token."""

    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. “BI export”.")
    access = forms.ChoiceField(
        choices=[("read", "Read only"), ("write", "Read and write")], initial="read"
    )


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's reset form, mailing each account at most ``KPI_PASSWORD_RESET_RATE`` times."""

    def get_users(self, email):
        for user in super().get_users(email):
            if may_send_password_reset(user):
                yield user
            else:
                log.info("password reset e-mail to user %s held back: rate limit", user.pk)


class SetPasswordForm(auth_forms.SetPasswordForm):
    """The new password of a reset; it also revokes every API token of the account.

    A reset is how an account is taken back (or over): a token created with the old
    password must stop working too, like the sessions Django already ends.
    """

    def save(self, commit: bool = True):
        with transaction.atomic():
            user = super().save(commit=commit)
            if commit:
                ApiToken.revoke_all(user)
        return user
