"""The form of a connection, built from its connector's declared fields.

Each declared field becomes one input: ``text`` a text box, ``secret`` a password box that is
always rendered empty (``render_value=False``: a stored secret, or one typed into a form
refused for another field, is never sent back to the browser), ``boolean`` a checkbox and
``choice`` a select. The values are then checked by ``connectors.configuration``, the API's
own rules, and its problems shown on their fields.
"""

from __future__ import annotations

from django import forms

from kpiplatform.connectors import configuration
from kpiplatform.connectors.models import Connection
from kpiplatform.sdk import ConfigField

SCHEDULES = [
    (0, "Only when asked (sync now)"),
    (15, "Every 15 minutes"),
    (60, "Every hour"),
    (360, "Every 6 hours"),
    (1440, "Every day"),
]
SECRET_KEPT = "Stored; leave empty to keep it."


def schedule_words(minutes: int) -> str:
    for value, words in SCHEDULES:
        if value == minutes:
            return words
    if minutes % 60 == 0:
        return f"Every {minutes // 60} hours"
    return f"Every {minutes} minutes"


def _input_name(declared: ConfigField) -> str:
    # Prefixed: a connector's field may be called "name" or "schedule_minutes" too.
    return f"{'secret' if declared.kind == 'secret' else 'config'}_{declared.name}"


class ConnectionForm(forms.Form):
    name = forms.CharField(
        label="Name", required=False, max_length=200, help_text="How this page calls it."
    )

    def __init__(
        self,
        declared: tuple[ConfigField, ...],
        connection: Connection | None = None,
        data=None,
    ) -> None:
        self.declared = declared
        self.connection = connection
        stored_secrets = set(configuration.readable_secrets(connection))
        initial = {"schedule_minutes": 60}
        if connection is not None:
            initial = {"name": connection.name, "schedule_minutes": connection.schedule_minutes}
            for f in declared:
                if f.kind != "secret" and f.name in connection.config:
                    initial[_input_name(f)] = connection.config[f.name]
        super().__init__(data=data, initial=initial)
        for f in declared:
            self.fields[_input_name(f)] = _form_field(f, stored=f.name in stored_secrets)
        schedules = list(SCHEDULES)
        current = connection.schedule_minutes if connection is not None else 60
        if current not in dict(schedules):  # set through the API: kept as it is
            schedules.append((current, schedule_words(current)))
        self.fields["schedule_minutes"] = forms.TypedChoiceField(
            label="Sync schedule",
            choices=schedules,
            coerce=int,
            help_text="The schedule syncs within a minute of the time due.",
        )

    def checked(self) -> configuration.Checked | None:
        """The connection's merged config and secrets, or None with the problems on the
        form's fields. Call once ``is_valid()``."""
        config, secrets = {}, {}
        for f in self.declared:
            value = self.cleaned_data.get(_input_name(f))
            if f.kind == "secret":
                if value:  # empty: keep the stored one
                    secrets[f.name] = value
            elif f.kind == "choice" and value == "":
                config[f.name] = None
            else:
                config[f.name] = value
        checked = configuration.check_values(self.declared, config, secrets, self.connection)
        inputs = {f.name: _input_name(f) for f in self.declared}
        for problem in checked.problems:
            self.add_error(inputs.get(problem.name), problem.message)
        return None if checked.problems else checked


def _form_field(declared: ConfigField, *, stored: bool) -> forms.Field:
    help_text = declared.help_text
    if declared.kind == "secret":
        return forms.CharField(
            label=declared.label,
            required=declared.required and not stored,
            strip=False,
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=SECRET_KEPT if stored else help_text,
        )
    if declared.kind == "boolean":
        return forms.BooleanField(label=declared.label, required=False, help_text=help_text)
    if declared.kind == "choice":
        choices = list(declared.choices)
        if not declared.required:
            choices = [("", "—"), *choices]
        return forms.ChoiceField(
            label=declared.label, choices=choices, required=declared.required, help_text=help_text
        )
    return forms.CharField(label=declared.label, required=declared.required, help_text=help_text)
