"""API routes of the accounts app, included under ``/api/v1/``."""

from rest_framework.routers import SimpleRouter

from kpiplatform.accounts import api

router = SimpleRouter()
router.register("users", api.MemberViewSet, basename="api-user")
router.register("invitations", api.InvitationViewSet, basename="api-invitation")
router.register("tokens", api.ApiTokenViewSet, basename="api-token")

urlpatterns = router.urls
