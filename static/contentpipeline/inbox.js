/*
 * The inbox's unread count on every admin page ("Inbox (N)"), live: follows the task
 * socket (/ws/tasks/, same origin, so the session cookie authenticates it) and writes
 * the count of each {"type": "notifications.unread", "count": N} into #inbox-unread.
 * Plain JS, no dependencies, no inline code. Under node it only exports its pure
 * functions (tests).
 */
"use strict";
(function () {
  const PING_EVERY_MS = 30000;
  const MAX_DELAY_MS = 30000;
  // Not authenticated, forbidden, unknown path: connecting again cannot help.
  const FINAL_CLOSE_CODES = [4401, 4403, 4404];

  function socketUrl(loc) {
    return (loc.protocol === "https:" ? "wss:" : "ws:") + "//" + loc.host + "/ws/tasks/";
  }

  function reconnectDelay(attempt) {
    return Math.min(MAX_DELAY_MS, 1000 * 2 ** attempt);
  }

  // The count a message carries, or null when it is not an unread count.
  function unreadCount(message) {
    if (!message || message.type !== "notifications.unread") return null;
    const count = Number(message.count);
    return Number.isInteger(count) && count >= 0 ? count : null;
  }

  const Inbox = { socketUrl, reconnectDelay, unreadCount };
  if (typeof module === "object" && module.exports) {
    module.exports = Inbox;
    return;
  }

  function start() {
    const shown = document.getElementById("inbox-unread");
    if (!shown) return;
    let attempt = 0;
    function connect() {
      const socket = new WebSocket(socketUrl(location));
      let pinger = null;
      socket.addEventListener("open", () => {
        attempt = 0;
        pinger = setInterval(() => socket.send(JSON.stringify({ type: "ping" })), PING_EVERY_MS);
      });
      socket.addEventListener("message", (message) => {
        let event;
        try {
          event = JSON.parse(message.data);
        } catch {
          return;
        }
        const count = unreadCount(event);
        if (count !== null) shown.textContent = String(count);
      });
      socket.addEventListener("close", (close) => {
        clearInterval(pinger);
        if (FINAL_CLOSE_CODES.includes(close.code)) return;
        setTimeout(connect, reconnectDelay(attempt++));
      });
    }
    connect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
