/*
 * Comments on a passage of the draft, on the review page. When the editor selects
 * text inside the draft (<article data-comment-draft>), the selection fills the quote
 * of the comment form (#comment-form) and the form is shown, its comment box focused.
 * A selection outside the draft, or an empty one, leaves the form as it is. The server
 * checks the quote against the draft's text; the quote is cut at the form's maxlength.
 * Plain JS, no dependencies, nothing inline (the page's CSP may forbid it). Under node
 * it only exports its pure functions (tests).
 */
"use strict";
(function () {
  // Whitespace squeezed as the server squeezes it: a selection across paragraphs
  // reads "one\n\ntwo", which the server finds as "one two".
  function cleanQuote(text, limit) {
    const squeezed = String(text || "").replace(/\s+/g, " ").trim();
    return limit > 0 ? squeezed.slice(0, limit).trim() : squeezed;
  }

  if (typeof module !== "undefined" && module.exports) {
    module.exports = { cleanQuote };
    return;
  }

  function within(node, container) {
    return node !== null && container.contains(node);
  }

  function start() {
    const draft = document.querySelector("[data-comment-draft]");
    const form = document.getElementById("comment-form");
    if (!draft || !form) {
      return;
    }
    const quote = form.querySelector("[name=quote]");
    const body = form.querySelector("[name=body]");
    const limit = parseInt(quote.getAttribute("maxlength"), 10) || 0;

    function takeSelection() {
      const selection = window.getSelection();
      if (!selection || selection.isCollapsed || selection.rangeCount === 0) {
        return;
      }
      if (!within(selection.anchorNode, draft) || !within(selection.focusNode, draft)) {
        return;
      }
      const text = cleanQuote(selection.toString(), limit);
      if (!text) {
        return;
      }
      quote.value = text;
      form.hidden = false;
      body.focus({ preventScroll: false });
    }

    draft.addEventListener("mouseup", takeSelection);
    draft.addEventListener("keyup", takeSelection);
    const cancel = form.querySelector("[data-comment-cancel]");
    if (cancel) {
      cancel.addEventListener("click", function () {
        form.hidden = true;
        quote.value = "";
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
