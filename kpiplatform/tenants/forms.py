from django import forms

from kpiplatform.tenants.provisioning import SignupRequest


class SignupForm(forms.Form):
    company_name = forms.CharField(label="Company name", max_length=200)
    slug = forms.CharField(
        label="Address",
        max_length=40,
        help_text="Your company's address: <slug>.{base}. Lower-case letters, digits, hyphens.",
    )
    admin_email = forms.EmailField(label="Your work e-mail")
    admin_password = forms.CharField(label="Password", widget=forms.PasswordInput)

    def to_request(self) -> SignupRequest:
        data = self.cleaned_data
        return SignupRequest(
            company_name=data["company_name"],
            slug=data["slug"].strip().lower(),
            admin_email=data["admin_email"],
            admin_password=data["admin_password"],
        )
