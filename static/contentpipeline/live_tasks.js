/*
 * The admin task list, live. Follows the editors' stream (/ws/tasks/, same origin, so
 * the session cookie authenticates it) and, for each task.progress event:
 *  - updates the status, stage and progress cells of that task's row in place;
 *  - when a task has just come to await approval, counts it in the page title as
 *    "(N) <title>" and fetches the list again, so the new draft's row (with its Review
 *    link, at the top where drafts are sorted) appears without a reload.
 * Plain JS, no dependencies. Under node it only exports its pure functions (tests).
 */
"use strict";
(function () {
  const AWAITING = "awaiting_approval";
  const PING_EVERY_MS = 30000;
  const MAX_DELAY_MS = 30000;
  // Not authenticated, forbidden, unknown path: connecting again cannot help.
  const FINAL_CLOSE_CODES = [4401, 4403, 4404];

  function socketUrl(loc) {
    return (loc.protocol === "https:" ? "wss:" : "ws:") + "//" + loc.host + "/ws/tasks/";
  }

  // 1 s, 2 s, 4 s ... at most 30 s between attempts.
  function reconnectDelay(attempt) {
    return Math.min(MAX_DELAY_MS, 1000 * 2 ** attempt);
  }

  function titleWithCount(title, count) {
    return count > 0 ? "(" + count + ") " + title : title;
  }

  // What the row's cells should read: Django shows a choice's label, not its value.
  function cellTexts(event, labels) {
    return {
      status: labels.status[event.status] || event.status,
      stage: labels.stage[event.stage] || event.stage,
      progress: String(event.progress),
    };
  }

  // shownStatus: the status the task's row shows now, or null when it has no row here.
  // counted: the ids already counted (an event may repeat while the list is refetched).
  function isNewDraft(event, shownStatus, counted) {
    return event.status === AWAITING && shownStatus !== AWAITING && !counted.has(event.task_id);
  }

  const LiveTasks = { socketUrl, reconnectDelay, titleWithCount, cellTexts, isNewDraft };
  if (typeof module === "object" && module.exports) {
    module.exports = LiveTasks;
    return;
  }

  function readLabels() {
    const pairs = (id) => Object.fromEntries(JSON.parse(document.getElementById(id).textContent));
    return { status: pairs("live-task-status-labels"), stage: pairs("live-task-stage-labels") };
  }

  // The action checkbox of each row holds the task's id.
  function rowOf(taskId) {
    const selector = '#result_list input[name="_selected_action"][value="' + CSS.escape(taskId) + '"]';
    const box = document.querySelector(selector);
    return box ? box.closest("tr") : null;
  }

  function setCell(row, column, text) {
    const cell = row.querySelector("td.field-" + column);
    if (cell) cell.textContent = text;
  }

  function start() {
    const labels = readLabels();
    const statusOfLabel = Object.fromEntries(
      Object.entries(labels.status).map(([value, label]) => [label, value])
    );
    const originalTitle = document.title;
    const counted = new Set();
    let newDrafts = 0;
    let missed = null; // while a refetch is under way: the events it may predate
    let refetchAgain = false;

    function updateRow(event) {
      const row = rowOf(event.task_id);
      if (!row) return;
      const texts = cellTexts(event, labels);
      setCell(row, "status", texts.status);
      setCell(row, "stage", texts.stage);
      setCell(row, "progress", texts.progress);
      // Only a draft awaiting approval can be reviewed; the server shows "-" otherwise.
      if (event.status !== AWAITING) setCell(row, "review_link", "-");
    }

    function onEvent(event) {
      const row = rowOf(event.task_id);
      const cell = row && row.querySelector("td.field-status");
      const shown = cell ? statusOfLabel[cell.textContent.trim()] || null : null;
      if (event.status !== AWAITING) counted.delete(event.task_id);
      if (missed) missed.push(event);
      updateRow(event);
      if (isNewDraft(event, shown, counted)) {
        counted.add(event.task_id);
        newDrafts += 1;
        document.title = titleWithCount(originalTitle, newDrafts);
        refetchList();
      }
    }

    // Put the fetched page's changelist form in place of ours, keeping the editor's
    // ticked rows and chosen action.
    function replaceForm(fresh) {
      const form = document.getElementById("changelist-form");
      const freshForm = fresh.getElementById("changelist-form");
      if (!form || !freshForm) return;
      const ticked = new Set(
        Array.from(form.querySelectorAll("input.action-select:checked"), (box) => box.value)
      );
      const actionSelect = form.querySelector("select[name=action]");
      const action = actionSelect ? actionSelect.value : "";
      form.replaceChildren(...Array.from(freshForm.childNodes, (n) => document.importNode(n, true)));

      const boxes = form.querySelectorAll("tr input.action-select");
      // Django's actions.js holds on to the checkboxes it found at load: hand it the new
      // ones (its handlers on the old, now detached, elements run first and are overruled).
      if (boxes.length && typeof window.Actions === "function") window.Actions(boxes);
      const newSelect = form.querySelector("select[name=action]");
      if (newSelect && action) newSelect.value = action;
      let last = null;
      boxes.forEach((box) => {
        if (!ticked.has(box.value)) return;
        box.checked = true;
        box.closest("tr").classList.add("selected");
        last = box;
      });
      // One change event makes actions.js count the ticked rows, as a click would.
      if (last) last.dispatchEvent(new Event("change", { bubbles: true }));
    }

    async function refetchList() {
      if (missed) {
        refetchAgain = true; // one more after this one, for the draft it may have missed
        return;
      }
      missed = [];
      try {
        const response = await fetch(location.href, { credentials: "same-origin" });
        // Logged out (redirected to the login page) or a server error: keep the page.
        if (response.ok && !response.redirected) {
          const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
          replaceForm(fresh);
          // Events that came while the page was fetched may be newer than it.
          missed.forEach(updateRow);
        }
      } catch (error) {
        console.warn("Could not refresh the task list:", error);
      } finally {
        missed = null;
      }
      if (refetchAgain) {
        refetchAgain = false;
        refetchList();
      }
    }

    let attempt = 0;
    let opened = false;
    function connect() {
      const socket = new WebSocket(socketUrl(location));
      let pinger = null;
      socket.addEventListener("open", () => {
        // After a break, events were lost: catch up from the server, counting nothing.
        if (opened) refetchList();
        opened = true;
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
        if (event && event.type === "task.progress") onEvent(event);
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
