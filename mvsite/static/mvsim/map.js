/* Hover or focus a point: a card with the video's poster, title and genre. The poster URL is
   derived from the point's id only when the card opens, so the page carries no per-point
   pictures; a poster that fails to load (none made yet) leaves the genre-coloured box. */
(function () {
  "use strict";
  var figure = document.getElementById("map-figure");
  var card = document.getElementById("map-card");
  if (!figure || !card) { return; }
  var wrap = figure.parentNode;
  var pattern = figure.getAttribute("data-poster-url");
  var img = document.getElementById("map-card-poster");
  var box = document.getElementById("map-card-placeholder");
  var title = document.getElementById("map-card-title");
  var genre = document.getElementById("map-card-genre");
  var current = null;

  function shown(node, on) {  // an attribute, not .hidden: the box is SVG, which has no .hidden
    if (on) { node.removeAttribute("hidden"); } else { node.setAttribute("hidden", ""); }
  }

  function label(link) {
    // The point's <title> ("Title · Genre[ · note]") moves into the card and the link's
    // aria-label: left in place, the browser's own tooltip would repeat it over the card.
    var own = link.querySelector("title");
    if (own) {
      link.setAttribute("aria-label", own.textContent);
      own.parentNode.removeChild(own);
    }
    return link.getAttribute("aria-label") || "";
  }

  function place(circle) {
    var at = circle.getBoundingClientRect();
    var frame = wrap.getBoundingClientRect();
    var x = at.right - frame.left + 12;
    if (x + card.offsetWidth > frame.width) { x = at.left - frame.left - card.offsetWidth - 12; }
    var y = at.top - frame.top - card.offsetHeight / 2;
    card.style.left = Math.max(0, x) + "px";
    card.style.top = Math.max(0, Math.min(y, frame.height - card.offsetHeight)) + "px";
  }

  function show(link) {
    var id = link.getAttribute("data-video-id");
    var circle = link.querySelector("circle");
    var parts = label(link).split(" · ");
    title.textContent = parts[0];
    genre.textContent = parts.slice(1).join(" · ");
    box.firstElementChild.setAttribute("fill", circle.getAttribute("fill"));
    if (current !== id) {
      current = id;
      shown(img, false);
      shown(box, true);
      img.alt = "poster of " + parts[0];
      img.setAttribute("data-video-id", id);
      img.src = pattern.replace("{id}", id);
    }
    card.setAttribute("data-video-id", id);
    shown(card, true);
    place(circle);
  }

  function hide() { shown(card, false); }

  img.addEventListener("load", function () {
    if (img.getAttribute("data-video-id") === current) { shown(img, true); shown(box, false); }
  });
  img.addEventListener("error", function () { shown(img, false); shown(box, true); });

  function pointOf(node) {
    return node && node.closest ? node.closest("a[data-video-id]") : null;
  }
  figure.addEventListener("mouseover", function (e) {
    var link = pointOf(e.target);
    if (link) { show(link); }
  });
  figure.addEventListener("mouseout", function (e) {
    if (pointOf(e.target) && !pointOf(e.relatedTarget)) { hide(); }
  });
  figure.addEventListener("focusin", function (e) {
    var link = pointOf(e.target);
    if (link) { show(link); }
  });
  figure.addEventListener("focusout", hide);
})();
