"use strict";
// Sorting and filtering of the table the page already holds.
(function () {
  const table = document.getElementById("gradebook");
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);
  const filter = document.getElementById("filter");
  const shown = document.getElementById("shown");
  let sorted = { column: -1, descending: false };

  // Numbers sort by data-value; an empty one (not graded) sorts below 0.
  function key(row, column) {
    const cell = row.cells[column];
    if (headers[column].dataset.type === "number") {
      const value = cell.dataset.value;
      return value === "" || value === undefined ? -Infinity : Number(value);
    }
    return cell.textContent.toLowerCase();
  }

  function sortBy(column) {
    const header = headers[column];
    // Numbers first sort best first; names A to Z; a second click reverses.
    const descending =
      sorted.column === column ? !sorted.descending : header.dataset.type === "number";
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = key(a, column);
      const y = key(b, column);
      const order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    sorted = { column: column, descending: descending };
  }

  headers.forEach(function (header, column) {
    header.tabIndex = 0;
    header.addEventListener("click", function () { sortBy(column); });
    header.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        sortBy(column);
      }
    });
  });

  function applyFilter() {
    const wanted = filter.value.trim().toLowerCase();
    let count = 0;
    Array.from(body.rows).forEach(function (row) {
      const match = row.cells[0].textContent.toLowerCase().includes(wanted);
      row.hidden = !match;
      if (match) count += 1;
    });
    shown.textContent = wanted === "" ? "" : count + " of " + body.rows.length + " shown";
  }
  filter.addEventListener("input", applyFilter);
  applyFilter();
})();
