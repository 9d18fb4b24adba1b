// Per-query explorer: a sortable, filterable table of queries; a click opens the query's drill-down.
// Plain JavaScript, no network: the data sits in <script type="application/json"> next to each explorer.
(function () {
  "use strict";
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function fmt(v, signed) {
    if (v === null || v === undefined) return "-";
    return (signed && v > 0 ? "+" : "") + v.toFixed(4);
  }
  function qidKey(q) { return /^\d+$/.test(q) ? [0, Number(q), q] : [1, 0, q]; }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === null || a === undefined) return 1;
    if (b === null || b === undefined) return -1;
    if (Array.isArray(a)) { for (var i = 0; i < a.length; i++) { var c = compare(a[i], b[i]); if (c) return c; } return 0; }
    return a < b ? -1 : 1;
  }
  function label(data, qid, doc) {
    var d = data.drill[qid];
    if (!data.labelled || !d || !d.labels) return el("span", "badge nolabel", "no qrels");
    var l = d.labels[doc];
    if (l === undefined) return el("span", "badge unjudged", "unjudged");
    return el("span", "badge l" + Math.max(0, Math.min(l, 3)), "rel " + l);
  }
  function where(rank, data) { return rank === null || rank === undefined ? "not in top " + data.depth : String(rank); }
  function moveSpan(from, to, data, prefix) {
    var text = (prefix ? prefix + ": " : "") + where(from, data) + " \u2192 " + where(to, data);
    var cls = "move";
    var a = from === null ? Infinity : from, b = to === null ? Infinity : to;
    cls += b < a ? " up" : b > a ? " down" : " same";
    return el("span", cls, text);
  }
  function drill(data, qid) {
    var box = el("div", "ex-drill");
    box.setAttribute("data-qid", qid);
    var q = data.queries.find(function (r) { return r.qid === qid; });
    box.appendChild(el("div", "ex-drill-title", "Query " + qid + (q && q.text ? ": " + q.text : "")));
    var d = data.drill[qid];
    if (!d) { box.appendChild(el("p", "ex-note", "No drill-down for this query (see the notes above the table).")); return box; }
    var order = [data.baseline].concat(data.systems.map(function (_, i) { return i; }).filter(function (i) { return i !== data.baseline; }));
    var grid = el("div", "ex-grid");
    order.forEach(function (s) {
      var col = el("div", "ex-col");
      col.appendChild(el("h4", null, data.systems[s] + (s === data.baseline ? " (baseline)" : "")));
      var top = d.top[s];
      if (!top) { col.appendChild(el("p", "ex-note", "run file not found")); grid.appendChild(col); return; }
      if (!top.length) col.appendChild(el("p", "ex-note", "no documents retrieved"));
      top.forEach(function (doc, i) {
        var item = el("div", "ex-doc");
        var head = el("div", "ex-doc-head");
        head.appendChild(el("span", "rank", "#" + (i + 1)));
        head.appendChild(el("span", "docid", doc));
        head.appendChild(label(data, qid, doc));
        var ranks = d.ranks[doc];
        if (ranks) {
          if (s === data.baseline) {
            order.slice(1).forEach(function (o) {
              if (d.top[o]) head.appendChild(moveSpan(i + 1, ranks[o], data, order.length > 2 ? data.systems[o] : ""));
            });
          } else if (d.top[data.baseline]) {
            head.appendChild(moveSpan(ranks[data.baseline], i + 1, data, ""));
          }
        }
        item.appendChild(head);
        var text = data.docs[doc];
        if (text) item.appendChild(el("p", "snip", text));
        col.appendChild(item);
      });
      grid.appendChild(col);
    });
    box.appendChild(grid);
    if (d.windows) box.appendChild(windows(data, d, order));
    return box;
  }
  // listwise systems: each window of the query (from the trace), its parse status and what the model wrote
  function windows(data, d, order) {
    var wrap = el("div", "ex-windows");
    order.forEach(function (s) {
      var list = d.windows[s];
      if (!list) return;
      var bad = list.filter(function (w) { return w.status !== "ok"; }).length;
      var det = el("details", "ex-win");
      det.appendChild(el("summary", null, data.systems[s] + ": " + list.length + " windows, " + bad + " malformed"));
      var table = el("table", "ex-win-table"), head = el("tr");
      ["window", "pass", "status", "missing", "duplicate", "out of range", "answer"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      table.appendChild(head);
      list.forEach(function (w) {
        var tr = el("tr", w.status === "ok" ? null : "bad");
        [(w.window[0] + 1) + "\u2013" + w.window[1], w.pass, w.status, w.missing, w.duplicate, w.out_of_range,
         w.raw === undefined ? "(left out)" : w.raw].forEach(function (v) { tr.appendChild(el("td", null, v === null || v === undefined ? "" : String(v))); });
        table.appendChild(tr);
      });
      det.appendChild(table);
      wrap.appendChild(det);
    });
    return wrap;
  }
  function build(root, data) {
    var columns = [{ key: "qid", title: "query id", get: function (r) { return qidKey(r.qid); } },
                   { key: "text", title: "query", get: function (r) { return r.text ? r.text.toLowerCase() : null; } }];
    data.systems.forEach(function (name, i) {
      columns.push({ key: "value-" + i, title: name + " " + data.measure, num: true, get: function (r) { return r.values[i]; } });
    });
    data.systems.forEach(function (name, i) {
      if (i !== data.baseline) columns.push({ key: "delta-" + i, title: "\u0394 " + name, num: true, delta: true, get: function (r) { return r.deltas[i]; } });
    });
    var tools = el("div", "ex-tools");
    var filter = el("input", "ex-filter");
    filter.type = "search";
    filter.placeholder = "Filter queries by id or text";
    filter.setAttribute("aria-label", "filter queries");
    var count = el("span", "ex-count");
    tools.appendChild(filter);
    tools.appendChild(count);
    root.appendChild(tools);
    data.notes.forEach(function (n) { root.appendChild(el("p", "ex-note", n)); });
    var wrap = el("div", "table-wrap");
    var table = el("table", "ex-table");
    var thead = el("thead"), tr = el("tr");
    var tbody = el("tbody");
    var state = { key: null, dir: 1 };
    var open = null;
    columns.forEach(function (c) {
      var th = el("th", c.num ? "num sortable" : "sortable", c.title);
      th.setAttribute("data-key", c.key);
      th.setAttribute("aria-sort", "none");
      th.addEventListener("click", function () {
        state.dir = state.key === c.key ? -state.dir : 1;
        state.key = c.key;
        thead.querySelectorAll("th").forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
        render();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    table.appendChild(tbody);
    wrap.appendChild(table);
    root.appendChild(wrap);
    function render() {
      var needle = filter.value.trim().toLowerCase();
      var rows = data.queries.filter(function (r) {
        return !needle || r.qid.toLowerCase().indexOf(needle) >= 0 || (r.text || "").toLowerCase().indexOf(needle) >= 0;
      });
      if (state.key) {
        var col = columns.find(function (c) { return c.key === state.key; });
        rows.sort(function (a, b) {
          var x = col.get(a), y = col.get(b);
          if (x === null || x === undefined) return (y === null || y === undefined) ? 0 : 1;
          if (y === null || y === undefined) return -1;
          return state.dir * compare(x, y);
        });
      }
      tbody.textContent = "";
      rows.forEach(function (r) {
        var row = el("tr", "ex-row");
        row.setAttribute("data-qid", r.qid);
        row.tabIndex = 0;
        columns.forEach(function (c) {
          var v = c.get(r);
          var td;
          if (c.key === "qid") td = el("td", "qid", r.qid);
          else if (c.key === "text") td = el("td", "qtext", r.text === null ? "(no text)" : r.text);
          else td = el("td", "num" + (c.delta && v > 0 ? " pos" : c.delta && v < 0 ? " neg" : ""), fmt(v, c.delta));
          row.appendChild(td);
        });
        function toggle() {
          var next = row.nextSibling;
          var wasOpen = next && next.classList && next.classList.contains("ex-drill-row");
          tbody.querySelectorAll("tr.ex-drill-row").forEach(function (x) { x.remove(); });
          tbody.querySelectorAll("tr.ex-row.open").forEach(function (x) { x.classList.remove("open"); });
          open = null;
          if (wasOpen) return;
          var drow = el("tr", "ex-drill-row"), td = el("td");
          td.colSpan = columns.length;
          td.appendChild(drill(data, r.qid));
          drow.appendChild(td);
          row.parentNode.insertBefore(drow, row.nextSibling);
          row.classList.add("open");
          open = r.qid;
        }
        row.addEventListener("click", toggle);
        row.addEventListener("keydown", function (e) { if (e.key === "Enter") toggle(); });
        tbody.appendChild(row);
        if (open === r.qid) { open = null; toggle(); }
      });
      count.textContent = rows.length + " of " + data.queries.length + " queries";
    }
    filter.addEventListener("input", render);
    render();
  }
  document.querySelectorAll(".explorer[data-source]").forEach(function (root) {
    var node = document.getElementById(root.getAttribute("data-source"));
    if (!node) return;
    build(root, JSON.parse(node.textContent));
  });
})();
