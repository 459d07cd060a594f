"""Platform staff manage companies from the admin on the public host."""

from django.contrib import admin, messages

from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company, Domain


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "state", "created_at")
    list_filter = ("state",)
    search_fields = ("name", "slug")
    readonly_fields = ("schema_name", "state", "created_at", "deactivated_at")
    inlines = [DomainInline]
    actions = ["deactivate", "reactivate"]

    def has_delete_permission(self, request, obj=None):
        # Deleting drops the schema and every record in it; deactivation keeps the data.
        return False

    @admin.action(description="Deactivate (hosts answer 404, data is kept)")
    def deactivate(self, request, queryset):
        for company in queryset.filter(state=Company.State.ACTIVE).exclude(schema_name="public"):
            provisioning.deactivate_company(company)
        messages.success(request, "Deactivated.")

    @admin.action(description="Reactivate")
    def reactivate(self, request, queryset):
        for company in queryset.filter(state=Company.State.DEACTIVATED):
            provisioning.reactivate_company(company)
        messages.success(request, "Reactivated.")
