"""Write inputs built in one pass arrive as strawberry would have built them."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.graphql.write_types import ChasilInput, PaslonVotesInput, RegionTallyInput


def _described(value: Any) -> Any:
    """The input's fields as JSON, with the Python types of it and of its votes."""
    fields = {
        name: field.isoformat() if isinstance(field, datetime) else field for name, field in asdict(value).items()
    }
    return fields | {"type": type(value).__name__, "vote_types": [type(v).__name__ for v in value.votes]}


@strawberry.type
class Echo:
    @strawberry.field
    def chasil(self, input: ChasilInput) -> JSON:
        return _described(input)

    @strawberry.field
    def region(self, input: RegionTallyInput) -> JSON:
        return _described(input)


SCHEMA = strawberry.Schema(query=Echo)


def test_a_chasil_entry_arrives_with_its_votes_built_and_the_omitted_fields_defaulted() -> None:
    result = SCHEMA.execute_sync(
        """query($input: ChasilInput!) { chasil(input: $input) }""",
        variable_values={
            "input": {
                "tps": "5304012001001",
                "votes": [{"paslon": 1, "votes": 120}, {"paslon": 2, "votes": 95}],
                "valid": 215,
                "invalid": 3,
                "total": 218,
                "votersDpt": None,
            }
        },
    )
    assert result.errors is None, result.errors
    echoed = result.data["chasil"] if result.data else {}
    assert echoed["type"] == "ChasilInput"
    assert echoed["vote_types"] == ["PaslonVotesInput", "PaslonVotesInput"]
    assert (echoed["tps"], echoed["total"]) == ("5304012001001", 218)
    assert echoed["votes"] == [{"paslon": 1, "votes": 120}, {"paslon": 2, "votes": 95}]
    assert echoed["voters_dpt"] is echoed["note"] is echoed["corrects_version"] is None
    assert echoed["matches_paper_form"] is False


def test_a_region_tally_keeps_its_time_and_names_from_the_document() -> None:
    result = SCHEMA.execute_sync(
        """{ region(input: {region: "530412", votes: [{paslon: 2, votes: 7}], asOf: "2020-12-09T06:02:00Z",
            matchesPaperForm: true, correctsVersion: 3}) }"""
    )
    assert result.errors is None, result.errors
    echoed = result.data["region"] if result.data else {}
    assert datetime.fromisoformat(echoed["as_of"]) == datetime(2020, 12, 9, 6, 2, tzinfo=UTC)
    assert (echoed["matches_paper_form"], echoed["corrects_version"], echoed["claimant"]) == (True, 3, None)
    assert echoed["vote_types"] == ["PaslonVotesInput"]


def test_an_input_built_in_python_is_unchanged() -> None:
    votes = PaslonVotesInput(paslon=1, votes=2)
    assert (votes.paslon, votes.votes) == (1, 2)
