// The inspect tree's search box: runs in the browser when the output is trusted (a live
// kernel's output, or a notebook JupyterLab saved and signed), needs no kernel, and so
// keeps working after a restart or in a reopened notebook. Untrusted, the sanitizer drops
// this script and the box stays disabled; the <details> tree works without it.
(function (script) {
  var root = script.parentElement;
  var box = root.querySelector("input.ll-search");
  var count = root.querySelector(".ll-count");
  var tree = root.querySelector(".ll-tree");
  if (!box || !tree) { return; }
  var branches = Array.prototype.slice.call(tree.querySelectorAll("details"));
  var opened = branches.map(function (d) { return d.open; });
  var rows = Array.prototype.slice.call(tree.querySelectorAll(".ll-row"));
  var texts = rows.map(function (r) { return r.innerHTML; });
  function escapeRe(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }
  function mark(row, pattern) {
    var hits = 0;
    var walker = document.createTreeWalker(row, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) { nodes.push(walker.currentNode); }
    nodes.forEach(function (node) {
      var parts = node.nodeValue.split(pattern);
      if (parts.length < 2) { return; }
      var frag = document.createDocumentFragment();
      parts.forEach(function (part, i) {
        if (i % 2 === 1) {
          var m = document.createElement("mark");
          m.textContent = part;
          frag.appendChild(m);
          hits += 1;
        } else if (part) {
          frag.appendChild(document.createTextNode(part));
        }
      });
      node.parentNode.replaceChild(frag, node);
    });
    return hits;
  }
  function kept(el) { return el.closest("details[data-keep]") !== null; }
  function search() {
    var query = box.value.trim();
    rows.forEach(function (r, i) { r.innerHTML = texts[i]; r.style.display = ""; r.dataset.hit = ""; });
    branches.forEach(function (d, i) {
      d.open = opened[i]; d.style.display = ""; delete d.dataset.keep;
    });
    if (!query) { count.textContent = ""; return; }
    var pattern = new RegExp("(" + escapeRe(query) + ")", "i");
    var hits = 0;
    rows.forEach(function (r) {
      var n = mark(r, pattern);
      hits += n;
      r.dataset.hit = n ? "1" : "";
    });
    // a branch whose own key matches keeps its whole subtree; elsewhere only the matches
    // and the branches that lead to them stay, opened
    branches.forEach(function (d) {
      var own = d.querySelector(":scope > summary .ll-row");
      if (own && own.dataset.hit) { d.dataset.keep = "1"; }
    });
    rows.forEach(function (r) {
      var inSummary = r.parentElement && r.parentElement.tagName === "SUMMARY";
      if (!inSummary && !r.dataset.hit && !kept(r)) { r.style.display = "none"; }
    });
    branches.forEach(function (d) {
      var leads = d.querySelector(".ll-row[data-hit='1']") !== null;
      d.style.display = leads || kept(d) ? "" : "none";
      if (leads) { d.open = true; }
    });
    count.textContent = hits + (hits === 1 ? " match" : " matches");
  }
  box.disabled = false;
  box.placeholder = "Search keys and values…";
  box.addEventListener("input", search);
})(document.currentScript);
