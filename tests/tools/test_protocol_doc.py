"""The README's protocol reference is the one the code generates."""

from __future__ import annotations

from swarm.protocol.catalogue import ALL_MESSAGES, ROUTES
from swarm.protocol.codec import decode, encode_frames
from swarm.tools import protocol_doc


def test_readme_protocol_reference_matches_the_message_classes() -> None:
    readme = protocol_doc.README.read_text(encoding="utf-8")
    assert protocol_doc.section(readme) == protocol_doc.render(), (
        "README's protocol reference is stale: run python -m swarm.tools.protocol_doc --update")


def test_every_message_has_a_route_and_a_kind_of_its_own() -> None:
    routed = {cls for _, _, classes in ROUTES for cls in classes}
    assert routed == set(ALL_MESSAGES)
    kinds = [cls.KIND for cls in ALL_MESSAGES]
    assert len(kinds) == len(set(kinds))


def test_every_message_in_the_reference_is_decodable_by_its_kind() -> None:
    reference = protocol_doc.render()
    for cls in ALL_MESSAGES:
        assert f"| {cls.KIND} | `{cls.__name__}` |" in reference
        for field in cls._fields:
            assert f"`{field}`" in reference
    # The codec table and the reference agree on the kinds.
    from swarm.protocol.messages import Heartbeat

    message, _ = decode(encode_frames(Heartbeat()))
    assert isinstance(message, Heartbeat)


def test_readme_settings_table_lists_every_setting_with_its_default() -> None:
    from swarm.config import SETTING_NAMES, Settings

    readme = protocol_doc.README.read_text(encoding="utf-8")
    table = readme[readme.index("## Settings"):readme.index("## Troubleshooting")]
    defaults = Settings()
    for name in SETTING_NAMES:
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name}` |")),
                   None)
        assert row is not None, f"README's settings table lacks {name}"
        value = getattr(defaults, name)
        default = str(value).lower() if isinstance(value, bool) else str(value)
        assert default in row.split("|")[2], f"README gives another default for {name}"
