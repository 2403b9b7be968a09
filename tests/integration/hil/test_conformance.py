"""`qmon sim conformance` against bumble bracelets over the HCI-on-pty path (as over a USB HCI-UART dongle).

Nothing is faked between the suite and the bracelet: bleak's facades drive edge.hci_backend, whose bumble
host talks HCI over a pty to the simulator's receiver controller; the console is the bracelet's real AT
console over a loopback socket. A conforming bracelet passes every check; each deliberately
non-conforming one (firmware_sim.bumble.faults) fails the check that covers its fault.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from firmware_sim.bumble.faults import Nonconformity
from firmware_sim.bumble.link import Position
from firmware_sim.bumble.simulator import BraceletSpec, BumbleSimulator
from firmware_sim.conformance.cli import conformance_command
from firmware_sim.conformance.results import Outcome, all_passed
from firmware_sim.conformance.suite import CHECK_NAMES, ConformanceOptions, run_conformance
from firmware_sim.console import serve_consoles
from firmware_sim.households import derive_key
from qmon.bracelet.advert import format_device_id
from qmon.clock import SystemClock
from tests.integration.hil.conftest import SEED, quiet_model

pytestmark = pytest.mark.timeout(60)

DEVICE = 0x0000C0F0
KEY = derive_key(SEED, DEVICE)
ADV_INTERVAL_MS = 100
SAMPLE_S = 2.0
NOTIFY_BOUND_S = 3.0
START_TIMEOUT_S = 20.0


@contextlib.asynccontextmanager
async def one_bracelet(nonconforming: Nonconformity | None = None) -> AsyncIterator[tuple[str, str]]:
    """One bracelet 1 m from the receiver, advertising every 100 ms: (HCI transport, console URL)."""
    spec = BraceletSpec(DEVICE, KEY, Position(x=1.0))
    sim = BumbleSimulator(
        [spec], model=quiet_model(), seed=SEED, adv_interval_ms=ADV_INTERVAL_MS, nonconforming=nonconforming
    )
    bracelets = [p.bracelet for p in sim.peripherals.values()]
    async with sim, serve_consoles(bracelets, SystemClock(), pty=False) as consoles:
        port = await sim.open_hci("pty")
        assert port.host_spec.startswith("serial:/dev/pts/")
        url = consoles.endpoints[0].socket_url
        assert url is not None and url.startswith("socket://127.0.0.1:")
        yield port.host_spec, url


def options(target: str, console: str | None = None, key: bytes | None = KEY) -> ConformanceOptions:
    return ConformanceOptions(
        target=target,
        device_id=format_device_id(DEVICE),
        key=key,
        console_url=console,
        duration_s=SAMPLE_S,
        discover_timeout_s=5.0,
        notify_bound_s=NOTIFY_BOUND_S,
    )


@pytest.mark.parametrize("pair", [False, True], ids=["unpaired", "paired"])
async def test_a_conforming_bracelet_passes_every_check_with_console_and_key(pair: bool) -> None:
    async with one_bracelet() as (target, console):
        report = await run_conformance(dataclasses.replace(options(target, console), pair=pair))

    outcomes = {r.name: r.outcome for r in report.results}
    assert list(outcomes) == ["device.found", *CHECK_NAMES]
    failures = [f"{r.name}: {r.reason}" for r in report.results if r.outcome is not Outcome.PASS]
    assert failures == []
    assert report.device_id == format_device_id(DEVICE)
    by_name = {r.name: r for r in report.results}
    assert "configured 100 ms" in by_name["advert.rate"].measured
    assert "open after" in by_name["notify.strap"].measured


async def test_without_console_or_key_those_checks_are_skipped_not_passed() -> None:
    async with one_bracelet() as (target, _console):
        report = await run_conformance(options(target, key=None))

    skipped = {r.name for r in report.results if r.outcome is Outcome.SKIP}
    assert skipped == {"advert.tag", "notify.strap", "console.queries", "console.identity", "console.battery"}
    assert all_passed(report.results)
    assert all(r.outcome is Outcome.PASS for r in report.results if r.name not in skipped)


@pytest.mark.parametrize(
    ("fault", "failing"),
    [
        (Nonconformity.WRONG_COMPANY_ID, "advert.format"),
        (Nonconformity.BAD_TAG, "advert.tag"),
        (Nonconformity.SLOW_ADVERTS, "advert.rate"),
        (Nonconformity.MISSING_SERVICE, "gatt.heart_rate"),
        (Nonconformity.NO_STATUS_NOTIFICATIONS, "notify.status"),
    ],
)
async def test_a_nonconforming_bracelet_fails_the_check_that_covers_its_fault(
    fault: Nonconformity, failing: str
) -> None:
    async with one_bracelet(fault) as (target, _console):
        report = await run_conformance(options(target))

    failed = {r.name: r.reason for r in report.results if r.outcome is Outcome.FAIL}
    assert failing in failed
    assert not all_passed(report.results)
    # the fault is the only thing wrong: checks that do not depend on it still pass
    results = {r.name: r for r in report.results}
    for independent in ("device.found", "advert.scan_response", "gatt.device_information", "gatt.quarantine"):
        assert results[independent].outcome is Outcome.PASS, results[independent]
    if fault is Nonconformity.WRONG_COMPANY_ID:
        assert "0x0059" in failed[failing]
    if fault is Nonconformity.SLOW_ADVERTS:
        assert "median interval 15" in failed[failing]  # ~150 ms against 100 ms configured
    if fault is Nonconformity.MISSING_SERVICE:
        assert set(failed) == {"gatt.heart_rate", "gatt.reads", "notify.heart_rate"}


async def test_an_unknown_device_is_reported_not_found() -> None:
    async with one_bracelet() as (target, _console):
        wanted = ConformanceOptions(
            target=target, device_id="0badf00d", duration_s=1.0, discover_timeout_s=1.0
        )
        report = await run_conformance(wanted)

    first, *rest = report.results
    assert (first.name, first.outcome) == ("device.found", Outcome.FAIL)
    assert "0badf00d not heard" in first.reason
    assert {r.outcome for r in rest} == {Outcome.SKIP}
    assert not all_passed(report.results)


def unused_loopback_port() -> int:
    with socket.socket() as probe:  # bound, never listening: connecting to it is refused
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_console_that_cannot_be_opened_fails_the_console_checks() -> None:
    dead = f"socket://127.0.0.1:{unused_loopback_port()}"
    async with one_bracelet() as (target, _console):
        report = await run_conformance(options(target, dead))

    results = {r.name: r for r in report.results}
    for name in ("notify.strap", "console.queries", "console.identity", "console.battery"):
        assert results[name].outcome is Outcome.FAIL, results[name]
        assert dead in results[name].reason or "console unavailable" in results[name].reason
    assert results["notify.status"].outcome is Outcome.PASS


async def test_an_hci_transport_that_does_not_answer_is_reported_not_found() -> None:
    port = unused_loopback_port()
    report = await run_conformance(ConformanceOptions(target=f"tcp-client:127.0.0.1:{port}"))

    first = report.results[0]
    assert (first.name, first.outcome) == ("device.found", Outcome.FAIL)
    assert first.reason.startswith(f"cannot open HCI transport tcp-client:127.0.0.1:{port}")
    assert not all_passed(report.results)


# ---- the command line, against the simulator in its own process --------------------------------------


@contextlib.contextmanager
def simulator_process(*extra: str) -> Iterator[dict[str, object]]:
    """`python -m firmware_sim.bumble` with one bracelet on a pty; yields its first JSON line."""
    command = [sys.executable, "-m", "firmware_sim.bumble", "--bracelets", "1", "--hci", "pty"]
    command += ["--seed", str(SEED), "--adv-interval-ms", str(ADV_INTERVAL_MS), "--duration", "45", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the simulator printed nothing"
        yield json.loads(line)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(conformance_command, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cli_exits_0_on_a_conforming_bracelet_and_writes_junit(tmp_path: Path) -> None:
    """The console this time over its pty, as a USB-UART's /dev/ttyUSB0 would be given."""
    junit = tmp_path / "conformance.xml"
    with simulator_process("--consoles") as first:
        device_id, (console_pty, _socket_url) = next(iter(first["consoles"].items()))  # type: ignore[attr-defined]
        key = derive_key(SEED, int(device_id, 16)).hex()
        code, output = invoke(
            "--target", str(first["hci_transport"]), "--console", console_pty, "--key", key,
            "--duration", "2", "--notify-timeout", "3", "--junit", str(junit),
        )  # fmt: skip

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith(f"bracelet {device_id} at ")
    assert len(lines) == 1 + 1 + len(CHECK_NAMES) + 1  # header, device.found, the checks, the counts
    assert all(line.startswith("PASS ") for line in lines[1:-1])
    assert lines[-1] == f"{len(CHECK_NAMES) + 1} passed, 0 failed, 0 skipped"

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["device.found", *CHECK_NAMES]
    assert suite.get("failures") == "0" and suite.get("skipped") == "0"
    assert all(c.find("failure") is None and c.find("skipped") is None for c in cases)


def test_cli_exits_1_on_slow_adverts_with_json_and_the_failure_in_junit(tmp_path: Path) -> None:
    junit = tmp_path / "conformance.xml"
    with simulator_process("--nonconforming", "slow-adverts") as first:
        assert first["nonconforming"] == "slow-adverts"
        code, output = invoke(
            "--target", str(first["hci_transport"]), "--duration", "2", "--notify-timeout", "3",
            "--json", "--junit", str(junit),
        )  # fmt: skip

    assert code == 1, output
    report = json.loads(output)
    assert report["passed"] is False
    outcomes = {c["name"]: c["outcome"] for c in report["checks"]}
    assert outcomes["advert.rate"] == "fail"
    assert outcomes["advert.format"] == "pass"
    assert outcomes["advert.tag"] == outcomes["console.queries"] == "skip"
    assert report["counts"]["fail"] >= 1

    root = ET.parse(junit).getroot()
    rate = root.find("./testsuite/testcase[@name='advert.rate']")
    assert rate is not None
    failure = rate.find("failure")
    assert failure is not None and "median interval" in (failure.get("message") or "")
    tag = root.find("./testsuite/testcase[@name='advert.tag']")
    assert tag is not None and tag.find("skipped") is not None


def test_cli_refuses_a_target_that_is_not_an_hci_transport() -> None:
    code, output = invoke("--target", "tcp-server:0.0.0.0:7701")
    assert code == 2
    assert "expected serial:" in output
