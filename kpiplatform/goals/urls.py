from django.urls import path

from kpiplatform.goals import views

urlpatterns = [
    path("goals/", views.goals, name="goals"),
    path("goals/<int:pk>/delete/", views.goal_delete, name="goal-delete"),
]
