/*
 * rtk-collector.js: reports WebRTC getStats() and lifecycle events of one peer to the
 * rtk-sessions ingestion API (docs/ingest.md, docs/collector.md). No dependencies.
 *
 * Classic script:  <script src="rtk-collector.js"></script>  ->  window.RTKCollector
 * ES module:       import { RTKCollector } from "./rtk-collector.mjs";
 *
 *   const c = RTKCollector.start({ endpoint, token, meetingId, participant, intervalMs: 2000 });
 *   c.addPeerConnection(pc, { connectionId: "pc_0", transport: null, labels: [...] });
 *   c.setLabels("pc_0", [...]);
 *   await c.leave();
 */
(function (root) {
  "use strict";

  var VERSION = "0.1.0";
  var KEEP_TYPES = {
    "inbound-rtp": 1, "outbound-rtp": 1, "remote-inbound-rtp": 1, "remote-outbound-rtp": 1,
    "candidate-pair": 1, "local-candidate": 1, "remote-candidate": 1, "transport": 1,
    "codec": 1, "media-source": 1
  };
  var STORE_PREFIX = "rtkc:q:";

  function nowMs() { return Date.now(); }

  function randomId(n) {
    var s = "";
    var c = root.crypto;
    if (c && c.getRandomValues) {
      var a = new Uint8Array(n);
      c.getRandomValues(a);
      for (var i = 0; i < n; i++) s += (a[i] % 36).toString(36);
      return s;
    }
    for (var j = 0; j < n; j++) s += Math.floor(Math.random() * 36).toString(36);
    return s;
  }

  function uuid() {
    if (root.crypto && typeof root.crypto.randomUUID === "function") return root.crypto.randomUUID();
    return randomId(8) + "-" + randomId(4) + "-" + randomId(4) + "-" + randomId(4) + "-" + randomId(12);
  }

  function pickStorage(kind) {
    try {
      var s = kind === "local" ? root.localStorage : root.sessionStorage;
      if (!s) return null;
      var k = "rtkc:probe";
      s.setItem(k, "1");
      s.removeItem(k);
      return s;
    } catch (e) { return null; }
  }

  /** Only the stats types (all their fields) the server uses. */
  function filterStats(report) {
    var out = [];
    report.forEach(function (s) {
      if (!KEEP_TYPES[s.type]) return;
      var o = {};
      for (var k in s) {
        var v = s[k];
        if (typeof v === "function") continue;
        o[k] = v;
      }
      out.push(o);
    });
    return out;
  }

  function deviceKey(d) { return d.kind + "|" + d.deviceId; }
  function deviceKind(kind) {
    return kind === "audioinput" ? "audio" : kind === "videoinput" ? "video" :
      kind === "audiooutput" ? "speaker" : null;
  }

  function Collector(opts) {
    if (!opts || !opts.endpoint) throw new Error("RTKCollector.start: endpoint is required");
    this.opts = opts;
    this.endpoint = opts.endpoint;
    this.token = opts.token || null;
    this.peerId = opts.peerId || uuid();
    this.instance = randomId(6);
    this.seq = 0;
    this.intervalMs = opts.intervalMs || 2000;
    this.flushMs = opts.flushMs || Math.min(this.intervalMs, 2000);
    this.maxBatch = opts.maxBatch || 500;
    this.backoffBaseMs = opts.backoffBaseMs || 500;
    this.backoffMaxMs = opts.backoffMaxMs || 30000;
    this.onError = opts.onError || null;
    this.queue = [];          // events not yet acknowledged, in order (the head may be in flight)
    this.inflight = 0;        // number of queue head events in the current request
    this.attempt = 0;
    this.retryAt = 0;
    this.pcs = [];
    this.timers = [];
    this.listeners = [];
    this.left = false;
    this.knownDevices = null;
    this.counters = { sent: 0, acked: 0, ackedStats: 0, failedRequests: 0, dropped: 0 };
    this.storage = opts.storage === false ? null :
      pickStorage(opts.storage === "local" ? "local" : "session") || pickStorage("local");
    this.storeKey = STORE_PREFIX + this.peerId + ":" + this.instance;
    this._resumeLeftovers();
    this._emit("peer.joined", this._joinFields());
    this._sendMetadata();
    this._watchPage();
    this._watchDevices();
    var self = this;
    this.timers.push(setInterval(function () { self._pollAll(); }, this.intervalMs));
    this.timers.push(setInterval(function () { self.flush(); }, this.flushMs));
    this.flush();
  }

  Collector.prototype._joinFields = function () {
    var o = this.opts, f = {};
    if (o.meetingId) f.meeting_id = o.meetingId;
    if (o.meetingTitle) f.meeting_title = o.meetingTitle;
    if (o.sessionId) f.session_id = o.sessionId;
    if (o.participant) f.participant = o.participant;
    if (o.socketSessionId) f.socket_session_id = o.socketSessionId;
    return f;
  };

  // ------------------------------------------------------------------ events
  Collector.prototype._emit = function (type, fields) {
    if (this.left && type !== "peer.left") return null;
    var ev = { id: this.peerId + "-" + this.instance + "-" + (++this.seq), type: type,
      timestamp: nowMs(), peer_id: this.peerId };
    for (var k in fields) if (Object.prototype.hasOwnProperty.call(fields, k)) ev[k] = fields[k];
    this.queue.push(ev);
    this._persist();
    if (this.queue.length - this.inflight >= this.maxBatch) this.flush();
    return ev;
  };

  Collector.prototype.event = function (name, metadata) {
    return this._emit("peer.event", metadata ? { name: name, metadata: metadata } : { name: name });
  };

  Collector.prototype._sendMetadata = function () {
    var n = root.navigator || {};
    var md = { user_agent: n.userAgent || null, sdk_name: this.opts.sdkName || "rtk-collector",
      sdk_version: this.opts.sdkVersion || VERSION, sdk_type: this.opts.sdkType || "web" };
    var di = {};
    if (n.hardwareConcurrency) di.cpus = n.hardwareConcurrency;
    if (n.userAgentData && typeof n.userAgentData.mobile === "boolean") di.is_mobile = n.userAgentData.mobile;
    if (n.deviceMemory) di.memory = n.deviceMemory;
    md.device_info = di;
    var conn = n.connection;
    if (conn && conn.effectiveType) md.pc_metadata = { effective_network_type: conn.effectiveType };
    if (this.opts.metadata) for (var k in this.opts.metadata) md[k] = this.opts.metadata[k];
    this._emit("peer.metadata", md);
  };

  // ------------------------------------------------------------------ peer connections
  Collector.prototype.addPeerConnection = function (pc, o) {
    o = o || {};
    var self = this;
    var entry = { pc: pc, connectionId: o.connectionId || ("pc_" + this.pcs.length),
      transport: o.transport === undefined ? null : o.transport, labels: o.labels || null,
      polling: false, closedReported: false };
    this.pcs.push(entry);
    function onIce() {
      self.event("ice_connection_state", { connection_id: entry.connectionId, state: pc.iceConnectionState });
    }
    function onConn() {
      self.event("connection_state", { connection_id: entry.connectionId, state: pc.connectionState });
      if (pc.connectionState === "connected") self._poll(entry);
    }
    pc.addEventListener("iceconnectionstatechange", onIce);
    pc.addEventListener("connectionstatechange", onConn);
    entry.unlisten = function () {
      pc.removeEventListener("iceconnectionstatechange", onIce);
      pc.removeEventListener("connectionstatechange", onConn);
    };
    return entry.connectionId;
  };

  Collector.prototype.removePeerConnection = function (pcOrId) {
    var self = this;
    this.pcs = this.pcs.filter(function (e) {
      if (e.pc === pcOrId || e.connectionId === pcOrId) {
        self._poll(e);
        if (e.unlisten) e.unlisten();
        return false;
      }
      return true;
    });
  };

  /** setLabels(connectionIdOrPc, labels) or setLabels(labels) for every connection. */
  Collector.prototype.setLabels = function (target, labels) {
    if (labels === undefined) { labels = target; target = null; }
    this.pcs.forEach(function (e) {
      if (target === null || e.pc === target || e.connectionId === target) e.labels = labels;
    });
  };

  Collector.prototype._poll = function (entry) {
    var self = this;
    if (entry.polling || this.left) return Promise.resolve();
    if (entry.pc.connectionState === "closed" || entry.pc.signalingState === "closed") {
      if (entry.closedReported) return Promise.resolve();
      entry.closedReported = true;
    }
    entry.polling = true;
    return entry.pc.getStats().then(function (report) {
      entry.polling = false;
      var stats = filterStats(report);
      if (!stats.length) return;
      var f = { connection_id: entry.connectionId, transport: entry.transport, stats: stats };
      if (entry.labels) f.labels = entry.labels;
      self._emit("peer.stats", f);
    }, function (err) {
      entry.polling = false;
      self._error("getStats", err);
    });
  };

  Collector.prototype._pollAll = function () {
    var ps = [];
    for (var i = 0; i < this.pcs.length; i++) ps.push(this._poll(this.pcs[i]));
    return Promise.all(ps);
  };

  // ------------------------------------------------------------------ page + devices
  Collector.prototype._on = function (target, name, fn) {
    if (!target || !target.addEventListener) return;
    target.addEventListener(name, fn);
    this.listeners.push([target, name, fn]);
  };

  Collector.prototype._watchPage = function () {
    var self = this, doc = root.document, n = root.navigator || {};
    this._on(doc, "visibilitychange", function () {
      self.event("visibility_change", { state: doc.visibilityState });
    });
    this._on(root, "online", function () { self.event("network_change", { online: true }); self.flush(); });
    this._on(root, "offline", function () { self.event("network_change", { online: false }); });
    if (n.connection) {
      this._on(n.connection, "change", function () {
        var c = n.connection;
        self.event("network_change", { effective_type: c.effectiveType || null,
          type: c.type || null, downlink: c.downlink == null ? null : c.downlink,
          rtt: c.rtt == null ? null : c.rtt });
      });
    }
    this._on(root, "pagehide", function () { self._pagehide(); });
  };

  Collector.prototype._watchDevices = function () {
    var self = this, md = root.navigator && root.navigator.mediaDevices;
    if (!md || !md.enumerateDevices) return;
    var check = function () {
      return md.enumerateDevices().then(function (list) {
        var now = {};
        list.forEach(function (d) { if (deviceKind(d.kind)) now[deviceKey(d)] = d; });
        var before = self.knownDevices;
        self.knownDevices = now;
        var diff = { audio: { added: [], removed: [] }, video: { added: [], removed: [] },
          speaker: { added: [], removed: [] } };
        var k;
        for (k in now) if (!before || !before[k]) diff[deviceKind(now[k].kind)].added.push(now[k]);
        if (before) for (k in before) if (!now[k]) diff[deviceKind(before[k].kind)].removed.push(before[k]);
        var asDev = function (d) { return { device_id: d.deviceId, kind: d.kind, label: d.label || "" }; };
        ["audio", "video", "speaker"].forEach(function (kind) {
          var x = diff[kind];
          if (x.added.length || x.removed.length) {
            self._emit("peer.devices", { kind: kind, added: x.added.map(asDev), removed: x.removed.map(asDev) });
          }
        });
      }, function (err) { self._error("enumerateDevices", err); });
    };
    this._checkDevices = check;
    check();
    this._on(md, "devicechange", check);
  };

  // ------------------------------------------------------------------ delivery
  Collector.prototype._url = function (withToken) {
    if (!withToken || !this.token) return this.endpoint;
    return this.endpoint + (this.endpoint.indexOf("?") >= 0 ? "&" : "?") + "token=" + encodeURIComponent(this.token);
  };

  Collector.prototype._persist = function () {
    if (!this.storage) return;
    try {
      if (this.queue.length) {
        this.storage.setItem(this.storeKey, JSON.stringify({ endpoint: this.endpoint, token: this.token,
          events: this.queue }));
      } else {
        this.storage.removeItem(this.storeKey);
      }
    } catch (e) { /* quota: keep in memory only */ }
  };

  /** Unacknowledged events left by an earlier page (reload, crash) are sent first. */
  Collector.prototype._resumeLeftovers = function () {
    if (!this.storage) return;
    this.leftovers = [];
    try {
      for (var i = this.storage.length - 1; i >= 0; i--) {
        var k = this.storage.key(i);
        if (!k || k.indexOf(STORE_PREFIX) !== 0 || k === this.storeKey) continue;
        var v = JSON.parse(this.storage.getItem(k) || "null");
        if (v && v.events && v.events.length && v.endpoint === this.endpoint) {
          this.leftovers.push({ key: k, token: v.token, events: v.events });
        }
      }
    } catch (e) { this.leftovers = []; }
  };

  Collector.prototype._post = function (events, token) {
    var headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    return root.fetch(this.endpoint, { method: "POST", headers: headers,
      body: JSON.stringify({ events: events }), credentials: "omit", mode: "cors" });
  };

  Collector.prototype._backoff = function () {
    this.attempt += 1;
    this.counters.failedRequests += 1;
    var d = Math.min(this.backoffMaxMs, this.backoffBaseMs * Math.pow(2, this.attempt - 1));
    this.retryAt = nowMs() + d / 2 + Math.random() * d / 2;   // "equal jitter"
  };

  /**
   * Sends the oldest unacknowledged events (one request at a time, so the server sees them in
   * order). Resolves when that request is settled. 200: drop them. Network error, 408, 429, 5xx:
   * keep and retry with exponential backoff + jitter. 400/413: split the batch to isolate the
   * bad event. Other 4xx (401/403/404): the server refused for good; drop and report.
   */
  Collector.prototype.flush = function (force) {
    var self = this;
    if (this.sending) return this.sending;
    if (!force && nowMs() < this.retryAt) return Promise.resolve(false);
    var lo = this.leftovers && this.leftovers[0];
    var events, token, fromLeftover = false;
    if (lo) {
      events = lo.events.slice(0, this.maxBatch); token = lo.token; fromLeftover = true;
    } else {
      if (!this.queue.length) return Promise.resolve(true);
      events = this.queue.slice(0, Math.min(this.queue.length, this.batchLimit || this.maxBatch));
      token = this.token;
      this.inflight = events.length;
    }
    var n = events.length;
    this.counters.sent += n;
    this.sending = this._post(events, token).then(function (resp) {
      var st = resp.status;
      if (st >= 200 && st < 300) {
        self.attempt = 0; self.retryAt = 0; self.batchLimit = 0;
        if (!fromLeftover) {
          for (var i = 0; i < n; i++) if (events[i].type === "peer.stats") self.counters.ackedStats += 1;
        }
        self._ack(n, fromLeftover);
        return true;
      }
      if ((st === 400 || st === 413) && n > 1) {
        self.batchLimit = Math.max(1, Math.floor(n / 2));
        return false;
      }
      if (st >= 400 && st < 500 && st !== 408 && st !== 429) {
        return resp.text().then(function (body) {
          self.counters.dropped += n;
          self._error("rejected " + st, body);
          self.batchLimit = 0;
          self._ack(n, fromLeftover);
          return false;
        });
      }
      self._backoff();
      return false;
    }, function (err) {
      self._backoff();
      self._error("network", err);
      return false;
    }).then(function (ok) {
      self.sending = null;
      if (!fromLeftover) self.inflight = 0;
      return ok;
    });
    return this.sending;
  };

  Collector.prototype._ack = function (n, fromLeftover) {
    if (fromLeftover) {
      var lo = this.leftovers[0];
      lo.events = lo.events.slice(n);
      if (!lo.events.length) {
        this.leftovers.shift();
        try { this.storage.removeItem(lo.key); } catch (e) { /* ignore */ }
      } else {
        try { this.storage.setItem(lo.key, JSON.stringify({ endpoint: this.endpoint, token: lo.token,
          events: lo.events })); } catch (e) { /* ignore */ }
      }
      return;
    }
    this.queue = this.queue.slice(n);
    this.counters.acked += n;
    this._persist();
  };

  /** Sends everything, retrying, until acknowledged or timeoutMs passes. Resolves true if all acked. */
  Collector.prototype.drain = function (timeoutMs) {
    var self = this, until = nowMs() + (timeoutMs == null ? 10000 : timeoutMs);
    function step() {
      if (!self.queue.length && !(self.leftovers && self.leftovers.length)) return Promise.resolve(true);
      if (nowMs() > until) return Promise.resolve(false);
      var wait = Math.max(0, Math.min(self.retryAt - nowMs(), until - nowMs()));
      return new Promise(function (r) { setTimeout(r, wait); })
        .then(function () { return self.flush(true); }).then(step);
    }
    return step();
  };

  Collector.prototype._error = function (what, detail) {
    if (this.onError) { try { this.onError(what, detail); } catch (e) { /* ignore */ } }
  };

  Collector.prototype._stop = function () {
    this.timers.forEach(function (t) { clearInterval(t); });
    this.timers = [];
    this.listeners.forEach(function (l) { l[0].removeEventListener(l[1], l[2]); });
    this.listeners = [];
    this.pcs.forEach(function (e) { if (e.unlisten) e.unlisten(); });
  };

  /**
   * Final stats of every connection, then peer.left, then delivery (retrying up to
   * opts.timeoutMs, default 10 s). Resolves true when the server acknowledged everything.
   */
  Collector.prototype.leave = function (reason, opts) {
    var self = this;
    if (this.left) return this.leaving || Promise.resolve(true);
    this.leaving = this._pollAll().then(function () {
      self._emit("peer.left", reason ? { reason: reason } : {});
      self.left = true;
      self._stop();
      return self.drain(opts && opts.timeoutMs != null ? opts.timeoutMs : 10000);
    });
    return this.leaving;
  };

  /** pagehide: peer.left + everything unacknowledged goes out with sendBeacon (?token=). */
  Collector.prototype._pagehide = function () {
    if (!this.left) {
      this._emit("peer.left", { reason: "pagehide" });
      this.left = true;
      this._stop();
    }
    var n = root.navigator;
    var events = this.queue.slice();
    if (!events.length || !n || typeof n.sendBeacon !== "function") return;
    // Beacons carry no Authorization header: the token goes in the query string. Bodies are
    // limited (about 64 KiB in total), so send in chunks; the events stay stored and are resent
    // (idempotent ids) by the next page of this tab if the beacon did not make it.
    var url = this._url(true), i = 0, chunk = 50;
    while (i < events.length) {
      var body = JSON.stringify({ events: events.slice(i, i + chunk) });
      if (body.length > 60000 && chunk > 1) { chunk = Math.max(1, Math.floor(chunk / 2)); continue; }
      var blob = new Blob([body], { type: "text/plain;charset=UTF-8" });
      if (!n.sendBeacon(url, blob)) break;
      i += chunk;
    }
  };

  Collector.prototype.stats = function () {
    return { peerId: this.peerId, queued: this.queue.length, counters: this.counters,
      attempt: this.attempt };
  };

  var RTKCollector = {
    version: VERSION,
    KEEP_TYPES: Object.keys(KEEP_TYPES),
    filterStats: filterStats,
    start: function (opts) { return new Collector(opts); },
    Collector: Collector
  };
  root.RTKCollector = RTKCollector;
  if (typeof module === "object" && module && module.exports) module.exports = RTKCollector;
})(typeof globalThis !== "undefined" ? globalThis : (typeof window !== "undefined" ? window : this));
