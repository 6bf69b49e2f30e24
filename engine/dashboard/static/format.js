/* How the dashboard writes the report's figures: pure functions, no page, no clock.
   Loaded by the page (window.HuilongFormat) and by tests/unit/test_dashboard_format.py
   under Node (module.exports).

   Rates arrive as fractions (0.25) or null when nothing was there to divide; money as
   decimal strings per currency ({"CNY": "940.00"}), which are only ever printed (their
   digits grouped as text), never turned into numbers. */
"use strict";
(function (root) {
  const NONE = "–";

  function group(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function isNone(value) {
    return value === null || value === undefined;
  }

  function count(value) {
    if (isNone(value)) return NONE;
    return (value < 0 ? "-" : "") + group(String(Math.abs(value)));
  }

  // toFixed rounds the exact binary value half up: 0.5 → "50.0%".
  function rate(value) {
    return isNone(value) ? NONE : (value * 100).toFixed(1) + "%";
  }

  function decimal(text) {
    const parts = /^(-?)(\d+)(\.\d+)?$/.exec(String(text));
    return parts ? parts[1] + group(parts[2]) + (parts[3] || "") : String(text);
  }

  function money(amounts) {
    const currencies = Object.keys(amounts || {}).sort();
    if (!currencies.length) return NONE;
    return currencies.map((c) => c + " " + decimal(amounts[c])).join(" · ");
  }

  function minutes(value) {
    return isNone(value) ? NONE : value.toFixed(1) + " min";
  }

  function seconds(value) {
    return isNone(value) ? NONE : value.toFixed(1) + " s";
  }

  const KINDS = { count, rate, money, minutes, seconds };

  function format(kind, value) {
    if (!Object.prototype.hasOwnProperty.call(KINDS, kind)) {
      throw new Error("no format for " + kind);
    }
    return KINDS[kind](value);
  }

  // The one figure the page shows that the report does not carry as such: the talk
  // time of the calls that ended (talk calls × their average), in minutes.
  const DERIVED = {
    talk_minutes: (row) => (row.talk_calls ? row.talk_calls * row.average_talk_s / 60 : 0),
  };

  function metricValue(row, key) {
    if (Object.prototype.hasOwnProperty.call(DERIVED, key)) return DERIVED[key](row);
    if (!Object.prototype.hasOwnProperty.call(row, key)) {
      throw new Error("the report has no figure " + key);
    }
    return row[key];
  }

  function share(part, whole) {
    return whole ? part / whole : null;
  }

  // Local days as the report names them (YYYY-MM-DD).
  function addDays(day, n) {
    const [y, m, d] = day.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
  }

  function daysFrom(first, end) {
    const days = [];
    for (let day = first; day < end; day = addDays(day, 1)) days.push(day);
    return days;
  }

  const api = { NONE, count, rate, decimal, money, minutes, seconds, format, metricValue,
                share, addDays, daysFrom, DERIVED: Object.keys(DERIVED) };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.HuilongFormat = api;
})(typeof globalThis === "object" ? globalThis : this);
