from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kpiplatform.accounts"
    label = "accounts"
    verbose_name = "Accounts"
