"""Request bodies, as pydantic models: FastAPI validates them and documents them in OpenAPI.

Field names are snake_case in Python and camelCase on the wire, as the clients send them. Types
are strict (`"true"` is not `true`) because the real broker's contracts are strict too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from pydantic.alias_generators import to_camel


class CamelModel(BaseModel):
    # Unknown keys are allowed: newer clients send fields this broker does not know yet.
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


class ConsumerVersionSelector(CamelModel):
    main_branch: StrictBool | None = None
    tag: StrictStr | None = None
    branch: StrictStr | StrictBool | None = None
    matching_branch: StrictBool | None = None
    latest: StrictBool | None = None
    fallback_tag: StrictStr | None = None
    fallback_branch: StrictStr | None = None
    consumer: StrictStr | None = None
    deployed: StrictBool | None = None
    released: StrictBool | None = None
    deployed_or_released: StrictBool | None = None
    environment: StrictStr | None = None

    def given_keys(self) -> set[str]:
        """The camelCase keys the client set to something other than null."""
        return {
            to_camel(name)
            for name in type(self).model_fields
            if getattr(self, name) is not None and name in self.model_fields_set
        }


class PactsForVerificationQuery(CamelModel):
    consumer_version_selectors: list[ConsumerVersionSelector] = Field(default_factory=list)
    provider_version_branch: StrictStr | None = None
    provider_version_tags: list[StrictStr] = Field(default_factory=list)
    include_pending_status: StrictBool = False
    include_wip_pacts_since: StrictStr | None = None


class ContractToPublish(CamelModel):
    consumer_name: StrictStr
    provider_name: StrictStr
    specification: StrictStr
    content_type: StrictStr
    content: StrictStr
    on_conflict: StrictStr | None = None


class PublishContracts(CamelModel):
    pacticipant_name: StrictStr
    pacticipant_version_number: StrictStr
    branch: StrictStr | None = None
    tags: list[StrictStr] = Field(default_factory=list)
    build_url: StrictStr | None = None
    contracts: list[ContractToPublish]


class VerificationResult(CamelModel):
    success: StrictBool
    provider_application_version: StrictStr
    build_url: StrictStr | None = None
    verified_by: dict[str, Any] | None = None
    test_results: list[Any] | dict[str, Any] | None = None


class PacticipantChanges(CamelModel):
    name: StrictStr | None = None
    display_name: StrictStr | None = None
    main_branch: StrictStr | None = None
    repository_url: StrictStr | None = None


class VersionChanges(CamelModel):
    build_url: StrictStr | None = None


class EnvironmentBody(CamelModel):
    name: StrictStr
    display_name: StrictStr | None = None
    production: StrictBool = False


class DeploymentBody(CamelModel):
    application_instance: StrictStr | None = None
    # The old name of applicationInstance, still sent by older clients.
    target: StrictStr | None = None


class CurrentlyDeployedChange(CamelModel):
    currently_deployed: StrictBool | None = None


class CurrentlySupportedChange(CamelModel):
    currently_supported: StrictBool | None = None
