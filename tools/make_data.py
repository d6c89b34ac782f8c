"""Build the bundled replay days in data/ from a typical meteorological year.

    python -m venv /tmp/pv && /tmp/pv/bin/pip install pvlib==0.16.1
    /tmp/pv/bin/python tools/make_data.py            # writes data/*.csv
    python3 tools/make_data.py --grid                # only the grid-meter day (no pvlib)

Not a dependency of evse-rules: pvlib (with numpy and pandas) is needed only here, to turn
measured hourly irradiance into the power of a roof. Every step is deterministic: the same
pvlib version gives the same files, byte for byte.

Source: the TMY3 file 723170TYA.CSV shipped inside pvlib's wheel (pvlib/data/), the
typical meteorological year of Greensboro Piedmont Triad International airport, North
Carolina (USAF 723170, 36.1 N 79.95 W, 273 m), from the US National Solar Radiation
Database (NSRDB 1991-2005 update). Its hourly global horizontal irradiance (GHI), air
temperature and wind speed are used; times are local standard time (UTC-05:00).

Model, per day:
1. A one-minute clear-sky GHI shape (Haurwitz) is scaled hour by hour so that each hour
   holds exactly the TMY's measured GHI (the TMY value labelled HH:00 covers the hour
   before it). On the clear and winter days the hourly clearness is interpolated smoothly.
2. The cloudy day gets minute-scale swings: a seeded two-state Markov chain (sun: 1.05 of
   clear sky, cloud: 0.25) whose share of sunny minutes in each hour is set by that hour's
   clearness, with a mean sun-plus-cloud cycle of 12 minutes; each hour is then rescaled
   to the TMY's hourly energy again.
3. GHI is split into direct and diffuse (Erbs), transposed onto a 35 degree south-facing
   roof (isotropic sky), and turned into AC power by PVWatts: 6 kWp of modules
   (-0.37 %/K, SAPM close-mount cell temperature), 14 % system losses, a 5 kW inverter.
4. The house load is a documented seeded profile (see `house_load`): standby, a fridge,
   breakfast, cooking, a dishwasher, lights and TV; a washing machine on the clear day and
   a heat pump on the winter day.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

if "--grid" not in sys.argv[1:]:
    # pvlib (with numpy and pandas) models the days; the grid-meter day is derived from a
    # bundled day with the standard library alone.
    import numpy as np
    import pandas as pd
    import pvlib

ROOT = Path(__file__).resolve().parent.parent
TZ = "Etc/GMT+5"                    # the TMY's local standard time, UTC-05:00
TMY = "723170TYA.CSV"
DC_KWP = 6.0
INVERTER_W = 5000.0
LOSSES = 0.14
TILT, AZIMUTH = 35.0, 180.0


# (file, month-day of the TMY, swings, washing machine, heat pump, seed)
DAYS = (
    ("clear-day.csv", "06-30", False, True, False, 630),
    ("cloudy-day.csv", "06-08", True, False, False, 608),
    ("winter-day.csv", "12-18", False, False, True, 1218),
)


def load_tmy() -> tuple[pd.DataFrame, dict[str, float]]:
    path = Path(pvlib.__file__).parent / "data" / TMY
    data, meta = pvlib.iotools.read_tmy3(str(path), map_variables=True, coerce_year=2025)
    data.index = data.index.tz_convert(TZ)
    return data, meta


def minute_clearness(hourly_k: np.ndarray, swings: bool, rng: random.Random) -> np.ndarray:
    """Clearness (GHI / clear-sky GHI) for each of the 1440 minutes of a day."""
    if not swings:
        centres = np.arange(24) * 60 + 30
        return np.interp(np.arange(1440), centres, hourly_k)
    sun, cloud, cycle = 1.05, 0.25, 12.0
    k = np.empty(1440)
    sunny = rng.random() < 0.5
    for hour in range(24):
        share = min(max((hourly_k[hour] - cloud) / (sun - cloud), 0.02), 0.98)
        stay_sun = 1 - 1 / (cycle * share)           # mean sunny spell: cycle * share
        stay_cloud = 1 - 1 / (cycle * (1 - share))
        for minute in range(hour * 60, hour * 60 + 60):
            k[minute] = sun if sunny else cloud
            stay = stay_sun if sunny else stay_cloud
            if rng.random() > max(stay, 0.0):
                sunny = not sunny
    return k


def pv_power(day: pd.Timestamp, data: pd.DataFrame, meta: dict[str, float], swings: bool,
             rng: random.Random) -> np.ndarray:
    minutes = pd.date_range(day, periods=1440, freq="1min", tz=TZ)
    location = pvlib.location.Location(meta["latitude"], meta["longitude"], tz=TZ,
                                       altitude=meta["altitude"])
    position = location.get_solarposition(minutes + pd.Timedelta("30s"))
    clear = location.get_clearsky(minutes + pd.Timedelta("30s"), model="haurwitz",
                                  solar_position=position)["ghi"].to_numpy()
    # TMY row labelled HH:00 is the hour ending then: hour h of the day is the row h+1.
    hours = data.loc[day + pd.Timedelta("1h"): day + pd.Timedelta("24h")]
    ghi_hourly = hours["ghi"].to_numpy(dtype=float)
    clear_hourly = clear.reshape(24, 60).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hourly_k = np.where(clear_hourly > 5, ghi_hourly / clear_hourly, 0.0)
    hourly_k = np.clip(hourly_k, 0.0, 1.3)
    ghi = clear * minute_clearness(hourly_k, swings, rng)
    # Each hour keeps the TMY's measured energy exactly.
    for hour in range(24):
        block = ghi[hour * 60:(hour + 1) * 60]
        mean = block.mean()
        block *= (ghi_hourly[hour] / mean) if mean > 0 else 0.0
    zenith = position["apparent_zenith"].to_numpy()
    split = pvlib.irradiance.erbs(ghi, zenith, minutes)
    poa = pvlib.irradiance.get_total_irradiance(
        TILT, AZIMUTH, zenith, position["azimuth"].to_numpy(), split["dni"], ghi,
        split["dhi"], model="isotropic")["poa_global"]
    poa = np.nan_to_num(np.asarray(poa, dtype=float))
    air = np.interp(np.arange(1440), np.arange(24) * 60 + 30,
                    hours["temp_air"].to_numpy(dtype=float))
    wind = np.interp(np.arange(1440), np.arange(24) * 60 + 30,
                     hours["wind_speed"].to_numpy(dtype=float))
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["close_mount_glass_glass"]
    cell = pvlib.temperature.sapm_cell(poa, air, wind, **params)
    dc = pvlib.pvsystem.pvwatts_dc(poa, cell, DC_KWP * 1000, -0.0037) * (1 - LOSSES)
    ac = pvlib.inverter.pvwatts(dc, INVERTER_W, eta_inv_nom=0.96)
    return np.clip(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0, None)


def house_load(rng: random.Random, washing: bool, heat_pump: bool) -> np.ndarray:
    """A household's minute load in W. Every event's time and length is drawn from `rng`.

    standby 150 W all day; a fridge (90 W, 18 of every 45 minutes); breakfast (lights
    300 W 6:30-8:00, a kettle 2 kW for 3 min twice, a coffee machine 1.2 kW for 2 min);
    a home office (150 W, 9:00-17:00); lunch (1.5 kW hob, on 60 % of the minutes of
    30 min around 12:00); a dishwasher after lunch (2 kW heating 20 min then 100 W for
    70 min); dinner (2 kW oven cycling for 45 min around 18:00); lights and TV (350 W,
    18:00-23:00). Clear day: a washing machine at about 10:00 (2 kW 15 min, 300 W
    60 min). Winter day: a heat pump, 900 W, on 30 min / off 20 min, all day, and lights
    from 16:30. Noise: +-20 W (Gaussian) every minute.
    """
    load = np.full(1440, 150.0)
    phase = rng.randrange(45)
    for minute in range(1440):
        if (minute + phase) % 45 < 18:
            load[minute] += 90.0

    def add(start: float, length: float, watts: float) -> None:
        first = max(int(start), 0)
        load[first:min(int(start + length), 1440)] += watts

    def at(hour: float, spread: float = 20.0) -> float:
        return hour * 60 + rng.uniform(-spread, spread)

    add(6.5 * 60, 90, 300.0)
    add(at(6.75, 5), 3, 2000.0)
    add(at(7.5, 5), 3, 2000.0)
    add(at(7.0, 10), 2, 1200.0)
    add(9 * 60, 8 * 60, 150.0)
    lunch = int(at(12.0, 10))
    for minute in range(lunch, lunch + 30):
        if rng.random() < 0.6:
            load[minute] += 1500.0
    dishes = at(13.25, 15)
    add(dishes, 20, 2000.0)
    add(dishes + 20, 70, 100.0)
    dinner = int(at(18.0, 15))
    for minute in range(dinner, dinner + 45):
        if (minute - dinner) % 6 < 4:
            load[minute] += 2000.0
    add(18 * 60, 5 * 60, 350.0)
    if washing:
        wash = at(10.0, 20)
        add(wash, 15, 2000.0)
        add(wash + 15, 60, 300.0)
    if heat_pump:
        start = rng.randrange(50)
        for minute in range(1440):
            if (minute + start) % 50 < 30:
                load[minute] += 900.0
        add(16.5 * 60, 90, 250.0)
    noise = np.array([rng.gauss(0.0, 20.0) for _ in range(1440)])
    return np.clip(load + noise, 80.0, None)


def write_day(path: Path, day: pd.Timestamp, pv: np.ndarray, house: np.ndarray) -> None:
    lines = ["time,pv[W],house[W]"]
    for minute in range(1440):
        stamp = (day + pd.Timedelta(minutes=minute)).isoformat()
        lines.append(f"{stamp},{pv[minute]:.0f},{house[minute]:.0f}")
    path.write_text("\n".join(lines) + "\n")


# (grid-meter file, the bundled day it is derived from)
GRID_DAYS = (("cloudy-day-grid.csv", "cloudy-day.csv"),)


def write_grid_day(path: Path, source: Path) -> None:
    """A day as a grid meter (import positive) recorded it WITHOUT the car: grid = house -
    pv, minute by minute, from a bundled day; the replay adds the simulated car."""
    with source.open(newline="") as handle:
        rows = list(csv.reader(handle))
    lines = ["time,grid[W]"]
    for stamp, pv, house in rows[1:]:
        lines.append(f"{stamp},{float(house) - float(pv):.0f}")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    out = ROOT / "data"
    for name, source in GRID_DAYS:
        write_grid_day(out / name, out / source)
        print(f"{name}: grid = house - pv of {source}")
    if "--grid" in sys.argv[1:]:
        return 0
    data, meta = load_tmy()
    out = ROOT / "data"
    out.mkdir(exist_ok=True)
    for name, month_day, swings, washing, heat_pump, seed in DAYS:
        rng = random.Random(seed)
        day = pd.Timestamp(f"2025-{month_day}", tz=TZ)
        pv = pv_power(day, data, meta, swings, rng)
        house = house_load(rng, washing, heat_pump)
        write_day(out / name, day, pv, house)
        print(f"{name}: {day.date()}, pv {pv.sum() / 60000:.2f} kWh, "
              f"house {house.sum() / 60000:.2f} kWh, peak pv {pv.max():.0f} W")
    return 0


if __name__ == "__main__":
    sys.exit(main())
