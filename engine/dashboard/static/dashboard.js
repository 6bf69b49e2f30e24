/* The dashboard page: reads its query from the address (campaign, from, to — not
   included —, tz, refresh), fetches /api/report, the campaigns and the agents, shows
   them, and does it again every `refresh` seconds. Every [data-metric] element shows
   the report's `total` figure of that name (the selected campaign's when one is
   chosen): its text formatted, its data-value the JSON value as received. */
"use strict";
(function () {
  const F = window.HuilongFormat;
  const C = window.HuilongCharts;
  const DEFAULT_REFRESH_S = 30;
  const MIN_REFRESH_S = 1;
  const LOGIN = "/desk/login";

  const params = new URLSearchParams(location.search);
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const query = {
    campaign: params.get("campaign") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
    tz: params.get("tz") || browserZone,
  };
  const refreshS = Math.max(MIN_REFRESH_S, Number(params.get("refresh")) || DEFAULT_REFRESH_S);
  let campaigns = [];
  let campaignsSeen = "";
  let timer = null;
  let updates = 0;

  const $ = (id) => document.getElementById(id);

  async function getJson(url) {
    const reply = await fetch(url, { headers: { Accept: "application/json" },
                                     cache: "no-store", credentials: "same-origin" });
    if (reply.status === 401) {  // the session ended: log in again
      location.assign(LOGIN);
      throw new Error("not logged in");
    }
    const body = await reply.json().catch(() => null);
    if (!reply.ok) throw new Error((body && body.error) || `${url}: HTTP ${reply.status}`);
    return body;
  }

  function reportUrl() {
    const q = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) if (value) q.set(key, value);
    return "/api/report?" + q.toString();
  }

  function showCampaigns(list) {
    const seen = JSON.stringify(list);
    if (seen === campaignsSeen) return;  // rebuild the selector only when it changed
    campaigns = list;
    campaignsSeen = seen;
    const select = $("campaign");
    while (select.options.length > 1) select.remove(1);
    for (const c of list) {
      const option = document.createElement("option");
      option.value = String(c.id);
      option.textContent = c.status === "running" ? `${c.name} (running)` : c.name;
      select.appendChild(option);
    }
    select.value = query.campaign;
  }

  function showFigures(total) {
    for (const el of document.querySelectorAll("[data-metric]")) {
      const value = F.metricValue(total, el.dataset.metric);
      el.dataset.value = JSON.stringify(value);
      el.textContent = F.format(el.dataset.kind, value);
    }
  }

  function showReport(report) {
    const names = new Map(campaigns.map((c) => [c.id, c.name]));
    for (const c of report.campaigns) names.set(c.campaign_id, c.campaign);
    const caps = new Map(campaigns.map((c) => [c.id, c.abandon_cap]));
    const chosen = report.campaign_id === null ? null : names.get(report.campaign_id);
    $("campaign-name").textContent = chosen === null ? "all campaigns" : chosen || "";
    $("range").textContent =
      `${report.from} to ${F.addDays(report.to, -1)} (${report.zone})`;
    $("updated").textContent = new Date(report.generated_at).toLocaleTimeString();
    showFigures(report.total);
    C.hours($("hours-chart"), report.hours);
    C.funnel($("funnel-chart"), report.total);
    C.abandon($("abandon-charts"), report.days, F.daysFrom(report.from, report.to), names, caps);
  }

  function showAgents(result) {
    if (result.status === "fulfilled") {
      $("agents-total").textContent = F.count(result.value.total);
      C.agents($("agents-chart"), result.value.states);
    } else {
      $("agents-total").textContent = result.reason.message;
    }
  }

  async function update() {
    clearTimeout(timer);
    try {
      const [list, report, agents] = await Promise.allSettled([
        getJson("/api/dashboard/campaigns"), getJson(reportUrl()),
        getJson("/api/dashboard/agents")]);
      if (list.status === "fulfilled") showCampaigns(list.value);
      if (report.status === "fulfilled") showReport(report.value);
      showAgents(agents);
      const failed = [list, report].filter((r) => r.status === "rejected");
      $("error").textContent = failed.map((r) => r.reason.message).join("; ");
      if (report.status === "fulfilled") {
        updates += 1;
        document.body.dataset.updates = String(updates);
      }
    } catch (err) {  // a bug in showing what arrived: say so, keep refreshing
      $("error").textContent = String(err);
    } finally {
      timer = setTimeout(update, refreshS * 1000);
    }
  }

  function setUpForm() {
    $("from").value = query.from;
    $("last").value = query.to ? F.addDays(query.to, -1) : "";
    $("tz").value = query.tz;
    $("every").textContent = String(refreshS);
    const zones = typeof Intl.supportedValuesOf === "function"
      ? Intl.supportedValuesOf("timeZone") : ["UTC", browserZone];
    const list = $("zones");
    for (const zone of zones) list.appendChild(Object.assign(document.createElement("option"),
                                                             { value: zone }));
    const form = $("query");
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const q = new URLSearchParams();
      const last = $("last").value;
      const chosen = { campaign: $("campaign").value, from: $("from").value,
                       to: last ? F.addDays(last, 1) : "", tz: $("tz").value.trim() };
      for (const [key, value] of Object.entries(chosen)) if (value) q.set(key, value);
      if (params.has("refresh")) q.set("refresh", params.get("refresh"));
      location.assign("/dashboard?" + q.toString());
    });
    $("campaign").addEventListener("change", () => form.requestSubmit());
    $("refresh-now").addEventListener("click", update);
  }

  setUpForm();
  update();
})();
