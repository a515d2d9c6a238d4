/* mvsim pages: progress polling and seeking players to a segment. Vanilla JS, no build step. */
(function () {
  "use strict";

  // --- progress page: poll the JSON endpoint, go to the results when ready ---------------
  function pollProgress(box) {
    var url = box.getAttribute("data-progress-url");
    var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };
    var delay = 1000;
    var failures = 0;

    function render(state) {
      field("stage").textContent = state.stage;
      field("detail").textContent = state.detail || "";
      field("count").textContent = state.total ? (state.done || 0) + " / " + state.total + " segments" : "";
      var bar = field("bar");
      if (state.percent === null || state.percent === undefined) { bar.removeAttribute("value"); }
      else { bar.value = state.percent; }
      var items = box.querySelectorAll(".stages li");
      for (var i = 0; i < items.length; i++) {
        items[i].className = state.failed ? "" :
          (i < state.stage_index ? "done" : (i === state.stage_index ? "current" : ""));
      }
      box.setAttribute("data-status", state.status);
    }

    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
        .then(function (state) {
          failures = 0;
          render(state);
          if (state.ready) { window.location.assign(state.results_url); return; }
          if (state.failed) {
            var err = field("error");
            err.textContent = "Processing failed: " + (state.error || "no reason was recorded");
            err.hidden = false;
            field("hint").hidden = true;
            return;
          }
          window.setTimeout(tick, delay);
        })
        .catch(function () {
          failures += 1;
          window.setTimeout(tick, Math.min(10000, delay * (1 + failures)));
        });
    }
    if (box.getAttribute("data-status") !== "failed") { window.setTimeout(tick, 500); }
  }

  // --- players: links with data-seek play the page's player from that second ---------------
  function seek(player, seconds) {
    if (player.tagName === "IFRAME") {
      var base = player.src.split("?")[0];
      player.src = base + "?start=" + Math.floor(seconds) + "&autoplay=1";
    } else {
      var go = function () {
        player.currentTime = seconds;
        var p = player.play();
        if (p && p.catch) { p.catch(function () {}); }
      };
      if (player.readyState >= 1) { go(); } else { player.addEventListener("loadedmetadata", go, { once: true }); player.load(); }
    }
    if (player.scrollIntoView) { player.scrollIntoView({ block: "nearest", behavior: "smooth" }); }
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-seek]") : null;
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    var player = document.getElementById("player");
    if (!player || player.getAttribute("data-video-id") !== link.getAttribute("data-video-id")) { return; }
    event.preventDefault();
    seek(player, Number(link.getAttribute("data-seek")) || 0);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-progress-url]");
    if (box && window.fetch) { pollProgress(box); }
  });
})();
