// Live countdowns: every <time class="countdown" datetime="ISO"> shows the time left (or how
// long overdue), updated each second. Re-scans after htmx swaps.
(function () {
  function fmt(ms) {
    const s = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h " + m + "m";
    if (h > 0) return h + "h " + String(m).padStart(2, "0") + "m";
    return m + "m " + String(sec).padStart(2, "0") + "s";
  }
  function tick() {
    const now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      const due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      const left = due - now;
      el.textContent = left >= 0 ? fmt(left) + " left" : fmt(left) + " overdue";
      const clock = el.closest(".clock");
      if (clock) {
        clock.classList.toggle("overdue", left < 0);
        clock.classList.toggle("soon", left >= 0 && left < 3600 * 1000);
      }
      el.title = "Due " + new Date(due).toLocaleString();
    });
  }
  document.addEventListener("DOMContentLoaded", tick);
  document.addEventListener("htmx:afterSwap", tick);
  setInterval(tick, 1000);
})();
