"""docs/design.md §10: what ``If-Match`` (and a socket op's ``ifMatch``) accepts and what it means."""

from __future__ import annotations

import pytest

from watchlist_service.errors import InvalidRequest
from watchlist_service.realtime.messages import AddOp, ReorderOp, UpdateOp, parse_op
from watchlist_service.watchlist.schemas import IfMatch, parse_if_match


@pytest.mark.parametrize(
    ("value", "versions"),
    [
        ('"7"', {7}),
        (' "7" ', {7}),
        ('W/"7-1-10-all"', {7}),  # a page's ETag: its version (the documented leniency)
        ('W/"12-3-10-type=movie&sort=rank"', {12}),
        ('"1", "2",W/"3-1-10-all"', {1, 2, 3}),
        ('"0"', {0}),
        ('W/"7"', set()),  # a weak tag that is no page's: never matches
        ('"abc"', set()),
        ('"7-1-10-all"', set()),  # a page's tag made strong: not ours
        ('""', set()),
    ],
)
def test_entity_tags_name_versions(value: str, versions: set[int]) -> None:
    assert parse_if_match(value) == IfMatch(versions=frozenset(versions))


def test_star_means_the_list_exists() -> None:
    star = parse_if_match(" * ")
    assert star.any
    assert star.holds(1)
    assert not star.holds(None)
    zero = parse_if_match('"0"')
    assert zero.holds(None)  # no list is version 0
    assert not zero.holds(1)
    assert not IfMatch().holds(None)


@pytest.mark.parametrize("value", ["", " ", "7", "W/7", '"7', '"7" "8"', '"7";', ",", '"a"b"', '*, "7"'])
def test_malformed_values_are_400_naming_the_header(value: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_if_match(value)
    assert raised.value.extra["errors"][0]["field"] == "If-Match"


def test_bounds() -> None:
    assert parse_if_match(",".join(['"1"'] * 100)).versions == {1}
    with pytest.raises(InvalidRequest):
        parse_if_match(",".join(['"1"'] * 101))
    with pytest.raises(InvalidRequest):
        parse_if_match('"1"' + " " * 4_096)


def test_socket_ops_take_a_version_or_a_header_value() -> None:
    add = parse_op({"op": "add", "requestId": 1, "contentId": "movie:1", "ifMatch": 7, "position": "bottom"})
    assert isinstance(add, AddOp)
    assert add.if_match == IfMatch(versions=frozenset({7}))
    assert add.request.position == "bottom"
    update = parse_op(
        {"op": "update", "requestId": 1, "contentId": "movie:1", "watched": True, "ifMatch": "*"}
    )
    assert isinstance(update, UpdateOp)
    assert update.if_match == IfMatch(any=True)
    reorder = parse_op({"op": "reorder", "requestId": 1, "contentIds": ["tv:2"], "ifMatch": 'W/"3-1-10-all"'})
    assert isinstance(reorder, ReorderOp)
    assert reorder.if_match == IfMatch(versions=frozenset({3}))
    assert isinstance(parse_op({"op": "reorder", "requestId": 1, "contentIds": ["tv:2"]}), ReorderOp)
    bad_values: list[object] = [-1, True, 1.5, [], "7"]
    for bad in bad_values:
        with pytest.raises(InvalidRequest) as raised:
            parse_op({"op": "remove", "requestId": 1, "contentId": "movie:1", "ifMatch": bad})
        assert raised.value.extra["errors"][0]["field"] == "ifMatch"
    with pytest.raises(InvalidRequest):  # reads take no precondition
        parse_op({"op": "list", "requestId": 1, "ifMatch": 1})
