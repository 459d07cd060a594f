"""The goals page: every member sees the goals, analysts and admins add and remove them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.goals.forms import GoalForm
from kpiplatform.goals.models import Goal
from kpiplatform.kpis.registry import registered_kpis


@role_required(Role.VIEWER)
def goals(request):
    can_edit = request.user.has_role(Role.ANALYST)
    form = GoalForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("This needs the Analyst role.")
        if form.is_valid():
            goal = form.save(commit=False)
            goal.created_by = request.user
            goal.save()
            messages.success(request, "Goal saved.")
            return redirect("goals")
    names = {key: kpi.name for key, kpi in registered_kpis().items()}
    rows = [(goal, names.get(goal.kpi_key, goal.kpi_key)) for goal in Goal.objects.all()]
    return render(request, "goals/goals.html", {"rows": rows, "form": form, "can_edit": can_edit})


@require_POST
@role_required(Role.ANALYST)
def goal_delete(request, pk: int):
    get_object_or_404(Goal, pk=pk).delete()
    messages.success(request, "Goal removed.")
    return redirect("goals")
