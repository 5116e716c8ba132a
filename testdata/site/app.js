// Tern CDN demo: shows the page load time and the cache headers the CDN
// returned for each asset of the page.
"use strict";

const assets = [
  "/",
  "/app.js",
  "/style.css",
  "/img/logo.svg",
  "/img/testcard.png",
  "/img/mandelbrot.jpg",
  "/img/colorbars.webp",
  "/video/demo.mp4",
];

const shown = ["Cache-Status", "Age", "Cache-Control", "Surrogate-Key", "ETag"];

function showLoadTime() {
  const el = document.getElementById("load-time");
  const [nav] = performance.getEntriesByType("navigation");
  if (!nav || nav.loadEventEnd === 0) {
    el.textContent = "Load time: not available";
    return;
  }
  const ms = Math.round(nav.loadEventEnd - nav.startTime);
  const ttfb = Math.round(nav.responseStart - nav.requestStart);
  el.textContent = `Page loaded in ${ms} ms (time to first byte ${ttfb} ms, ${nav.nextHopProtocol || "?"})`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === "" ? "\u2014" : text;
  if (className) td.className = className;
  return td;
}

async function headRow(url) {
  const tr = document.createElement("tr");
  tr.appendChild(cell(url));
  try {
    // no-store: skip the browser cache so the CDN answers every time.
    const res = await fetch(url, { method: "HEAD", cache: "no-store" });
    tr.appendChild(cell(String(res.status)));
    for (const name of shown) {
      const value = res.headers.get(name);
      let cls = "";
      if (name === "Cache-Status" && value) cls = /;\s*hit/i.test(value) ? "hit" : "miss";
      tr.appendChild(cell(value, cls));
    }
  } catch (err) {
    tr.appendChild(cell("error: " + err.message));
  }
  return tr;
}

async function showHeaders() {
  const tbody = document.querySelector("#headers tbody");
  const rows = await Promise.all(assets.map(headRow));
  tbody.replaceChildren(...rows);
}

window.addEventListener("load", () => {
  // loadEventEnd is set once the load handlers have returned.
  setTimeout(showLoadTime, 0);
  showHeaders();
});

document.getElementById("refresh").addEventListener("click", showHeaders);
