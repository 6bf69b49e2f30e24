/* The dashboard's charts, drawn as SVG by hand (no library, no network). Each function
   empties its target, draws from the report's JSON as given and returns the number of
   bars drawn (also left on the chart as data-bars). Text goes in with textContent only:
   campaign names are free text. */
"use strict";
(function (root) {
  const NS = "http://www.w3.org/2000/svg";
  const F = root.HuilongFormat;
  const WIDTH = 720;

  function node(name, attrs, text) {
    const n = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs || {})) n.setAttribute(key, String(value));
    if (text !== undefined) n.textContent = text;
    return n;
  }

  function titled(n, text) {
    n.appendChild(node("title", {}, text));
    return n;
  }

  function blank(svg, height, label) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
    return svg;
  }

  function done(svg, bars) {
    svg.setAttribute("data-bars", bars);
    return bars;
  }

  // A vertical rate axis: grid lines and labels at `ticks` (fractions) up to `top`.
  function rateAxis(svg, box, top, ticks) {
    for (const t of ticks) {
      const y = box.y + box.h - (t / top) * box.h;
      svg.appendChild(node("line", { x1: box.x, x2: box.x + box.w, y1: y, y2: y, class: "grid" }));
      svg.appendChild(node("text", { x: box.x - 4, y: y + 4, class: "tick end" },
                           F.rate(t).replace(".0%", "%")));
    }
  }

  function verticalBar(svg, x, width, value, top, box, cls, title) {
    const h = Math.max(0, Math.min(value / top, 1)) * box.h;
    svg.appendChild(titled(node("rect", { x, y: box.y + box.h - h, width, height: h,
                                          class: "bar " + cls }), title));
  }

  /* Connect rate and live-answer rate by hour of the debtor's day (0–23). */
  function hours(svg, rows) {
    const box = { x: 44, y: 10, w: WIDTH - 54, h: 190 };
    blank(svg, 230, "Connect rate and live-answer rate by hour of day");
    rateAxis(svg, box, 1, [0, 0.25, 0.5, 0.75, 1]);
    const slot = box.w / 24;
    let bars = 0;
    for (const row of rows) {
      const x = box.x + row.hour * slot;
      const hour = String(row.hour).padStart(2, "0") + ":00";
      const series = [["connect", row.connect_rate, row.answered, "connect"],
                      ["live", row.live_answer_rate, row.live_answers, "live answer"]];
      series.forEach(([cls, value, part, name], n) => {
        if (value === null) return;
        verticalBar(svg, x + slot * (0.12 + 0.38 * n), slot * 0.36, value, 1, box, cls,
                    `${hour} ${name} rate ${F.rate(value)} (${part} of ${row.attempts})`);
        bars += 1;
      });
    }
    for (let h = 0; h < 24; h += 3) {
      svg.appendChild(node("text", { x: box.x + (h + 0.5) * slot, y: box.y + box.h + 16,
                                     class: "tick middle" }, String(h).padStart(2, "0")));
    }
    return done(svg, bars);
  }

  /* Attempts → connected → right-party contacts → promise calls → promises kept, and
     the money recovered. Bars are in proportion to the attempts. */
  function funnel(svg, total) {
    const steps = [["Attempts", total.attempts], ["Connected", total.answered],
                   ["Right-party contacts", total.right_party_contacts],
                   ["Promise calls", total.promise_calls], ["Promises kept", total.kept]];
    const row = 34, labelW = 170, barW = 380;
    blank(svg, row * (steps.length + 1) + 8, "From attempts to money recovered");
    let bars = 0;
    steps.forEach(([label, value], n) => {
      const y = 6 + n * row;
      const part = F.share(value, total.attempts);
      const w = part === null ? 0 : Math.max(value ? 2 : 0, part * barW);
      svg.appendChild(node("text", { x: labelW - 8, y: y + 18, class: "label end" }, label));
      svg.appendChild(titled(node("rect", { x: labelW, y, width: w, height: row - 8,
                                            class: "bar funnel" }),
                             `${label}: ${F.count(value)}`));
      svg.appendChild(node("text", { x: labelW + w + 6, y: y + 18, class: "label" },
                           n ? `${F.count(value)} (${F.rate(part)} of attempts)` : F.count(value)));
      bars += 1;
    });
    const y = 6 + steps.length * row;
    svg.appendChild(node("text", { x: labelW - 8, y: y + 18, class: "label end" }, "Recovered"));
    svg.appendChild(node("text", { x: labelW, y: y + 18, class: "label money" },
                         F.money(total.recovered_amount)));
    return done(svg, bars);
  }

  function abandonOne(svg, name, rows, days, cap) {
    const box = { x: 44, y: 10, w: WIDTH - 54, h: 130 };
    blank(svg, 170, `Abandon rate per day, ${name}`);
    const peak = Math.max(cap || 0, 0.01, ...rows.map((r) => r.abandon_rate || 0),
                          ...rows.map((r) => r.abandon_rate_30d || 0));
    const top = peak * 1.2;
    rateAxis(svg, box, top, [0, top / 2, top]);
    const slot = box.w / Math.max(days.length, 1);
    const byDay = new Map(rows.map((r) => [r.day, r]));
    const rolling = [];
    let bars = 0;
    days.forEach((day, n) => {
      const r = byDay.get(day);
      const x = box.x + n * slot;
      if (r && r.abandon_rate !== null) {
        const over = cap !== null && r.abandon_rate > cap;
        verticalBar(svg, x + slot * 0.15, Math.max(slot * 0.7, 1), r.abandon_rate, top, box,
                    over ? "abandon over" : "abandon",
                    `${day}: ${F.rate(r.abandon_rate)} (${r.abandoned} of ${r.live_answers}` +
                    ` live answers); 30 days ${F.rate(r.abandon_rate_30d)}`);
        bars += 1;
      }
      if (r && r.abandon_rate_30d !== null) {
        const y = box.y + box.h - (Math.min(r.abandon_rate_30d, top) / top) * box.h;
        rolling.push(`${(x + slot / 2).toFixed(1)},${y.toFixed(1)}`);
      }
      if (n === 0 || n === days.length - 1 || (n % 7 === 0 && days.length - n > 3)) {
        svg.appendChild(node("text", { x: x + slot / 2, y: box.y + box.h + 16,
                                       class: "tick middle" }, day.slice(5)));
      }
    });
    if (rolling.length) {
      svg.appendChild(titled(node("polyline", { points: rolling.join(" "), class: "rolling" }),
                             "rolling 30 days"));
    }
    if (cap !== null) {
      const y = box.y + box.h - (cap / top) * box.h;
      svg.appendChild(titled(node("line", { x1: box.x, x2: box.x + box.w, y1: y, y2: y,
                                            class: "cap" }), `cap ${F.rate(cap)}`));
      svg.appendChild(node("text", { x: box.x + box.w - 2, y: y - 4, class: "tick end cap-label" },
                           `cap ${F.rate(cap)}`));
    }
    return done(svg, bars);
  }

  /* One chart per campaign in the report's `days`: the daily abandon rate (bars, red over
     the cap), the rolling 30-day rate (line) and the campaign's cap (dashed). `names` and
     `caps` by campaign id; a campaign without a known cap has no cap line. */
  function abandon(container, rows, days, names, caps) {
    while (container.firstChild) container.removeChild(container.firstChild);
    const ids = [...new Set(rows.map((r) => r.campaign_id))]
      .sort((a, b) => (a === 0) - (b === 0) || a - b);
    if (!ids.length) {
      container.appendChild(Object.assign(document.createElement("p"), {
        className: "note", textContent: "No live answers in these days or the 30 before." }));
      return 0;
    }
    let bars = 0;
    for (const id of ids) {
      const figure = document.createElement("figure");
      const cap = caps.has(id) ? caps.get(id) : null;
      const caption = document.createElement("figcaption");
      caption.textContent = (names.get(id) || `campaign ${id}`) +
        (cap === null ? " · no cap" : ` · cap ${F.rate(cap)}`);
      const svg = node("svg", { class: "chart abandon-chart", "data-campaign": id });
      figure.append(caption, svg);
      container.appendChild(figure);
      bars += abandonOne(svg, names.get(id) || String(id), rows.filter((r) => r.campaign_id === id),
                         days, cap);
    }
    container.setAttribute("data-bars", bars);
    return bars;
  }

  /* The live agents per state (every state, zero included). */
  function agents(svg, states) {
    const entries = Object.entries(states);
    const row = 26, labelW = 110, barW = 460;
    const most = Math.max(1, ...entries.map(([, n]) => n));
    blank(svg, row * entries.length + 8, "Agents by state");
    entries.forEach(([state, n], i) => {
      const y = 4 + i * row;
      svg.appendChild(node("text", { x: labelW - 8, y: y + 15, class: "label end" },
                           state.replace("_", " ")));
      svg.appendChild(titled(node("rect", { x: labelW, y, width: (n / most) * barW,
                                            height: row - 8, class: "bar state " + state }),
                             `${state}: ${n}`));
      svg.appendChild(node("text", { x: labelW + (n / most) * barW + 6, y: y + 15,
                                     class: "label", "data-agents": state }, String(n)));
    });
    return done(svg, entries.length);
  }

  root.HuilongCharts = { hours, funnel, abandon, agents };
})(window);
