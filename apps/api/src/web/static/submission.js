/* global document, window, fetch, DOMParser, EventSource, setInterval, clearInterval */
// Live status for the submission page. The server-sent events stream (`timeline`, `queue`, `end`)
// updates the status, the timeline and the queue place as they happen; when the submission is
// final, the page's status section is fetched again so the failure explanation, scores and plots
// appear without a reload. If the stream is unavailable, the JSON status is polled instead.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var id = live.getAttribute("data-submission");
  // The API scope of the competition this page belongs to (layout.eta).
  var API_BASE = document.body.getAttribute("data-api-base") || "/api/v1";
  var LABELS = {
    received: "Received",
    queued: "Queued",
    running: "Running",
    scoring: "Scoring",
    scored: "Scored",
    failed: "Failed",
    cancelled: "Cancelled",
  };
  var FINAL = { scored: true, failed: true, cancelled: true };
  var source = null;
  var pollTimer = null;
  var refreshed = false;

  function el(id) {
    return document.getElementById(id);
  }

  function wireCancel() {
    var button = el("cancel");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      el("cancel-status").textContent = "Cancelling…";
      fetch(API_BASE + "/submissions/" + encodeURIComponent(id) + "/cancel", {
        method: "POST",
        credentials: "same-origin",
        headers: { accept: "application/json" },
      })
        .then(function (res) {
          if (res.ok) {
            el("cancel-status").textContent = "Cancellation requested.";
            return;
          }
          return res.json().then(function (p) {
            el("cancel-status").textContent = (p && p.detail) || "Could not cancel.";
            button.disabled = false;
          });
        })
        .catch(function () {
          el("cancel-status").textContent = "Could not reach the server.";
          button.disabled = false;
        });
    });
  }

  function setState(state) {
    var badge = el("state");
    if (!badge || !LABELS[state]) return;
    badge.textContent = LABELS[state];
    badge.className = "state state-" + state;
    live.setAttribute("data-state", state);
    if (state !== "queued" && el("queue")) el("queue").hidden = true;
  }

  function addEvent(e) {
    var list = el("timeline");
    if (!list || (e.id != null && list.querySelector('[data-event-id="' + String(e.id) + '"]'))) return;
    var li = document.createElement("li");
    if (e.id != null) li.setAttribute("data-event-id", String(e.id));
    var time = document.createElement("time");
    time.setAttribute("datetime", e.at);
    time.textContent = new Date(e.at).toUTCString().replace("GMT", "UTC");
    li.appendChild(time);
    li.appendChild(document.createTextNode(" · "));
    var strong = document.createElement("strong");
    strong.textContent = LABELS[e.state] || e.state;
    li.appendChild(strong);
    if (e.worker) {
      var w = document.createElement("span");
      w.className = "meta";
      w.textContent = "worker " + e.worker;
      li.appendChild(document.createTextNode(" · "));
      li.appendChild(w);
    }
    if (e.detail) {
      var d = document.createElement("div");
      d.className = "meta";
      d.textContent = e.detail;
      li.appendChild(d);
    }
    list.appendChild(li);
  }

  function setQueue(q) {
    var box = el("queue");
    if (!box) return;
    if (q.position == null) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    el("queue-position").textContent = String(q.position);
    el("queue-eta").textContent = q.estimatedStartAt
      ? " · estimated start around " +
        new Date(q.estimatedStartAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
      : "";
  }

  // The final page section: failure explanation, scores, plots, logs.
  function refresh() {
    if (refreshed) return;
    refreshed = true;
    fetch(window.location.pathname, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then(function (res) {
        return res.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (next) {
          live.replaceWith(document.importNode(next, true));
          live = el("live");
        }
      })
      .catch(function () {
        refreshed = false;
      });
  }

  function poll() {
    fetch(API_BASE + "/submissions/" + encodeURIComponent(id), {
      credentials: "same-origin",
      headers: { accept: "application/json" },
    })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (s) {
        if (!s) return;
        if (s.state !== live.getAttribute("data-state")) setState(s.state);
        if (typeof s.queuePosition === "number")
          setQueue({ position: s.queuePosition, estimatedStartAt: s.estimatedStartAt });
        if (FINAL[s.state]) {
          clearInterval(pollTimer);
          refresh();
        }
      })
      .catch(function () {
        /* try again at the next tick */
      });
  }

  function startPolling() {
    if (pollTimer) return;
    document.body.setAttribute("data-live", "polling");
    pollTimer = setInterval(poll, 2000);
    poll();
  }

  if (live.getAttribute("data-final") === "true") return;
  wireCancel();
  if (!window.EventSource) {
    startPolling();
    return;
  }
  source = new EventSource(API_BASE + "/submissions/" + encodeURIComponent(id) + "/events");
  source.addEventListener("timeline", function (m) {
    // Which way the page is being kept live, for whoever debugs it (and the browser test).
    document.body.setAttribute("data-live", "events");
    var e = JSON.parse(m.data);
    addEvent(e);
    setState(e.state);
  });
  source.addEventListener("queue", function (m) {
    setQueue(JSON.parse(m.data));
  });
  source.addEventListener("end", function (m) {
    source.close();
    var end = JSON.parse(m.data);
    if (end && end.state) setState(end.state);
    refresh();
  });
  source.addEventListener("error", function () {
    // CLOSED: the stream is not available (not an event stream, refused); CONNECTING: the
    // browser retries by itself.
    if (source.readyState === EventSource.CLOSED) startPolling();
  });
})();
