"""`qmon sim conformance`: check one bracelet, simulated or real, over an HCI transport.

    qmon sim conformance --target serial:/dev/ttyACM0,1000000 --key 00112233... --console /dev/ttyUSB0
    qmon sim conformance --target serial:/dev/pts/7,1000000 --json --junit conformance.xml

Prints one line per check (or JSON with --json); exit status 0 only if every check that ran passed,
1 if any failed, 2 on a usage error. docs/CONFORMANCE.md says what each check verifies.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import click
from pydantic import ValidationError

from firmware_sim.conformance.junit import SUITE_NAME, write_results
from firmware_sim.conformance.results import all_passed, count_outcomes, format_line
from firmware_sim.conformance.suite import ConformanceOptions, ConformanceReport, run_conformance

_HEX_ID = re.compile(r"[0-9a-fA-F]{8}")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{32}")


def _target(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    from edge.settings import BleSettings  # the edge's own rule for HCI transport strings

    try:
        BleSettings(backend="hci", hci_transport=value)
    except ValidationError:
        raise click.BadParameter(
            f"{value!r}: expected serial:/dev/ttyACM0,1000000 or tcp-client:127.0.0.1:PORT"
        ) from None
    return value


def _device(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _HEX_ID.fullmatch(value):
        raise click.BadParameter(f"{value!r}: expected 8 hex digits, e.g. 0a1b2c3d")
    return None if value is None else value.lower()


def _key(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bytes | None:
    if value is not None and not _HEX_KEY.fullmatch(value):
        raise click.BadParameter("expected the bracelet's 16-byte key as 32 hex digits")
    return None if value is None else bytes.fromhex(value)


def report_json(report: ConformanceReport) -> dict[str, object]:
    """The report as JSON data: the bracelet, each check, the counts and the overall verdict."""
    return {
        "target": report.target,
        "device_id": report.device_id,
        "address": report.address,
        "passed": all_passed(report.results),
        "counts": count_outcomes(report.results),
        "checks": [r.to_json() for r in report.results],
    }


@click.command("conformance")
@click.option(
    "--target",
    required=True,
    callback=_target,
    help="HCI transport: serial:/dev/ttyACM0,1000000 (a dongle), serial:/dev/pts/N,1000000 or "
    "tcp-client:127.0.0.1:PORT (the bumble simulator).",
)
@click.option(
    "--device", callback=_device, help="Device id (8 hex digits); default: the first bracelet heard."
)
@click.option("--key", callback=_key, help="The bracelet's advert key (32 hex digits): checks the tags.")
@click.option(
    "--console",
    "console_url",
    help="The bracelet's serial console: a device path, socket://HOST:PORT or rfc2217://HOST:PORT.",
)
@click.option(
    "--duration",
    type=click.FloatRange(0.5, 600),
    default=10.0,
    show_default=True,
    help="Seconds of adverts to sample.",
)
@click.option(
    "--discover-timeout",
    type=click.FloatRange(0.5, 600),
    default=15.0,
    show_default=True,
    help="Seconds to wait for the bracelet's first advert.",
)
@click.option(
    "--notify-timeout",
    type=click.FloatRange(0.5, 120),
    default=5.0,
    show_default=True,
    help="Seconds within which each notification must arrive.",
)
@click.option(
    "--pair",
    is_flag=True,
    help="Pair (LE Secure Connections) before the GATT session: a real bracelet refuses writes otherwise.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write JUnit XML here (one testcase per check).",
)
def conformance_command(
    target: str,
    device: str | None,
    key: bytes | None,
    console_url: str | None,
    duration: float,
    discover_timeout: float,
    notify_timeout: float,
    pair: bool,
    as_json: bool,
    junit: Path | None,
) -> None:
    """Check a bracelet (simulated or real, over HCI) against docs/PROTOCOL.md: pass or fail per check."""
    options = ConformanceOptions(
        target=target,
        device_id=device,
        key=key,
        console_url=console_url,
        duration_s=duration,
        discover_timeout_s=discover_timeout,
        notify_bound_s=notify_timeout,
        pair=pair,
    )
    report = asyncio.run(run_conformance(options))
    if junit is not None:
        write_results(junit, report.results, f"{SUITE_NAME}: {report.device_id or '?'} over {target}")
    if as_json:
        click.echo(json.dumps(report_json(report), indent=1))
    else:
        click.echo(f"bracelet {report.device_id or '?'} at {report.address or '?'} over {target}")
        for result in report.results:
            click.echo(format_line(result))
        counts = count_outcomes(report.results)
        click.echo(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    raise SystemExit(0 if all_passed(report.results) else 1)
