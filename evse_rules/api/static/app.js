// The dashboard: one tile per charger, kept live by the server-sent event stream.
// Relative URLs only, so the page works behind a reverse proxy's prefix.
"use strict";

const API = "api/v1/";
const tiles = new Map();      // charger name -> tile state (its elements, countdown, slider)
let seriesCache = [];
let receivedAt = performance.now();

// ---- formatting ----------------------------------------------------------------------------

const dash = "–";
function num(value, digits) {
  return Number(value).toLocaleString([], { maximumFractionDigits: digits });
}
function amps(v) { return v == null ? dash : `${num(v, 1)} A`; }
function volts(v) { return v == null ? dash : `${num(v, 0)} V`; }
function watts(v) {
  if (v == null) return dash;
  return Math.abs(v) >= 1000 ? `${num(v / 1000, 2)} kW` : `${num(v, 0)} W`;
}
function energy(v) {
  if (v == null) return dash;
  return Math.abs(v) >= 1000 ? `${num(v / 1000, 2)} kWh` : `${num(v, 0)} Wh`;
}
function celsius(v) { return v == null ? dash : `${num(v, 1)} °C`; }
function age(seconds) {
  if (seconds == null) return "never read";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${num(seconds / 3600, 1)} h`;
}
function duration(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60), rest = s % 60;
  return rest ? `${m} min ${rest} s` : `${m} min`;
}
// Times are shown in the engine's own time zone (the offset of its `now`), so that a phone
// abroad and a replayed day read like the engine's journal and rule files.
let engineOffsetMinutes = null;
function offsetOf(iso) {
  const match = /([+-])(\d\d):(\d\d)$/.exec(iso);
  if (match) return (match[1] === "-" ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3]));
  return /Z$/.test(iso) ? 0 : null;
}
function clockMs(ms) {
  if (engineOffsetMinutes == null) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  return new Date(ms + engineOffsetMinutes * 60000).toLocaleTimeString([], {
    hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
}
function clock(iso) { return clockMs(Date.parse(iso)); }
window.clockMs = clockMs;
// "starting in 40 s if the surplus holds", 37 s later -> "starting in 3 s if ..."
function countdownText(text, left) {
  const pattern = /\bin \d+(?:\.\d+)?\s*(?:s|min)(?: \d+ s)?\b/;
  if (pattern.test(text)) {
    return text.replace(pattern, left > 0 ? `in ${duration(left)}` : "any moment now");
  }
  return `${text} (${duration(left)})`;
}

// ---- presses -------------------------------------------------------------------------------

function say(element, text, kind) {
  element.textContent = text;
  element.className = `msg ${kind}`;
  element.setAttribute("role", kind === "bad" ? "alert" : "status");
}

async function send(path, body, message, method = "POST") {
  say(message, "sending…", "pending");
  let response;
  try {
    response = await fetch(API + path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Evse-Source": "dashboard" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    say(message, `no answer from evse-rules (${error.message})`, "bad");
    return false;
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok || !data || data.ok === false) {
    const text = (data && (data.detail || data.message)) || `refused (HTTP ${response.status})`;
    say(message, text, "bad");
    return false;
  }
  say(message, data.message || "done", "good");
  return true;
}

// ---- a tile --------------------------------------------------------------------------------

function makeTile(name) {
  const root = document.getElementById("tile-template").content.firstElementChild
    .cloneNode(true);
  root.dataset.testid = `tile-${name}`;
  root.querySelector(".name").textContent = name;
  const q = (id) => root.querySelector(`[data-testid="${id}"]`);
  const tile = { name, root, q, countdown: null, sliderBusy: false, varsKey: "" };
  const path = `chargers/${encodeURIComponent(name)}/`;
  const buttons = q("msg-buttons");
  q("on").addEventListener("click", () => send(path + "start", {}, buttons));
  q("off").addEventListener("click", () => send(path + "stop", {}, buttons));
  q("manual").addEventListener("click", () => send(path + "mode", { mode: "manual" }, buttons));
  q("auto").addEventListener("click", () => send(path + "mode", { mode: "auto" }, buttons));
  q("release").addEventListener("click", () => send(path + "release", {}, buttons));
  // A charge plan: "20 kWh by 07:00" (a bare number is kWh), or cancelled.
  q("plan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const energyText = q("plan-energy").value.trim();
    const energyValue = /^[0-9]+([.,][0-9]+)?$/.test(energyText)
      ? Number(energyText.replace(",", ".")) : energyText;
    send(path + "plan", { energy: energyValue, by: q("plan-by").value }, q("msg-plan"));
  });
  q("plan-cancel").addEventListener("click",
    () => send(path + "plan", undefined, q("msg-plan"), "DELETE"));
  const slider = q("amps-slider");
  // The value shows while dragging; the command goes once, on release.
  slider.addEventListener("input", () => {
    tile.sliderBusy = true;
    q("amps-value").textContent = `${slider.value} A`;
  });
  slider.addEventListener("change", async () => {
    await send(path + "amps", { amps: Number(slider.value) }, q("msg-amps"));
    tile.sliderBusy = false;
  });
  return tile;
}

function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

function renderTile(tile, charger, view) {
  const { q } = tile;
  tile.root.classList.toggle("offline", !charger.online);
  tile.root.classList.toggle("charging", charger.charging);
  const badge = q("state");
  const offline = !charger.online && !/^offline/i.test(charger.state_text);
  setText(badge, offline ? `Offline: ${charger.state_text}` : charger.state_text);
  badge.className = `state ${charger.charging ? "is-charging"
    : charger.online ? "is-" + charger.state : "is-offline"}`;
  const error = q("error");
  error.hidden = !charger.error;
  setText(error, charger.error || "");
  setText(q("m-vehicle"), charger.vehicle == null ? "unknown"
    : charger.vehicle ? "connected" : "not connected");
  setText(q("m-current"), amps(charger.current));
  setText(q("m-setpoint"), amps(charger.setpoint ?? charger.amps));
  setText(q("m-voltage"), volts(charger.voltage));
  setText(q("m-power"), watts(charger.power));
  setText(q("m-energy"), energy(charger.session_energy));
  setText(q("m-temp"), celsius(charger.temp));
  setText(q("block"), charger.block || "none");
  for (const mode of ["manual", "auto"]) {
    const button = q(mode);
    button.setAttribute("aria-pressed", String(charger.mode === mode));
  }
  q("on").classList.toggle("current", charger.enabled === true);
  q("off").classList.toggle("current", charger.enabled === false);

  const slider = q("amps-slider");
  slider.min = String(charger.min_amps);
  slider.max = String(charger.max_amps);
  setText(q("amps-min"), `${charger.min_amps} A`);
  setText(q("amps-max"), `${charger.max_amps} A`);
  if (!tile.sliderBusy) {
    const value = Math.round(charger.setpoint ?? charger.amps ?? charger.min_amps);
    slider.value = String(value);
    setText(q("amps-value"), `${value} A`);
  }
  tile.countdown = charger.countdown
    ? { text: charger.countdown.text, deadline: receivedAt + charger.countdown.seconds * 1000 }
    : null;
  tile.why = charger.why;
  renderWhy(tile);
  renderPlan(tile, charger.plan);
  renderVariables(tile, view.variables);
  const stale = view.inputs.filter((input) => input.stale);
  const staleLine = q("stale");
  staleLine.hidden = !stale.length;
  setText(staleLine, stale.map((input) => `${input.name}: stale, ${age(input.age_seconds)}`)
    .join(" · "));
}

function kwh(v) { return `${num(v, 1)} kWh`; }

function renderPlan(tile, plan) {
  const { q } = tile;
  q("plan-cancel").hidden = !plan;
  const list = q("plan-slots");
  if (!plan) {
    setText(q("plan"), "No plan: the rules decide.");
    list.replaceChildren();
    return;
  }
  const cost = plan.cost == null ? "" : ` · cost ${num(plan.cost, 2)}`;
  const verdict = plan.can_meet === false ? "CANNOT be met: full power until then"
    : plan.can_meet ? "can be met" : "being planned";
  setText(q("plan"), `${kwh(plan.energy_kwh)} by ${clock(plan.deadline)} · charged `
    + `${kwh(plan.charged_kwh)}${cost} · ${verdict}. ${plan.state}`);
  q("plan").classList.toggle("bad", plan.can_meet === false);
  const key = JSON.stringify(plan.slots);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...plan.slots.map((slot) => {
    const item = document.createElement("li");
    const price = slot.price == null ? "no price" : `${num(slot.price, 3)}/kWh`;
    item.textContent = `${clock(slot.start)}–${clock(slot.end)} · ${price} · `
      + kwh(slot.energy_kwh);
    return item;
  }));
}

function renderWhy(tile) {
  const why = tile.q("why");
  if (tile.countdown) {
    const left = (tile.countdown.deadline - performance.now()) / 1000;
    setText(why, countdownText(tile.countdown.text, left));
    why.title = tile.why;
  } else {
    setText(why, tile.why || "");
    why.title = "";
  }
}

// ---- user variables, edited by type --------------------------------------------------------

function renderVariables(tile, variables) {
  const box = tile.q("variables");
  const key = variables.map((v) => `${v.name}:${v.type}:${v.unit}`).join("|");
  if (key !== tile.varsKey) {
    tile.varsKey = key;
    box.replaceChildren(...variables.map((v) => variableControl(v)));
  }
  tile.q("variables").closest("section").hidden = !variables.length;
  for (const v of variables) {
    const input = box.querySelector(`[data-testid="var-${CSS.escape(v.name)}"]`);
    if (!input || document.activeElement === input || input.dataset.sending) continue;
    if (v.type === "boolean") input.checked = v.value === true;
    else input.value = v.value == null ? "" : String(v.value);
  }
}

function variableControl(v) {
  const form = document.createElement("form");
  form.className = `var var-${v.type}`;
  const message = document.createElement("p");
  message.className = "msg";
  message.dataset.testid = `msg-var-${v.name}`;
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.dataset.testid = `var-${v.name}`;
  input.name = v.name;
  const path = `variables/${encodeURIComponent(v.name)}`;
  const submit = async (value) => {
    input.dataset.sending = "1";
    await send(path, { value }, message);
    delete input.dataset.sending;
  };
  if (v.type === "boolean") {
    input.type = "checkbox";
    input.setAttribute("role", "switch");
    label.className = "switch";
    label.append(input, document.createTextNode(` ${v.name}`));
    input.addEventListener("change", () => submit(input.checked));
    form.append(label, message);
  } else {
    label.textContent = v.name + " ";
    input.type = v.type === "number" ? "number" : "text";
    if (v.type === "number") input.step = "any";
    label.appendChild(input);
    if (v.unit) {
      const unit = document.createElement("span");
      unit.className = "unit";
      unit.textContent = v.unit;
      label.appendChild(unit);
    }
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "btn small";
    save.textContent = "Set";
    save.dataset.testid = `set-${v.name}`;
    save.setAttribute("aria-label", `Set ${v.name}`);
    form.append(label, save, message);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (v.type !== "number") { submit(input.value); return; }
      if (input.value.trim() === "" || !Number.isFinite(Number(input.value))) {
        say(message, `${v.name}: enter a number${v.unit ? " of " + v.unit : ""}`, "bad");
        return;
      }
      submit(Number(input.value));
    });
  }
  return form;
}

// ---- the whole page ------------------------------------------------------------------------

function render(view) {
  receivedAt = performance.now();
  const offset = offsetOf(view.now);
  const offsetChanged = offset !== engineOffsetMinutes;
  engineOffsetMinutes = offset;
  window.engineOffsetMs = (offset || 0) * 60000;
  const main = document.getElementById("tiles");
  const names = new Set(view.chargers.map((c) => c.name));
  for (const [name, tile] of tiles) {
    if (!names.has(name)) { tile.root.remove(); tiles.delete(name); }
  }
  view.chargers.forEach((charger, index) => {
    let tile = tiles.get(charger.name);
    if (!tile) {
      tile = makeTile(charger.name);
      tiles.set(charger.name, tile);
      drawTileChart(tile);
    }
    // The view's order, moving a tile only when it is out of place: a moved tile would lose
    // the focus of a field being typed in (and a phone its keyboard) at every push.
    if (main.children[index] !== tile.root) {
      main.insertBefore(tile.root, main.children[index] || null);
    }
    renderTile(tile, charger, view);
  });
  if (offsetChanged) for (const tile of tiles.values()) drawTileChart(tile);
  renderSite(view.site);
  const banner = document.querySelector('[data-testid="rules-error"]');
  banner.hidden = !view.rules.error;
  setText(banner, view.rules.error ? `Rules not running: ${view.rules.error}` : "");
  const last = view.last_tick ? `last tick ${clock(view.last_tick)}` : "no tick yet";
  // The rule files by name (their folders are the box's business: in the tooltip).
  const foot = document.querySelector('[data-testid="foot"]');
  setText(foot,
    `evse-rules ${view.version} · ${last} · every ${duration(view.tick_seconds)} · rules: `
    + (view.rules.files.map((file) => file.split(/[\\/]/).pop()).join(", ") || "none"));
  foot.title = view.rules.files.join("\n");
  loadJournals();
}

// The supply the chargers share ([site]): its limit, the house's load, the room left.
function renderSite(site) {
  const line = document.querySelector('[data-testid="site"]');
  line.hidden = !site;
  if (!site) return;
  const limit = [site.max_amps != null ? amps(site.max_amps) : null,
    site.max_power != null ? watts(site.max_power) : null].filter(Boolean).join(" and ");
  const parts = [`Supply ${limit}`];
  if (site.fallback) {
    parts.push("meter silent: the chargers get the fallback");
  } else if (site.house_w != null) {
    parts.push(`house ${watts(site.house_w)}`);
    if (site.room_amps != null) parts.push(`${amps(Math.max(site.room_amps, 0))} left for the chargers`);
    else if (site.room_w != null) parts.push(`${watts(Math.max(site.room_w, 0))} left for the chargers`);
  }
  if (site.paused.length) parts.push(`paused by the supply: ${site.paused.join(", ")}`);
  setText(line, parts.join(" · "));
  line.title = site.text;
  line.classList.toggle("tight", site.fallback || site.paused.length > 0);
}

let journalTimer = null;
function loadJournals() {
  // A burst of changes (a press, then the tick) fetches the journals once.
  clearTimeout(journalTimer);
  journalTimer = setTimeout(async () => {
    // One charger: every event (inputs, variables) belongs on its tile; several: its own.
    const several = tiles.size > 1;
    for (const tile of tiles.values()) {
      const only = several ? `&charger=${encodeURIComponent(tile.name)}` : "";
      try {
        const response = await fetch(`${API}journal?limit=8${only}`,
          { credentials: "same-origin" });
        if (!response.ok) continue;
        renderJournal(tile, (await response.json()).entries);
      } catch { /* the stream's status line says the server is away */ }
    }
  }, 150);
}

function renderJournal(tile, entries) {
  const list = tile.q("journal");
  list.replaceChildren(...entries.map((entry) => {
    const item = document.createElement("li");
    item.className = `kind-${entry.kind}`;
    const time = document.createElement("time");
    time.dateTime = entry.at;
    time.textContent = clock(entry.at);
    // "set_current 7 A sent <- /etc/evse/solar.evr:29 if ..." reads "set_current 7 A sent"
    // with "solar.evr:29" beside it; the whole line is the tooltip.
    const [said] = entry.text.split(" <- ");
    item.title = entry.text;
    item.append(time, document.createTextNode(` ${said}`));
    if (entry.source) {
      const source = document.createElement("span");
      source.className = "source";
      source.textContent = entry.source.split("/").pop();
      item.append(" ", source);
    }
    return item;
  }));
  if (!entries.length) list.innerHTML = "<li>nothing yet</li>";
}

function drawTileChart(tile) {
  window.drawChart(tile.q("chart"), seriesCache, [
    { key: "pv", label: "PV", cls: "pv" },
    { key: "house", label: "House", cls: "house" },
    { key: `${tile.name}.power`, label: "EV power", cls: "ev" },
    { key: `${tile.name}.amps`, label: "Current (A)", cls: "amps", axis: "A" },
  ]);
}

async function loadSeries() {
  try {
    const response = await fetch(`${API}series?hours=24`, { credentials: "same-origin" });
    if (response.ok) {
      seriesCache = (await response.json()).series;
      for (const tile of tiles.values()) drawTileChart(tile);
    }
  } catch { /* kept until the next try */ }
}

// ---- the live connection -------------------------------------------------------------------

function setConnection(text, ok) {
  const element = document.querySelector('[data-testid="conn"]');
  setText(element, text);
  element.classList.toggle("down", !ok);
}

let retryMs = 1000;
function connect() {
  const source = new EventSource(API + "stream", { withCredentials: true });
  source.addEventListener("state", (event) => {
    retryMs = 1000;
    setConnection("live", true);
    render(JSON.parse(event.data));
  });
  source.addEventListener("error", () => {
    setConnection("reconnecting…", false);
    // The browser retries by itself unless the server answered an error: then we do.
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    }
  });
}

setInterval(() => { for (const tile of tiles.values()) if (tile.countdown) renderWhy(tile); },
  250);
setInterval(loadSeries, 60000);
loadSeries();
connect();
