"""What admins and members do to the team: invite, accept, change roles, remove.

Pages and the API both call these functions, so the rules (never the last admin, invitation
links expire) hold whichever door a request comes through. Everything runs in the schema of
the current company.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from kpiplatform.accounts.models import ApiToken, Invitation, Role, User, hash_secret
from kpiplatform.hosts import company_url

INVITATION_TTL = timedelta(days=7)


class TeamRuleError(Exception):
    """A team change was refused; ``str(exc)`` is the message for the person who asked."""


class LastAdminError(TeamRuleError):
    """The change would leave the company without an active admin."""


class AlreadyMemberError(TeamRuleError):
    """The e-mail address already belongs to an active member."""


class InvitationInvalid(TeamRuleError):
    """The invitation link is unknown, expired, used or revoked."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # unknown, expired, accepted, revoked, member


def active_admins() -> QuerySet:
    return User.objects.filter(role=Role.ADMIN, is_active=True)


def _lock_with_the_admins(user: User) -> User:
    """Lock ``user`` and every active admin, in primary-key order; return ``user`` as locked.

    One statement, one order: two admins demoting (or removing) each other at once queue on
    the same first row instead of each holding their own and waiting for the other's. The one
    who waited sees the other's change and is refused if they are now the last admin.
    """
    locked = User.objects.select_for_update().filter(
        Q(pk=user.pk) | Q(role=Role.ADMIN, is_active=True)
    )
    rows = list(locked.order_by("pk"))
    return next(row for row in rows if row.pk == user.pk)


def _refuse_if_last_admin(user: User, message: str) -> None:
    # Called with the admin rows locked (_lock_with_the_admins).
    if list(active_admins().values_list("pk", flat=True)) == [user.pk]:
        raise LastAdminError(message)


def change_role(user: User, role: str) -> User:
    """Give ``user`` the ``role``; refused if it would demote the last active admin."""
    role = Role(role)
    with transaction.atomic():
        user = _lock_with_the_admins(user)
        if user.role == Role.ADMIN and role != Role.ADMIN and user.is_active:
            _refuse_if_last_admin(
                user,
                f"{user.email} is the only admin; make someone else admin first.",
            )
        user.role = role
        user.save(update_fields=["role"])
    return user


def remove_member(user: User) -> None:
    """Take ``user`` out of the company: deactivated, tokens revoked, sessions refused.

    The row is kept (deactivated, not deleted) so that what they created keeps its author;
    inviting the address again brings the account back.
    """
    with transaction.atomic():
        user = _lock_with_the_admins(user)
        if user.role == Role.ADMIN and user.is_active:
            _refuse_if_last_admin(
                user, f"{user.email} is the only admin; make someone else admin first."
            )
        user.is_active = False
        user.save(update_fields=["is_active"])
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )


def members() -> QuerySet:
    return User.objects.filter(is_active=True).order_by("email")


def pending_invitations() -> QuerySet:
    return Invitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).select_related("invited_by")


def invite(company, invited_by: User, email: str, role: str) -> Invitation:
    """Invite ``email`` to join ``company`` as ``role`` and send the e-mail with the link.

    The link carries a random token; only its hash is stored. An earlier pending invitation
    to the same address is replaced, so only the newest link works.
    """
    email = User.objects.normalize_email(email).strip().lower()
    role = Role(role)
    if members().filter(email=email).exists():
        raise AlreadyMemberError(f"{email} is already a member of {company.name}.")
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        pending_invitations().filter(email=email).update(revoked_at=now)
        invitation = Invitation.objects.create(
            email=email,
            role=role,
            token_hash=hash_secret(raw),
            invited_by=invited_by,
            expires_at=now + INVITATION_TTL,
        )
        context = {
            "company": company,
            "invitation": invitation,
            "inviter": invited_by,
            "role_label": Role(role).label,
            "accept_url": company_url(company.slug, f"/invitations/accept/{raw}/"),
        }
        # Sent inside the transaction: if the mail server refuses, no dead invitation stays.
        send_mail(
            subject=f"You are invited to {company.name} on kpiplatform",
            message=render_to_string("accounts/email/invitation.txt", context),
            from_email=None,
            recipient_list=[email],
        )
    return invitation


def revoke_invitation(invitation: Invitation) -> None:
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])


def find_invitation(raw: str) -> Invitation:
    """The invitation the link token belongs to, if it can still be accepted.

    Raises InvitationInvalid with a message that says why not and what to do.
    """
    invitation = Invitation.objects.filter(token_hash=hash_secret(raw or "")).first()
    if invitation is None:
        raise InvitationInvalid(
            "This invitation link is not valid. Check that you copied the whole link.", "unknown"
        )
    if invitation.accepted_at is not None:
        raise InvitationInvalid(
            "This invitation has already been used. Log in with your e-mail and password.",
            "accepted",
        )
    if invitation.revoked_at is not None:
        raise InvitationInvalid(
            "This invitation was withdrawn. Ask an admin to invite you again.", "revoked"
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(
            "This invitation has expired (links are valid for 7 days). "
            "Ask an admin to invite you again.",
            "expired",
        )
    if members().filter(email=invitation.email).exists():
        raise InvitationInvalid(
            f"{invitation.email} is already a member. Log in with your e-mail and password.",
            "member",
        )
    return invitation


def accept_invitation(
    raw: str, first_name: str, last_name: str, password: str
) -> tuple[Invitation, User]:
    """Create (or bring back) the invited member with the invited role; use the link up."""
    with transaction.atomic():
        invitation = find_invitation(raw)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:  # accepted by a concurrent request
            raise InvitationInvalid("This invitation has already been used.", "accepted")
        user = User.objects.filter(email=invitation.email).first() or User(email=invitation.email)
        user.first_name = first_name
        user.last_name = last_name
        validate_password(password, user=user)
        user.set_password(password)
        user.role = invitation.role
        user.is_active = True
        user.save()
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return invitation, user
