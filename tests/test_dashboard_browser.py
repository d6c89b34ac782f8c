"""The dashboard in Debian's Chromium, against an in-memory face served by uvicorn: the tile
shows the state in words, presses reach `EngineFace.command` as the right HandCommand, errors
show next to the control, and the event stream updates the page without a reload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from evse_rules.api import create_app
from evse_rules.api.demo import DemoFace
from evse_rules.live.views import CommandOutcome, CommandRefused, HandCommand, Series
from tests.browser import Served


class RefusingFace(DemoFace):
    """Refuses currents above 20 A the way the engine refuses out-of-range values."""

    async def command(self, command: HandCommand) -> CommandOutcome:
        if command.action == "amps" and isinstance(command.value, float) and command.value > 20:
            self.commands.append(command)
            raise CommandRefused(f"refused: {command.value:g} A is above the fuse's 20 A", 409)
        return await super().command(command)


@pytest.fixture
def face() -> DemoFace:
    return RefusingFace()


@pytest.fixture
def served(face: DemoFace) -> Iterator[Served]:
    with Served(create_app(face, password=None)) as running:
        yield running


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(served.url + "/")
    page.get_by_test_id("tile-garage").wait_for()
    yield page
    context.close()
    assert errors == [], errors     # no script error during the test


def _tile(page: Any) -> Any:
    return page.get_by_test_id("tile-garage")


def test_the_tile_shows_the_state_in_words(page: Any) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    expect(tile.get_by_test_id("state")).to_have_text("Sleeping (not charging)")
    expect(tile.get_by_test_id("state")).not_to_have_class(re.compile("is-charging"))
    for testid, text in [("m-vehicle", "connected"), ("m-current", "0 A"),
                         ("m-setpoint", "16 A"), ("m-voltage", "236 V"), ("m-power", "0 W"),
                         ("m-energy", "7.35 kWh"), ("m-temp", "31.5 °C"), ("block", "solar")]:
        expect(tile.get_by_test_id(testid)).to_have_text(text)
    expect(tile.get_by_test_id("auto")).to_have_attribute("aria-pressed", "true")
    expect(tile.get_by_test_id("manual")).to_have_attribute("aria-pressed", "false")
    slider = tile.get_by_test_id("amps-slider")
    assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("6", "32")
    expect(slider).to_have_value("16")
    expect(tile.get_by_test_id("amps-value")).to_have_text("16 A")
    expect(tile.get_by_test_id("stale")).to_have_text("house: stale, 3 min")
    # The user variables, each edited by its type.
    expect(tile.get_by_test_id("var-target")).to_have_attribute("type", "number")
    expect(tile.get_by_test_id("var-target")).to_have_value("20")
    expect(tile.get_by_test_id("var-boost")).to_have_attribute("role", "switch")
    expect(tile.get_by_test_id("var-note")).to_have_value("solar only")
    # The chart has its four lines; the journal shows who pressed.
    chart = tile.get_by_test_id("chart")
    expect(chart.locator("path[data-series]")).to_have_count(4)
    expect(tile.get_by_test_id("journal").locator("li")).to_have_count(4)
    expect(tile.get_by_test_id("journal")).to_contain_text("amps 16 A dashboard")
    expect(page.get_by_test_id("conn")).to_have_text("live")


def test_the_countdown_counts_down_between_pushes(page: Any) -> None:
    why = _tile(page).get_by_test_id("why")
    found = re.search(r"starting in (\d+) s if the surplus holds", why.inner_text())
    assert found, why.inner_text()
    first = int(found[1])
    assert 35 <= first <= 40
    # No push comes from the face meanwhile: the page counts on its own.
    page.wait_for_function(
        """([el, first]) => {
            const m = el.textContent.match(/starting in (\\d+) s/);
            return m && Number(m[1]) <= first - 2;
        }""", arg=[why.element_handle(), first], timeout=10000)


def test_presses_send_the_right_hand_commands(page: Any, face: DemoFace) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    tile.get_by_test_id("off").click()
    expect(tile.get_by_test_id("msg-buttons")).to_have_text("stop sent")
    tile.get_by_test_id("on").click()
    expect(tile.get_by_test_id("msg-buttons")).to_have_text("start sent")
    tile.get_by_test_id("amps-slider").fill("10")
    expect(tile.get_by_test_id("msg-amps")).to_have_text("current 10 A sent")
    tile.get_by_test_id("auto").click()
    expect(tile.get_by_test_id("auto")).to_have_attribute("aria-pressed", "true")
    tile.get_by_test_id("manual").click()
    expect(tile.get_by_test_id("manual")).to_have_attribute("aria-pressed", "true")
    tile.get_by_test_id("release").click()
    expect(tile.get_by_test_id("msg-buttons")).to_contain_text("handed back")
    tile.get_by_test_id("var-target").fill("25.5")
    tile.get_by_test_id("set-target").click()
    expect(tile.get_by_test_id("msg-var-target")).to_have_text("target = 25.5 kWh")
    tile.get_by_test_id("var-boost").check()
    expect(tile.get_by_test_id("msg-var-boost")).to_have_text("boost = true")
    tile.get_by_test_id("var-note").fill("cheap night")
    tile.get_by_test_id("var-note").press("Enter")
    expect(tile.get_by_test_id("msg-var-note")).to_have_text("note = cheap night")
    assert face.commands == [
        HandCommand("stop", "garage", None, "dashboard"),
        HandCommand("start", "garage", None, "dashboard"),
        HandCommand("amps", "garage", 10.0, "dashboard"),
        HandCommand("mode", "garage", "auto", "dashboard"),
        HandCommand("mode", "garage", "manual", "dashboard"),
        HandCommand("release", "garage", None, "dashboard"),
        HandCommand("set", "target", 25.5, "dashboard"),
        HandCommand("set", "boost", True, "dashboard"),
        HandCommand("set", "note", "cheap night", "dashboard"),
    ]
    # The page follows what the face now says, and the journal shows the presses' source.
    expect(tile.get_by_test_id("state")).to_have_text("Charging")
    expect(tile.get_by_test_id("m-setpoint")).to_have_text("10 A")
    expect(tile.get_by_test_id("journal")).to_contain_text("note = cheap night dashboard")


def test_a_refused_press_is_shown_next_to_its_control(page: Any, face: DemoFace) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    tile.get_by_test_id("amps-slider").fill("24")
    message = tile.get_by_test_id("msg-amps")
    expect(message).to_have_text("refused: 24 A is above the fuse's 20 A")
    expect(message).to_have_attribute("role", "alert")
    # Not a number: said in words, nothing sent.
    before = len(face.commands)
    tile.get_by_test_id("var-target").fill("")
    tile.get_by_test_id("set-target").click()
    expect(tile.get_by_test_id("msg-var-target")).to_have_text("target: enter a number of kWh")
    assert len(face.commands) == before
    # The variable's own refusal (a face's 400) shows beside the variable.
    expect(tile.get_by_test_id("msg-buttons")).to_have_text("")


def test_the_stream_updates_the_page_without_a_reload(page: Any, face: DemoFace,
                                                      served: Served) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    page.evaluate("window.__sameDocument = true")
    # A command from another face (the CLI) and a tick of the engine.
    httpx.post(f"{served.url}/api/v1/chargers/garage/start", headers={"X-Evse-Source": "cli"})
    expect(tile.get_by_test_id("state")).to_have_text("Charging", timeout=1000)
    expect(tile.get_by_test_id("manual")).to_have_attribute("aria-pressed", "true")
    expect(tile.get_by_test_id("journal")).to_contain_text("start sent cli")
    face.charger = replace(face.charger, temp=44.0, error="temperature high")
    face.tick(1)
    expect(tile.get_by_test_id("m-temp")).to_have_text("44 °C", timeout=1000)
    expect(tile.get_by_test_id("error")).to_have_text("temperature high")
    assert page.evaluate("window.__sameDocument") is True


class DroppingFace(DemoFace):
    """Its first stream breaks at the first change instead of sending it."""

    dropped = False

    async def changes(self, since: int | None = None) -> int:
        sequence = await super().changes(since)
        if not self.dropped:
            self.dropped = True
            raise ConnectionResetError("the engine restarted")
        return sequence


def test_the_page_reconnects_when_the_stream_drops(browser: Any) -> None:
    from playwright.sync_api import expect

    face = DroppingFace()
    with Served(create_app(face, password=None)) as served:
        context = browser.new_context()
        page = context.new_page()
        page.goto(served.url + "/")
        state = _tile(page).get_by_test_id("state")
        expect(state).to_have_text("Sleeping (not charging)")
        face.charger = replace(face.charger, state_text="Vehicle connected, not charging")
        face.tick(1)
        # The first stream dies instead of sending the change: only a new connection brings it.
        expect(state).to_have_text("Vehicle connected, not charging", timeout=15000)
        assert face.dropped
        context.close()


def test_a_phone_screen_shows_every_control_without_sideways_scrolling(
        browser: Any, served: Served) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(served.url + "/")
    tile = _tile(page)
    tile.wait_for()
    page.get_by_test_id("journal").locator("li").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    tile_box = tile.bounding_box()
    assert tile_box["x"] >= 0 and tile_box["x"] + tile_box["width"] <= 390
    controls = ["on", "off", "manual", "auto", "release", "amps-slider", "var-target",
                "set-target", "var-boost", "var-note", "set-note"]
    for testid in controls:
        control = tile.get_by_test_id(testid)
        control.scroll_into_view_if_needed()
        assert control.is_visible(), testid
        box = control.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, testid
        if testid not in ("var-boost",):
            assert box["height"] >= 40, f"{testid} is {box['height']} px tall: too small to tap"
    context.close()


def test_without_chromium_a_workstation_skips_and_ci_fails(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    import tests.browser

    monkeypatch.setattr(tests.browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-chromium is missing"):
        tests.browser.need_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no-chromium is missing"):
        tests.browser.need_chromium()


def test_times_are_the_engines_and_rule_lines_read_short(browser: Any, served: Served) -> None:
    from playwright.sync_api import expect

    # A phone in New York looks at an engine whose clock says UTC: the engine's times.
    context = browser.new_context(timezone_id="America/New_York", locale="en-GB")
    page = context.new_page()
    page.goto(served.url + "/")
    journal = _tile(page).get_by_test_id("journal")
    expect(journal.locator("li").first).to_contain_text("13:15")
    rule_line = journal.locator("li").last
    expect(rule_line).to_have_text("10:20 start sent solar.evr:4")
    assert rule_line.get_attribute("title", timeout=1000).startswith(
        "start sent <- /etc/evse-rules/solar.evr:4 if mode is auto")
    expect(page.get_by_test_id("foot")).to_contain_text("last tick 13:20")
    context.close()


def test_a_push_keeps_the_field_being_typed_in(page: Any, face: DemoFace) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    field = tile.get_by_test_id("var-note")
    field.click()
    field.press_sequentially("half ty")
    face.charger = replace(face.charger, temp=40.0)
    face.tick(1)
    expect(tile.get_by_test_id("m-temp")).to_have_text("40 °C")
    # The push neither moved the focus nor overwrote what is being typed.
    assert page.evaluate("document.activeElement.dataset.testid") == "var-note"
    page.keyboard.type("ped")
    expect(field).to_have_value("solar onlyhalf typed")


class TwoChargers(DemoFace):
    """A second charger, offline, before the first one in the view's order."""

    def view(self) -> Any:
        shed = replace(self.charger, name="shed", online=False, state="offline",
                       state_text="Offline: no answer within 5 s", error="no answer within 5 s",
                       countdown=None, why="the charger does not answer")
        return replace(super().view(), chargers=[shed, self.charger])


def test_one_tile_per_charger_in_order_an_offline_one_in_red(browser: Any) -> None:
    from playwright.sync_api import expect

    face = TwoChargers()
    with Served(create_app(face, password=None)) as served:
        context = browser.new_context()
        page = context.new_page()
        page.goto(served.url + "/")
        tiles = page.get_by_test_id("tiles").locator("article")
        expect(tiles).to_have_count(2)
        assert [t.get_attribute("data-testid") for t in tiles.all()] == ["tile-shed",
                                                                        "tile-garage"]
        shed = page.get_by_test_id("tile-shed")
        expect(shed.get_by_test_id("state")).to_have_text("Offline: no answer within 5 s")
        expect(shed.get_by_test_id("state")).to_have_class(re.compile("is-offline"))
        expect(shed.get_by_test_id("error")).to_have_text("no answer within 5 s")
        # With several chargers each tile lists its own events: the shed has none.
        expect(shed.get_by_test_id("journal")).to_have_text("nothing yet")
        expect(_tile(page).get_by_test_id("journal")).to_contain_text("amps 16 A")
        shed.get_by_test_id("off").click()
        expect(shed.get_by_test_id("msg-buttons")).to_have_text(
            "no charger named 'shed' (chargers: garage)")
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_light_and_dark_follow_the_system(browser: Any, served: Served, scheme: str) -> None:
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(served.url + "/")
    _tile(page).wait_for()
    colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
    text = page.evaluate("getComputedStyle(document.body).color")
    context.close()
    channels = [int(c) for c in re.findall(r"\d+", colour)[:3]]
    ink = [int(c) for c in re.findall(r"\d+", text)[:3]]
    if scheme == "dark":
        assert max(channels) < 60 and min(ink) > 180, (colour, text)
    else:
        assert min(channels) > 200 and max(ink) < 80, (colour, text)


class NoSamplesFace(DemoFace):
    """An engine that has just started: its series have no point yet."""

    def series(self, hours: float = 24.0) -> list[Series]:
        return [Series("pv", "W", []), Series("garage.power", "W", [])]


def test_a_chart_without_any_sample_says_so_and_the_page_goes_on(browser: Any) -> None:
    # Was: the hour grid counted from an infinite time forever and hung the page.
    from playwright.sync_api import expect

    with Served(create_app(NoSamplesFace(), password=None)) as served:
        context = browser.new_context()
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(served.url + "/")
        tile = page.get_by_test_id("tile-garage")
        expect(tile.get_by_test_id("chart")).to_contain_text("no samples yet")
        expect(tile.get_by_test_id("state")).to_have_text(re.compile(r"\w"))
        context.close()


def test_a_plan_set_shown_and_cancelled_on_the_tile(page: Any, face: DemoFace) -> None:
    from playwright.sync_api import expect

    tile = _tile(page)
    expect(tile.get_by_test_id("plan")).to_have_text("No plan: the rules decide.")
    expect(tile.get_by_test_id("plan-cancel")).to_be_hidden()
    tile.get_by_test_id("plan-energy").fill("20")
    tile.get_by_test_id("plan-by").fill("07:00")
    tile.get_by_test_id("plan-set").click()
    expect(tile.get_by_test_id("msg-plan")).to_contain_text("plan 20 kWh by 07:00")
    expect(tile.get_by_test_id("plan")).to_contain_text("20 kWh by")
    expect(tile.get_by_test_id("plan")).to_contain_text("cost 3.6 · can be met")
    expect(tile.get_by_test_id("plan-slots").locator("li")).to_have_count(1)
    expect(tile.get_by_test_id("plan-slots")).to_contain_text("0.18/kWh · 20 kWh")
    tile.get_by_test_id("plan-cancel").click()
    expect(tile.get_by_test_id("plan")).to_have_text("No plan: the rules decide.")
    assert face.commands[-2:] == [HandCommand("plan", "garage", "20 by 07:00", "dashboard"),
                                  HandCommand("cancel_plan", "garage", None, "dashboard")]
