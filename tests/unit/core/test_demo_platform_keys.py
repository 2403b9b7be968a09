"""`qmon demo` switches the public-health platforms on with keys made for the run, kept private."""

from __future__ import annotations

import stat
from pathlib import Path

from cloud.app import create_app
from cloud.settings import HubSettings
from qmon.demo import platform_keys


async def test_the_demo_hub_issues_codes_and_certificates_with_its_own_keys(tmp_path: Path) -> None:
    keys = platform_keys(tmp_path)
    for name in ("venue-qr.pem", "dsc-key.pem", "dsc.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert keys != platform_keys(tmp_path / ".." / tmp_path.name)  # fresh keys each run
    settings = HubSettings(
        jwt_secret="a-demo-keys-test-signing-key-long-enough",
        database_url=f"sqlite:///{tmp_path / 'hub.db'}",
        **keys,
    )
    app = create_app(settings, start_ingest=False)
    async with app.router.lifespan_context(app):
        hub = app.state.hub
        assert hub.health_passes._signer is not None
        assert [entry.own for entry in hub.certificates.trust_list] == [True]  # its own signer, trusted
