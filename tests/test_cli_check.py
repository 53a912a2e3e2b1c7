"""`emailclean check ADDRESS...` through the real command, syntax checks only."""

from __future__ import annotations

from tests.helpers import run_cli


def check(*addresses: str) -> tuple[int, str, str]:
    result = run_cli("check", *addresses, "--checks", "syntax")
    assert "Traceback" not in result.stderr
    return result.rc, result.stdout.decode(), result.stderr


def test_check_all_valid_exit_0_card_on_stdout() -> None:
    rc, stdout, stderr = check("ann@acme.com", "Bob.Lee@ACME.com")

    assert rc == 0
    assert stdout == (
        "ann@acme.com  valid (syntax_ok)\n"
        "  The address is well formed.\n"
        "  normalized: ann@acme.com\n"
        "Bob.Lee@ACME.com  valid (syntax_ok)\n"
        "  The address is well formed.\n"
        "  normalized: Bob.Lee@acme.com\n"
    )
    assert stderr == ""


def test_check_one_risky_exit_3_every_card_shown() -> None:
    rc, stdout, _ = check("ann@acme.com", "info@gmail.com")

    assert rc == 3
    assert stdout == (
        "ann@acme.com  valid (syntax_ok)\n"
        "  The address is well formed.\n"
        "  normalized: ann@acme.com\n"
        "info@gmail.com  risky (role_account)\n"
        "  The address reaches a role or team, not a person.\n"
        "  normalized: info@gmail.com\n"
        "  flags: role, free\n"
    )


def test_check_typo_card_shows_suggestion() -> None:
    rc, stdout, _ = check("Ann.Lee@GMIAL.com")

    assert rc == 3
    assert stdout == (
        "Ann.Lee@GMIAL.com  risky (disposable)\n"
        "  The domain is a disposable-address service. Did you mean "
        "Ann.Lee@gmail.com?\n"
        "  normalized: Ann.Lee@gmial.com\n"
        "  flags: disposable\n"
        "  suggestion: Ann.Lee@gmail.com\n"
    )


def test_check_invalid_exit_3_message_says_why() -> None:
    rc, stdout, _ = check("ann.acme.com")

    assert rc == 3
    assert stdout == (
        "ann.acme.com  invalid (bad_syntax)\n  The address has no @-sign.\n"
    )


def test_check_piped_long_message_one_line() -> None:
    _, stdout, _ = check("someone@example.com")

    assert stdout.splitlines()[1] == (
        "  example.com is a reserved or special-use name (RFC 2606, RFC 6761); "
        "it never receives mail."
    )


def test_check_no_address_usage_exit_2() -> None:
    result = run_cli("check", "--checks", "syntax")

    assert result.rc == 2
    assert "Missing argument 'addresses'." in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == b""
