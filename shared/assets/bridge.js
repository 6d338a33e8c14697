// The MCP Apps side of a view (SEP-1865): ask the host to initialise, then render each tool result
// the host sends. A view defines `render(result, el)`; `el` is the only way it makes DOM nodes:
// text goes in through textContent, never as markup, so a result written by an attacker (a
// scanned project's file name, a label value) can only ever show as text.
(function () {
  "use strict";
  var INIT_ID = 1;

  function el(tag, attrs, text) {
    var node = document.createElementNS(
      tag === "svg" || tag === "polyline" || tag === "line" || tag === "rect" || tag === "text"
        ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml", tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, String(attrs[key])); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function show(result) {
    var root = document.getElementById("view");
    root.replaceChildren();
    var data = result && result.structuredContent;
    if (result && result.isError) {
      root.appendChild(el("p", { "class": "error" }, "The tool refused: see its text result."));
    } else if (!data) {
      root.appendChild(el("p", { "class": "note" }, "No structured result to show."));
    } else {
      window.render(data, el, root);
    }
    document.body.setAttribute("data-rendered", "true");
  }

  function send(message) {
    if (window.parent !== window) window.parent.postMessage(message, "*");
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;  // only the host that embeds the view speaks to it
    var message = event.data;
    if (!message || message.jsonrpc !== "2.0") return;
    if (message.id === INIT_ID && message.result) {
      send({ jsonrpc: "2.0", method: "ui/notifications/initialized", params: {} });
    } else if (message.method === "ui/notifications/tool-result") {
      show(message.params);
    }
  });

  send({
    jsonrpc: "2.0",
    id: INIT_ID,
    method: "ui/initialize",
    params: {
      protocolVersion: "2026-01-26",
      appInfo: { name: "code-mcp", version: "1" },
      appCapabilities: {}
    }
  });
})();
