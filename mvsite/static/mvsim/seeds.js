/* The seeds tray on results pages: a "+ seed" / "less like this" pair under every match, built
   from its data-video-id (the match template stays as it is). The links only add an id to the
   page's own query string (seeds=1,2,3&exclude=4), so the tray works the same without this
   file wherever the page renders the links itself. No inline code: a strict CSP allows it. */
(function () {
  "use strict";

  function withId(name, id) {
    var url = new URL(window.location.href);
    var ids = (url.searchParams.get(name) || "").split(",").filter(function (x) { return x; });
    if (ids.indexOf(String(id)) < 0) { ids.push(String(id)); }
    url.searchParams.set(name, ids.join(","));
    url.hash = "";
    return url.toString();
  }

  function link(text, className, href) {
    var a = document.createElement("a");
    a.className = className;
    a.href = href;
    a.textContent = text;
    return a;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var items = document.querySelectorAll("ol.matches > li.match[data-video-id]");
    for (var i = 0; i < items.length; i++) {
      var item = items[i];
      if (item.querySelector(".seed-controls")) { continue; }
      var id = item.getAttribute("data-video-id");
      var box = document.createElement("p");
      box.className = "small seed-controls";
      box.appendChild(link("+ seed", "seed-add", withId("seeds", id)));
      box.appendChild(document.createTextNode(" · "));
      box.appendChild(link("less like this", "seed-exclude", withId("exclude", id)));
      item.appendChild(box);
    }
  });
})();
