"""Endpoints about the caller, and the interactive API reference."""

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import renderers, serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    role = serializers.CharField()
    company = serializers.CharField()


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        body = {
            "id": user.pk,
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": user.role,
            "company": request.tenant.slug,
        }
        return Response(MeSerializer(body).data)


class ApiDocsView(SpectacularSwaggerView):
    """The Swagger UI page. ``OPTIONS`` answers in JSON: the page template cannot render it."""

    def get_renderers(self):
        if self.request.method == "OPTIONS":
            return [renderers.JSONRenderer()]
        return super().get_renderers()
