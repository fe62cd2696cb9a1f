"""The ground-floor rules: one default per limit, read by the plugins, telemetry and the agent;
and the registry's factories, which build each plugin from its own settings."""

from __future__ import annotations

import inspect

import pytest

from scheduler.policy import rules
from scheduler.policy.plugins.fragmentation import FragmentationArgs
from scheduler.policy.registry import FILTERS, SCORERS, build_profile
from scheduler.telemetry import annotation
from scheduler.telemetry.hub.settings import TelemetrySettings


def test_each_limit_has_one_default_everyone_reads() -> None:
    assert rules.HealthThresholds().max_temperature_c == rules.DEFAULT_MAX_TEMPERATURE_C == 87.0
    assert rules.LoadSettings().max_age_s == rules.DEFAULT_MAX_LOAD_AGE_S == 120.0
    tele = TelemetrySettings()
    assert (tele.max_temperature_c, tele.max_age_s) == (87.0, 120.0)
    assert tele.ignored_xids == rules.HealthThresholds().ignored_xids == rules.NON_FATAL_XIDS
    hot = inspect.signature(annotation.encode).parameters["hot_c"].default
    assert hot == rules.DEFAULT_MAX_TEMPERATURE_C


def test_settings_reach_the_plugin_through_its_factory() -> None:
    prof = build_profile(
        args={
            "GpuHealth": rules.HealthThresholds(max_temperature_c=85),
            "GpuLoad": rules.LoadSettings(max_age_s=30),
            "Fragmentation": FragmentationArgs(mig_mix={"1g.10gb": 1.0}),
        }
    )
    [health] = [f for f in prof.filters if f.name == "GpuHealth"]
    scorers = {s.name: s for s, _ in prof.scorers}
    assert health.thresholds.max_temperature_c == 85  # type: ignore[attr-defined]
    assert scorers["GpuLoad"].settings.max_age_s == 30  # type: ignore[attr-defined]
    assert scorers["Fragmentation"].mig_mix == {"1g.10gb": 1.0}  # type: ignore[attr-defined]
    # Plugins not named in `args` get their defaults.
    assert build_profile().filters[1].thresholds == rules.HealthThresholds()  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"GpuHealth": rules.LoadSettings()}, "plugin 'GpuHealth' takes HealthThresholds"),
        ({"GpuFit": rules.LoadSettings()}, "plugin 'GpuFit' takes no settings"),
        ({"Nope": rules.LoadSettings()}, "settings for unknown plugin 'Nope'"),
    ],
)
def test_bad_settings_are_a_one_line_error(args: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_profile(args=args)


def test_every_registered_plugin_is_built_with_its_defaults() -> None:
    for name, factory in {**FILTERS, **SCORERS}.items():
        assert factory.new(None).name == name
