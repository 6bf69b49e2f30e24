"""Agent phones as PJSIP config: one endpoint/auth/AOR per agent on the shipped
templates, only the digest credential (never the password) in the file, and ids or
names that could break the config refused with the reason."""

from __future__ import annotations

import pytest

from engine.agents.phones import (
    AgentConfigError,
    Phone,
    check_agent_id,
    check_display_name,
    digest_credential,
    render,
    write_atomically,
)


def test_the_digest_credential_is_rfc_2617_ha1():
    # RFC 2617 §3.5: Mufasa / testrealm@host.com / "Circle Of Life".
    assert digest_credential("Mufasa", "testrealm@host.com", "Circle Of Life") == \
        "939e7578ed9e3c518a452acee763bce9"


def test_each_agent_becomes_endpoint_auth_and_aor_on_the_templates():
    text = render([Phone("1002", "Li Na", "huilong", "b" * 32),
                   Phone("1001", "Wang Fang", "huilong", "a" * 32)])
    assert text.index("[1001](agent-endpoint)") < text.index("[1002](agent-endpoint)")
    block = text[text.index("[1001](agent-endpoint)"):text.index("[1002](agent-endpoint)")]
    assert "auth = 1001\naors = 1001\n" in block
    assert 'callerid = "Wang Fang" <1001>' in block
    auth = "[1001](agent-auth)\nusername = 1001\nrealm = huilong\npassword_digest = md5:"
    assert auth + "a" * 32 in block
    assert "[1001](agent-aor)" in block
    assert "password =" not in text


def test_no_agents_is_an_empty_but_valid_include():
    assert render([]).startswith("; written by `huilong agents`")
    assert "[" not in render([]).split("\n", 1)[1]


@pytest.mark.parametrize("agent_id", ["12", "123456789", "10a1", "1001]\n[x", ""])
def test_agent_ids_are_three_to_eight_digits(agent_id):
    with pytest.raises(AgentConfigError, match="3 to 8 digits"):
        check_agent_id(agent_id)


@pytest.mark.parametrize("name", ['Bob "the" Agent', "a;b", "x\ny", "[admin]", "   ", "x" * 65])
def test_names_that_would_break_the_config_are_refused(name):
    with pytest.raises(AgentConfigError, match="agent name"):
        check_display_name(name)


def test_names_in_any_script_are_fine():
    assert check_display_name(" 王芳 ") == "王芳"
    assert check_display_name("김민지") == "김민지"


def test_the_file_is_replaced_whole(tmp_path):
    target = tmp_path / "etc" / "pjsip_agents.conf"
    write_atomically(target, "old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert oct(target.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in target.parent.iterdir()] == ["pjsip_agents.conf"]
