"""The HubSpot connector: contacts as leads, deals, feedback submissions as survey responses.

A sync reads, for each object type in turn:

1. **The first time, everything** with the list endpoint (``basic_api.get_page``, 100 a
   page, ``paging.next.after``); afterwards **only what changed** with the search endpoint,
   on the last-modified date (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate``
   otherwise) in ``[cursor - OVERLAP, start of this sync]``, sorted by ``hs_object_id``.
   Each search page asks for ids above the last one read (``hs_object_id > last id``), so a
   query never reaches HubSpot's 10,000-results cap however many records changed.
2. **Then the archived records** (``archived=true`` list, which the search never returns),
   tombstoned.

The cursor stored with each page says the phase, the object type, the window and where the
next page starts, so an interrupted sync resumes exactly there. When every phase is done
the cursor is the start of the sync: the next window opens ``OVERLAP`` before it (HubSpot's
search index lags its writes by seconds to minutes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from kpiplatform.sdk import ConfigField, Connector, DemoSandbox, SyncPage, hookimpl
from kpiplatform_hubspot import mapping

# The official SDK (kpiplatform_hubspot.client) is imported when a check or sync runs, not
# when the platform loads its plugins: it is a large package, and every process (web,
# worker, beat) loads every plugin at start-up.

SDK_SUPPORTS = ">=1.4,<2"  # the demo sandbox declaration (1.4)

OBJECT_TYPES = ("contacts", "deals", "feedback_submissions")
OPTIONAL_TYPES = {"feedback_submissions"}  # accounts without Service Hub answer 403
MODIFIED_PROPERTY = {"contacts": "lastmodifieddate"}
LIST_LIMIT = 100
SEARCH_LIMIT = 200
OVERLAP = dt.timedelta(minutes=15)


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class HubSpotConnector(Connector):
    """Reads a HubSpot account with a private app's access token."""

    def check(self, config: dict) -> None:
        from kpiplatform_hubspot import client

        hs = client.client(config["access_token"])
        client.call("a contact", hs.crm.contacts.basic_api.get_page, limit=1, archived=False)

    def sync(self, config: dict, state: dict) -> Iterator[SyncPage]:
        from kpiplatform_hubspot import client

        hs = client.client(config["access_token"])
        state = dict(state)
        phase = state.get("phase", "idle")
        if phase == "idle":
            now = _ms(dt.datetime.now(dt.UTC))
            cursor = state.get("cursor")
            state = {
                "phase": "changes" if cursor is not None else "full",
                "type": OBJECT_TYPES[0],
                "until": now,
                "since": cursor - _ms_delta(OVERLAP) if cursor is not None else None,
            }
        while state["phase"] != "idle":
            page = self._page(hs, state)
            state = page.state
            yield page

    # One page of the current phase and type; its state is where the next page starts.
    def _page(self, hs, state: dict) -> SyncPage:
        from kpiplatform_hubspot import client

        object_type = state["type"]
        try:
            if state["phase"] == "changes":
                results, following = self._search(hs, object_type, state)
            else:
                results, following = self._list(hs, object_type, state)
        except client.FeatureUnavailable:
            results, following = [], None  # e.g. no feedback surveys in this account
        dataset = mapping.DATASETS[object_type]
        records: dict[str, list[dict]] = {}
        deleted: dict[str, list[str]] = {}
        if state["phase"] == "archived":
            deleted[dataset] = [str(r.id) for r in results]
        else:
            try:
                mapped = [mapping.canonical(object_type, r) for r in results]
            except mapping.MalformedObject as exc:
                raise client.HubSpotError(
                    f"HubSpot sent an unreadable {object_type} object: {exc}"
                ) from None
            records[dataset] = [r for r in mapped if r is not None]
        next_state = {**state, **following} if following is not None else _after_type(state)
        return SyncPage(
            records=records,
            deleted=deleted,
            state=next_state,
            progress=_progress(state, len(results)),
        )

    def _list(self, hs, object_type: str, state: dict):
        from kpiplatform_hubspot import client

        archived = state["phase"] == "archived"
        api = client.api_for(hs, object_type)
        kwargs = {"limit": LIST_LIMIT, "archived": archived}
        if not archived:
            kwargs["properties"] = list(mapping.PROPERTIES[object_type])
        if state.get("after"):
            kwargs["after"] = state["after"]
        what = f"the {'archived ' if archived else ''}{object_type.replace('_', ' ')} list"
        answer = client.call(
            what, api.basic_api.get_page, optional=object_type in OPTIONAL_TYPES, **kwargs
        )
        if answer.results is None:
            raise client.HubSpotError(f"HubSpot answered a malformed page for {what}: no results.")
        after = answer.paging.next.after if answer.paging and answer.paging.next else None
        return answer.results, ({"after": after} if after else None)

    def _search(self, hs, object_type: str, state: dict):
        from kpiplatform_hubspot import client

        modified = MODIFIED_PROPERTY.get(object_type, "hs_lastmodifieddate")
        filters = [
            {"propertyName": modified, "operator": "GTE", "value": str(state["since"])},
            {"propertyName": modified, "operator": "LTE", "value": str(state["until"])},
        ]
        if state.get("above_id"):
            filters.append(
                {"propertyName": "hs_object_id", "operator": "GT", "value": state["above_id"]}
            )
        request = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": list(mapping.PROPERTIES[object_type]),
            "limit": SEARCH_LIMIT,
        }
        what = f"the {object_type.replace('_', ' ')} search"
        api = client.api_for(hs, object_type)
        answer = client.call(
            what,
            api.search_api.do_search,
            public_object_search_request=request,
            optional=object_type in OPTIONAL_TYPES,
        )
        if answer.results is None:
            raise client.HubSpotError(f"HubSpot answered a malformed page for {what}: no results.")
        # Each query starts after the last id read: more follow while the query's total
        # exceeds what this page holds (a page cut short by the cap says so too).
        more = bool(answer.results) and (answer.total or 0) > len(answer.results)
        return answer.results, ({"above_id": str(answer.results[-1].id)} if more else None)


def _ms_delta(delta: dt.timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def _after_type(state: dict) -> dict:
    """The state once the current type of the current phase is done."""
    base = {k: v for k, v in state.items() if k not in ("after", "above_id")}
    index = OBJECT_TYPES.index(state["type"])
    if index + 1 < len(OBJECT_TYPES):
        return {**base, "type": OBJECT_TYPES[index + 1]}
    if state["phase"] != "archived":
        return {**base, "phase": "archived", "type": OBJECT_TYPES[0]}
    # Everything up to the start of this sync is read: that is the next window's start.
    return {"phase": "idle", "cursor": state["until"]}


def _progress(state: dict, count: int) -> str:
    kind = state["type"].replace("_", " ")
    return {
        "full": f"{kind}: read {count} from the list",
        "changes": f"{kind}: {count} changed since the last sync",
        "archived": f"{kind}: {count} archived",
    }[state["phase"]]


@hookimpl
def register_connectors() -> list[Connector]:
    return [
        HubSpotConnector(
            key="hubspot",
            name="HubSpot",
            # The demo's contacts are the Stripe demo's customers (by e-mail) and more leads;
            # the sandbox started without --token accepts any token.
            demo=DemoSandbox(
                sandbox="kpiplatform_hubspot.sandbox",
                generator="kpiplatform_hubspot.sandbox.generate",
                address_variable="KPI_HUBSPOT_API_BASE",
                connection_config=lambda seed_dir: {"access_token": "pat-demo-sandbox"},
                seed_inputs=(("--stripe-seed", "stripe"),),
            ),
            config_fields=(
                ConfigField(
                    "access_token",
                    "Private app access token",
                    kind="secret",
                    help_text=(
                        "From HubSpot: Settings, Integrations, Private apps; scopes "
                        "crm.objects.contacts.read, crm.objects.deals.read (and "
                        "crm.objects.feedback_submissions.read for surveys)."
                    ),
                ),
            ),
        )
    ]
