from django.urls import path

from kpiplatform.web import connection_pages as pages

urlpatterns = [
    path("", pages.connection_list, name="connections"),
    path("live/", pages.connection_list_live, name="connections-live"),
    path("add/<str:connector>/", pages.connection_add, name="connection-add"),
    path("<int:pk>/", pages.connection_detail, name="connection"),
    path("<int:pk>/edit/", pages.connection_edit, name="connection-edit"),
    path("<int:pk>/progress/", pages.connection_progress, name="connection-progress"),
    path("<int:pk>/test/", pages.connection_test, name="connection-test"),
    path("<int:pk>/sync/", pages.connection_sync, name="connection-sync"),
    path("<int:pk>/disconnect/", pages.connection_disconnect, name="connection-disconnect"),
    path(
        "<int:pk>/disconnect/progress/",
        pages.connection_disconnect_progress,
        name="connection-disconnect-progress",
    ),
]
