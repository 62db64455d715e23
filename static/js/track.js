/*
 * Lead scoring website tracking. No dependencies; include it with your site key:
 *
 *   <script src="https://YOUR-SERVER/static/js/track.js" data-site-key="KEY" defer></script>
 *
 * It records a page view on load, keeps an anonymous visitor id in localStorage, and offers
 *   leadscoring.page()                      another page view (single-page apps)
 *   leadscoring.track(name, properties)     a custom event, e.g. track("download", {file: "x.pdf"})
 *   leadscoring.identify(email)             link this visitor (and its earlier visits) to a lead
 *   leadscoring.consent(true | false)       see data-consent below
 * With data-consent="required" on the script tag nothing is recorded, sent or stored (not even the
 * visitor id) until the site calls leadscoring.consent(true), e.g. from its cookie banner on every
 * page load; the page view of the current page is recorded then. consent(false) stops tracking
 * and forgets the visitor id.
 * Forms marked with data-leadscoring-identify identify the visitor by their e-mail field on submit.
 * Calls made before the script loaded can be queued in window.leadscoringQueue as [name, ...args].
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.leadscoring) return;
  var siteKey = script.getAttribute("data-site-key");
  if (!siteKey) {
    console.warn("leadscoring: the script tag needs data-site-key");
    return;
  }
  var endpoint =
    script.getAttribute("data-endpoint") ||
    new URL("/t/" + encodeURIComponent(siteKey) + "/collect/", script.src).href;
  var STORAGE_KEY = "leadscoring_vid";
  var MAX_EVENTS = 50;
  var queue = [];
  var timer = null;
  var consented = script.getAttribute("data-consent") !== "required";
  var autoPage = script.getAttribute("data-auto-page") !== "false";
  var pageSent = false;

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function visitorId() {
    var id = null;
    try {
      id = localStorage.getItem(STORAGE_KEY);
      if (!id) {
        id = randomId();
        localStorage.setItem(STORAGE_KEY, id);
      }
    } catch (e) {
      // Storage blocked (private mode, policy): one id per page load is the best we can do.
      id = id || window.__leadscoringVid || (window.__leadscoringVid = randomId());
    }
    return id;
  }

  function send(events, useBeacon) {
    // text/plain keeps the request "simple": no CORS preflight, no cookies needed.
    var body = JSON.stringify({ visitor_id: visitorId(), events: events });
    if (useBeacon && navigator.sendBeacon) {
      if (navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain" }))) {
        return Promise.resolve(true);
      }
    }
    return fetch(endpoint, {
      method: "POST",
      body: body,
      headers: { "Content-Type": "text/plain" },
      credentials: "omit",
      mode: "cors",
      keepalive: true,
    }).then(
      function (response) {
        if (!response.ok) console.warn("leadscoring: beacon refused (" + response.status + ")");
        if (response.status === 200) {
          // Some events were refused (the others are stored): say which and why.
          response.json().then(function (answer) {
            (answer.rejected || []).forEach(function (r) {
              console.warn("leadscoring: event refused: " + r.error);
            });
          });
        }
        return response.ok;
      },
      function () {
        return false;
      }
    );
  }

  function flush(useBeacon) {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    var sent = [];
    while (queue.length) sent.push(send(queue.splice(0, MAX_EVENTS), useBeacon));
    return Promise.all(sent).then(function (results) {
      return results.every(Boolean);
    });
  }

  function push(event) {
    if (!consented) return;
    event.id = randomId();
    queue.push(event);
    if (!timer) timer = setTimeout(flush, 300);
  }

  function page() {
    pageSent = consented;
    push({
      type: "page_view",
      url: location.href,
      title: document.title,
      referrer: document.referrer,
    });
  }

  var api = {
    page: page,
    track: function (name, properties) {
      push({
        type: "event",
        name: String(name),
        properties: properties || {},
        url: location.href,
        title: document.title,
      });
    },
    identify: function (email) {
      push({ type: "identify", email: String(email || "").trim() });
      return flush(false);
    },
    flush: function () {
      return flush(false);
    },
    consent: function (given) {
      consented = given === true;
      if (!consented) {
        queue = [];
        try {
          localStorage.removeItem(STORAGE_KEY);
        } catch (e) {
          // Storage blocked: nothing was kept there.
        }
        window.__leadscoringVid = null;
      } else if (autoPage && !pageSent) {
        page();
      }
    },
    visitorId: visitorId,
  };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-leadscoring-identify")) return;
    var field = form.querySelector('input[type="email"], input[name="email"]');
    if (field && field.value) {
      api.track("form_submit", { form: form.getAttribute("name") || form.id || "" });
      push({ type: "identify", email: field.value.trim() });
      flush(true);
    }
  }, true);
  window.addEventListener("pagehide", function () {
    if (queue.length) flush(true);
  });

  window.leadscoring = api;
  var early = window.leadscoringQueue || [];
  for (var i = 0; i < early.length; i++) {
    var call = early[i];
    if (api[call[0]]) api[call[0]].apply(null, call.slice(1));
  }
  if (autoPage) page();
})();
