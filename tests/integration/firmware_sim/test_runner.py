"""Running a simulation: run_sim, running_world and the `sim` command."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from bleak import BleakScanner
from bleak.backends.scanner import AdvertisementData
from click.testing import CliRunner
from pydantic import ValidationError

from firmware_sim.bleak_backend import VirtualBleakScanner
from firmware_sim.builders import make_household, make_world
from firmware_sim.cli import parse_listen, sim_command
from firmware_sim.cpu_probe import measure_world_cpu
from firmware_sim.runner import RunningSim, run_sim, running_world
from firmware_sim.settings import SimSettings
from firmware_sim.world import Happening, HappeningKind
from qmon.clock import ManualClock, ScaledClock


async def test_run_sim_serves_the_world_until_stopped() -> None:
    settings = SimSettings.model_validate({"speed": 20, "seed": 3, "inproc_name": "run-sim-test"})
    clock = ScaledClock(settings.speed)
    stop = asyncio.Event()
    ready: list[RunningSim] = []
    seen: list[AdvertisementData] = []
    task = asyncio.create_task(run_sim(settings, clock, stop=stop, on_ready=ready.append))
    async with asyncio.timeout(10):
        while not ready:
            await asyncio.sleep(0.01)
        sim = ready[0]
        assert sim.radio_url.startswith("tcp://127.0.0.1:") and sim.inproc_url == "inproc:run-sim-test"
        assert set(sim.keys) == {"0000a001", "0000a002", "0000a003", "0000a004"}
        assert sim.population is None
        scanners = [
            BleakScanner(lambda d, a: seen.append(a), backend=VirtualBleakScanner, radio=radio)
            for radio in (sim.radio_url, sim.inproc_url)
        ]
        for scanner in scanners:
            await scanner.start()
        while len({a.local_name for a in seen}) < 4:
            await asyncio.sleep(0.02)
        for scanner in scanners:
            await scanner.stop()
        stop.set()
        world = await task
    assert world.adverts_delivered >= 4


async def test_run_sim_stops_after_its_duration_and_reports_happenings() -> None:
    settings = SimSettings.model_validate({"speed": 200, "duration_s": 75, "inproc_name": None})
    happenings: list[Happening] = []
    async with asyncio.timeout(20):
        world = await run_sim(settings, ScaledClock(settings.speed), on_happening=happenings.append)
    kinds = {h.kind for h in happenings}
    assert {HappeningKind.STRAP_OPENED, HappeningKind.BATTERY_LOW, HappeningKind.LEFT_HOME} <= kinds
    assert world.elapsed >= 75


async def test_run_sim_with_a_generated_population() -> None:
    settings = SimSettings.model_validate(
        {
            "population": {"count": 30, "duration_s": 600, "sites": 3},
            "speed": 100,
            "duration_s": 2,
            "inproc_name": None,
        }
    )
    ready: list[RunningSim] = []
    async with asyncio.timeout(20):
        await run_sim(settings, ScaledClock(settings.speed), on_ready=ready.append)
    (sim,) = ready
    assert sim.population is not None and len(sim.households) == 30
    assert len(sim.keys) == 30 and sim.keys == sim.population.keys()
    assert len({h.site_id for h in sim.households}) == 3


async def test_running_world_registers_and_drives_a_world_in_process() -> None:
    clock = ScaledClock(50)
    world = make_world([make_household(1), make_household(2)], clock)
    seen: list[AdvertisementData] = []
    async with running_world(world, "helper-test") as radio:
        assert radio == "inproc:helper-test"
        async with BleakScanner(lambda d, a: seen.append(a), backend=VirtualBleakScanner, radio=radio):
            async with asyncio.timeout(10):
                while len(seen) < 10:
                    await asyncio.sleep(0.02)
    with pytest.raises(ConnectionError):  # unregistered on exit
        await BleakScanner(lambda d, a: None, backend=VirtualBleakScanner, radio=radio).start()


def test_settings_refuse_a_public_listener_and_two_sources(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="loopback"):
        SimSettings.model_validate({"listen": {"host": "0.0.0.0"}})
    with pytest.raises(ValidationError, match="either"):
        SimSettings.model_validate({"households_file": str(tmp_path / "h.yaml"), "population": {"count": 3}})
    for model in (SimSettings,):
        assert all(field.description for field in model.model_fields.values())


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:7788") == ("127.0.0.1", 7788)
    assert parse_listen("7788") == ("127.0.0.1", 7788)
    assert parse_listen("[::1]:80") == ("::1", 80)


def test_the_sim_command_prints_happenings() -> None:
    result = CliRunner().invoke(sim_command, ["--duration", "75", "--speed", "200", "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert "radio server: tcp://127.0.0.1:" in result.output
    assert "site demo-site: receivers hub-1, hub-2, hub-3, hub-4" in result.output
    assert "0000a003 [hh-strap] strap opened" in result.output
    assert "0000a002 [hh-walker] wearer left home footprint" in result.output
    assert "stopped after" in result.output


def test_the_sim_command_with_a_population_and_exported_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    config = tmp_path / "sim.yaml"
    config.write_text("radio:\n  noise_sigma_db: 1.5\nlisten:\n  port: 0\n")
    result = CliRunner().invoke(
        sim_command,
        [
            "--config",
            str(config),
            "--population",
            "25",
            "--duration",
            "1",
            "--speed",
            "50",
            "--keys-out",
            str(keys),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "population: 25 households" in result.output
    exported = json.loads(keys.read_text())
    assert len(exported) == 25 and all(len(bytes.fromhex(k)) == 16 for k in exported.values())
    assert os.stat(keys).st_mode & 0o777 == 0o600


def test_the_sim_command_refuses_bad_options() -> None:
    result = CliRunner().invoke(sim_command, ["--listen", "0.0.0.0:7788", "--duration", "1"])
    assert result.exit_code == 2 and "loopback" in result.output
    assert CliRunner().invoke(sim_command, ["--help"]).exit_code == 0


async def test_world_run_follows_a_manual_clock() -> None:
    clock = ManualClock()
    world = make_world([make_household(1)], clock)
    seen: list[object] = []
    world.subscribe(None, seen.append)
    task = asyncio.create_task(world.run())
    try:
        for _ in range(40):
            clock.advance(0.25)
            await asyncio.sleep(0)
        async with asyncio.timeout(5):  # the loop sleeps until its next due time, at most 1 s ahead
            while world.elapsed < 9:
                await asyncio.sleep(0)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert 8 <= len(seen) <= 11


async def test_the_cpu_probe_measures_without_asserting_speed() -> None:
    cost = await measure_world_cpu(50, simulated_s=5.0)
    assert cost.bracelets == 50 and cost.adverts_delivered > 100 and cost.through_bleak
    assert cost.core_share >= 0.0
