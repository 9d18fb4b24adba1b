// Leaderboard: sort by any column, filter by collection and by text. Plain JavaScript, no network.
(function () {
  "use strict";
  var table = document.getElementById("leaderboard");
  if (!table) return;
  var tbody = table.tBodies[0];
  var heads = Array.prototype.slice.call(table.tHead.rows[1].cells);
  var select = document.getElementById("lb-collection");
  var filter = document.getElementById("lb-filter");
  var count = document.getElementById("lb-count");
  var state = { col: -1, dir: 1 };
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null || v === "") return null;
    var n = Number(v);
    return isNaN(n) || cell.className.indexOf("num") < 0 ? v.toLowerCase() : n;
  }
  heads.forEach(function (th, i) {
    th.setAttribute("aria-sort", "none");
    th.addEventListener("click", function () {
      state.dir = state.col === i ? -state.dir : (th.className.indexOf("num") >= 0 && th.textContent.indexOf("ms") < 0 ? -1 : 1);
      state.col = i;
      heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(tbody.rows);
      rows.sort(function (a, b) {
        var x = key(a.cells[i]), y = key(b.cells[i]);
        if (x === null) return y === null ? 0 : 1;
        if (y === null) return -1;
        return state.dir * (x < y ? -1 : x > y ? 1 : 0);
      });
      rows.forEach(function (r) { tbody.appendChild(r); });
    });
  });
  function apply() {
    var collection = select.value;
    var group = collection ? select.options[select.selectedIndex].getAttribute("data-group") : null;
    table.querySelectorAll("[data-group]").forEach(function (cell) {
      cell.classList.toggle("hidden", !!group && cell.getAttribute("data-group") !== group);
    });
    var needle = filter.value.trim().toLowerCase();
    var shown = 0;
    Array.prototype.forEach.call(tbody.rows, function (row) {
      var inCollection = !collection || (" " + row.getAttribute("data-collections") + " ").indexOf(" " + collection + " ") >= 0;
      var text = Array.prototype.slice.call(row.cells, 0, 6).map(function (c) { return c.textContent; }).join(" ").toLowerCase();
      var visible = inCollection && (!needle || text.indexOf(needle) >= 0);
      row.classList.toggle("hidden", !visible);
      if (visible) shown++;
    });
    count.textContent = shown + " of " + tbody.rows.length + " systems";
  }
  select.addEventListener("change", apply);
  filter.addEventListener("input", apply);
  apply();
})();
