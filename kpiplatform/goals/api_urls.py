from django.urls import path

from kpiplatform.goals import api

urlpatterns = [
    path("goals/", api.GoalList.as_view(), name="api-goals"),
    path("goals/<int:pk>/", api.GoalDetail.as_view(), name="api-goal"),
]
