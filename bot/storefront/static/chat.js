/* The chat widget: talks socket.io to Rasa's `socketio` channel on this same origin.
 *
 * - Session: the session id (signed by the server) is kept in localStorage and sent with
 *   `session_request` on every (re)connect, so the server keeps the same conversation
 *   (credentials: session_persistence). The visible history is kept in localStorage too and
 *   drawn again after a reload — for the same person only: signing in, signing out and
 *   "End chat" end the conversation on the server (`end_session`: it forgets what it was told)
 *   and start a new one with an empty history, and a page that finds a signed-in customer's
 *   conversation but nobody signed in (the tab was closed) starts a new one too.
 * - Identity: when a demo customer is signed in, every message carries the signed session token
 *   (as `metadata.session_token` and `customData.session_token`); the action server verifies it.
 * - Safety: every text from the user or the bot goes into the page as text nodes; links are made
 *   from http(s) URLs only, as <a> elements built here. Nothing is ever parsed as HTML.
 */
(function () {
  "use strict";

  var SESSION_KEY = "shopbot.chat.session_id";
  var HISTORY_KEY = "shopbot.chat.history";
  var OPEN_KEY = "shopbot.chat.open";
  var OWNER_KEY = "shopbot.chat.owner";
  var HISTORY_LIMIT = 100;
  var REPLY_TIMEOUT_MS = 30000;
  var OFFLINE_TEXT = "Can't reach the assistant right now — we'll keep trying.";

  var S = window.Shopbot;
  var el = S.el;
  var socket = null;
  var sessionId = null;
  var connected = false;
  var pending = []; // typed while a new conversation was starting: sent once it has begun
  var history = [];
  var typingTimer = null;
  var lastAuthName;

  function $(id) { return document.getElementById(id); }

  // -- persistence -------------------------------------------------------------------------------
  function loadHistory() {
    var stored = S.readJSON(window.localStorage, HISTORY_KEY);
    return Array.isArray(stored) ? stored.slice(-HISTORY_LIMIT) : [];
  }
  function saveHistory() {
    history = history.slice(-HISTORY_LIMIT);
    S.writeJSON(window.localStorage, HISTORY_KEY, history);
  }
  function storedSessionId() {
    try { return window.localStorage.getItem(SESSION_KEY); } catch (e) { return null; }
  }
  function storeSessionId(id) {
    try { window.localStorage.setItem(SESSION_KEY, id); } catch (e) { /* this visit only */ }
  }
  function forgetSessionId() {
    try { window.localStorage.removeItem(SESSION_KEY); } catch (e) { /* nothing kept */ }
  }
  // Whose conversation this is: "guest" or the signed-in customer's id.
  function ownerOf(auth) { return auth ? "customer:" + auth.customer_id : "guest"; }
  function storedOwner() {
    try { return window.localStorage.getItem(OWNER_KEY); } catch (e) { return null; }
  }
  function storeOwner(owner) {
    try { window.localStorage.setItem(OWNER_KEY, owner); } catch (e) { /* this visit only */ }
  }

  // -- text with clickable links, built as DOM nodes ----------------------------------------------
  var URL_RE = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/gi;
  var TRAILING = /[.,;:!?)\]}'"]+$/;

  function safeHref(raw) {
    var candidate = /^www\./i.test(raw) ? "https://" + raw : raw;
    try {
      var url = new URL(candidate);
      return (url.protocol === "http:" || url.protocol === "https:") ? url.href : null;
    } catch (e) { return null; }
  }

  function appendText(parent, text) {
    var value = String(text == null ? "" : text);
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(value)) !== null) {
      var raw = match[0];
      var trail = raw.match(TRAILING);
      if (trail) raw = raw.slice(0, raw.length - trail[0].length);
      var href = raw && safeHref(raw);
      if (!href) continue;
      if (match.index > last) parent.appendChild(document.createTextNode(value.slice(last, match.index)));
      var a = el("a", null, raw);
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      parent.appendChild(a);
      last = match.index + raw.length;
      URL_RE.lastIndex = last;
    }
    if (last < value.length) parent.appendChild(document.createTextNode(value.slice(last)));
  }

  // -- reading what the bot sends ----------------------------------------------------------------
  // Rasa's socketio output sends {text}, {text, quick_replies:[{title, payload}]},
  // {attachment:{type:"image", payload:{src}}}, {attachment:{type:"template", payload:{...}}};
  // a custom payload arrives as whatever the action put under "data" (Rasa emits the custom dict
  // as keyword arguments), or under "custom" when a proxy wraps it: look in all those places.
  function findCards(msg) {
    var places = [msg, msg.custom, msg.data, msg.payload, msg.attachment && msg.attachment.payload];
    for (var i = 0; i < places.length; i++) {
      var p = places[i];
      if (p && typeof p === "object" && p.type === "product_cards" && Array.isArray(p.products)) {
        return p.products.filter(function (x) { return x && typeof x === "object"; });
      }
    }
    return null;
  }

  function toEntries(msg) {
    if (!msg || typeof msg !== "object") return [];
    var entry = { role: "bot" };
    if (typeof msg.text === "string" && msg.text) entry.text = msg.text;
    // A colleague who took the chat over (hand-off from Slack): their name above the bubble.
    if (typeof msg.agent === "string" && msg.agent) entry.agent = msg.agent.slice(0, 40);
    var buttons = msg.quick_replies || msg.buttons;
    if (Array.isArray(buttons)) {
      entry.buttons = buttons.filter(function (b) {
        return b && typeof b.title === "string" && typeof b.payload === "string";
      }).map(function (b) { return { title: b.title, payload: b.payload }; });
      if (!entry.buttons.length) delete entry.buttons;
    }
    var cards = findCards(msg);
    if (cards) {
      entry.cards = cards;
      var wrapped = msg.custom || msg.data || msg;
      if (!entry.text && typeof wrapped.text === "string") entry.text = wrapped.text;
    }
    var att = msg.attachment;
    if (att && att.type === "image" && att.payload && typeof att.payload.src === "string") {
      entry.image = att.payload.src;
    } else if (att && att.type === "template" && att.payload && !cards) {
      var els = att.payload.elements;
      els = Array.isArray(els) ? els : (els ? [els] : []);
      entry.cards = els.map(function (e) {
        return { name: e.title, category: e.subtitle, image: e.image_url };
      });
    }
    var shown = entry.text || entry.buttons || entry.cards || entry.image;
    return shown ? [entry] : [];
  }

  // -- drawing -----------------------------------------------------------------------------------
  function scrollToEnd() {
    var log = $("chat-log");
    $("chat-empty").hidden = history.length > 0;
    log.scrollTop = log.scrollHeight;
  }

  function quickReplies(entry) {
    var group = el("div", "quick-replies");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Suggested replies");
    // Usable until the customer says something else (clicking one, or typing).
    var usable = !entry.used;
    entry.buttons.forEach(function (b) {
      var button = el("button", "quick-reply", b.title);
      button.type = "button";
      button.disabled = !usable;
      button.addEventListener("click", function () { send(b.payload, b.title); });
      group.appendChild(button);
    });
    return group;
  }

  function productCards(cards) {
    var list = el("ul", "cards");
    list.setAttribute("aria-label", "Suggested products");
    cards.forEach(function (p) {
      var card = el("li", "card");
      if (p.sku) card.dataset.sku = String(p.sku);
      if (p.category) card.appendChild(el("p", "card-category", p.category));
      card.appendChild(el("p", "card-name", p.name || p.sku || "Product"));
      var price = S.formatPrice(p.price);
      if (p.price != null && price) card.appendChild(el("p", "card-price", price));
      var actions = el("div", "card-actions");
      if (p.sku) {
        var view = el("button", "card-view", "View");
        view.type = "button";
        view.setAttribute("aria-label", "View " + (p.name || p.sku));
        view.addEventListener("click", function () {
          send("/product_search" + JSON.stringify({ sku: String(p.sku) }),
               "Tell me about " + (p.name || p.sku));
        });
        actions.appendChild(view);
        var add = el("button", "card-add", "Add to cart");
        add.type = "button";
        add.setAttribute("aria-label", "Add " + (p.name || p.sku) + " to cart");
        add.addEventListener("click", function () {
          S.addToCart(p);
          addEntry({ role: "note", text: "Added " + (p.name || p.sku) + " to your cart." });
        });
        actions.appendChild(add);
      }
      card.appendChild(actions);
      list.appendChild(card);
    });
    return list;
  }

  function render(entry) {
    var item = el("li", "msg msg-" + entry.role);
    item.dataset.role = entry.role;
    if (entry.agent) {
      item.classList.add("msg-agent");
      item.appendChild(el("span", "msg-author", entry.agent + " from the team"));
    } else if (entry.role !== "note") {
      item.appendChild(el("span", "visually-hidden", entry.role === "user" ? "You said:" : "Assistant:"));
    }
    if (entry.text) {
      var bubble = el("div", "bubble");
      appendText(bubble, entry.text);
      item.appendChild(bubble);
    }
    if (entry.image && safeHref(entry.image)) {
      var img = el("img", "msg-image");
      img.src = safeHref(entry.image);
      img.alt = "Image from the assistant";
      item.appendChild(img);
    }
    if (entry.cards && entry.cards.length) item.appendChild(productCards(entry.cards));
    if (entry.buttons && entry.buttons.length) item.appendChild(quickReplies(entry));
    return item;
  }

  function retireQuickReplies() {
    history.forEach(function (e) { if (e.buttons) e.used = true; });
    $("chat-log").querySelectorAll(".quick-reply").forEach(function (b) { b.disabled = true; });
  }

  function withColleague() {
    for (var i = history.length - 1; i >= 0; i--) {
      if (history[i].role === "bot") return !!history[i].agent;
    }
    return false;
  }

  function addEntry(entry) {
    if (entry.role === "user") retireQuickReplies();
    history.push(entry);
    saveHistory();
    $("chat-log").appendChild(render(entry));
    scrollToEnd();
  }

  function drawHistory() {
    var log = $("chat-log");
    while (log.firstChild) log.removeChild(log.firstChild);
    history.forEach(function (entry) { log.appendChild(render(entry)); });
    scrollToEnd();
  }

  // -- typing indicator and connection state -----------------------------------------------------
  function setTyping(on) {
    $("chat-typing").hidden = !on;
    clearTimeout(typingTimer);
    if (on) {
      typingTimer = setTimeout(function () {
        $("chat-typing").hidden = true;
        addEntry({ role: "note", text: "No answer yet. The assistant may be busy; please try again." });
      }, REPLY_TIMEOUT_MS);
      scrollToEnd();
    }
  }

  function setConnection(state) {
    connected = state === "online";
    $("chat").dataset.connection = state;
    var error = $("chat-error");
    error.hidden = state !== "offline";
    error.textContent = state === "offline" ? OFFLINE_TEXT : "";
    var ready = connected && !!sessionId;
    $("chat-send").disabled = !ready;
    $("chat-input").placeholder = ready ? "Type a message…" :
      (state === "offline" ? "Waiting for the assistant…" : "Connecting…");
    if (state === "offline") setTyping(false);
  }

  // -- sending -----------------------------------------------------------------------------------
  function send(message, shownAs) {
    var text = String(message || "").trim();
    if (!text) return false;
    var waitingForSession = !sessionId && socket && socket.connected;
    // Not connected: the error banner (or "Connecting…") already says so; keep the text.
    if (!waitingForSession && (!connected || !sessionId)) return false;
    addEntry({ role: "user", text: shownAs || text });
    // A colleague answers in their own time: no typing dots, no "no answer yet" note.
    if (!withColleague()) setTyping(true);
    if (waitingForSession) {
      // A new conversation is starting (sign-in, sign-out, "End chat"): sent once it has begun.
      pending.push(text);
      return true;
    }
    emitMessage(text);
    return true;
  }

  function emitMessage(text) {
    var data = { message: text, session_id: sessionId };
    var auth = S.getAuth();
    if (auth) {
      // Rasa 3.6 reads `metadata` (its metadata_key); `customData` is what chat widgets have
      // traditionally sent. Both carry the same token, which the action server verifies.
      data.metadata = { session_token: auth.token };
      data.customData = { session_token: auth.token };
    }
    socket.emit("user_uttered", data);
  }

  function onSubmit(event) {
    event.preventDefault();
    var input = $("chat-input");
    if (send(input.value)) input.value = "";
    input.focus();
  }

  // -- opening and closing -----------------------------------------------------------------------
  function setOpen(open, focus) {
    var panel = $("chat-panel");
    panel.hidden = !open;
    $("chat").dataset.state = open ? "open" : "closed";
    $("chat-launcher").setAttribute("aria-expanded", String(open));
    $("chat-launcher").hidden = open;
    document.body.classList.toggle("chat-open", open);
    try { window.localStorage.setItem(OPEN_KEY, open ? "1" : "0"); } catch (e) { /* ignore */ }
    if (open) {
      scrollToEnd();
      if (focus) $("chat-input").focus();
    } else if (focus) {
      $("chat-launcher").focus();
    }
  }

  function showIdentity(auth) {
    $("chat-identity").textContent = auth ? "Signed in as " + auth.name : "Chatting as a guest";
  }

  // Ends this conversation on the server (it forgets what it was told) and starts a new one,
  // with nothing of the old one left on the page or in the browser's storage.
  function newConversation(note) {
    pending = [];
    history = [];
    saveHistory();
    drawHistory();
    forgetSessionId();
    var hadSession = !!sessionId;
    sessionId = null;
    delete $("chat").dataset.sessionId;
    storeOwner(ownerOf(S.getAuth()));
    setTyping(false);
    if (socket && socket.connected) {
      setConnection("connecting");
      socket.emit(hadSession ? "end_session" : "session_request", {});
    }
    if (note) addEntry({ role: "note", text: note });
  }

  function onAuthChange(auth) {
    showIdentity(auth);
    var name = auth ? auth.name : null;
    if (name !== lastAuthName) {
      newConversation(auth ? "You're signed in as " + auth.name + ". This is a new conversation." :
        "You signed out. This is a new conversation, as a guest.");
    }
    lastAuthName = name;
  }

  // -- socket ------------------------------------------------------------------------------------
  function connect() {
    if (typeof window.io !== "function") {
      setConnection("offline");
      $("chat-error").textContent = "The chat could not be loaded. Please reload the page later.";
      return;
    }
    // WebSocket only: long-polling sends each request separately, and with several Rasa workers
    // (SHOPBOT_RASA_WORKERS) they can land on a worker that does not know the session.
    socket = window.io({ transports: ["websocket"], reconnectionDelayMax: 5000, timeout: 8000 });
    socket.on("connect", function () {
      setConnection("connecting");
      var resume = sessionId || storedSessionId();
      socket.emit("session_request", resume ? { session_id: resume } : {});
    });
    socket.on("session_confirm", function (id) {
      var confirmed = typeof id === "string" ? id : (id && id.session_id);
      if (!confirmed) return;
      sessionId = confirmed;
      storeSessionId(sessionId);
      $("chat").dataset.sessionId = sessionId;
      setConnection("online");
      pending.splice(0).forEach(emitMessage);
    });
    socket.on("bot_uttered", function (msg) {
      setTyping(false);
      toEntries(msg).forEach(addEntry);
    });
    socket.on("connect_error", function () { setConnection("offline"); });
    socket.on("disconnect", function (reason) {
      setConnection("offline");
      // The server closed the socket on purpose: socket.io does not retry by itself then.
      if (reason === "io server disconnect") setTimeout(function () { socket.connect(); }, 2000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var auth = S.getAuth();
    if (storedOwner() !== ownerOf(auth)) {
      // Someone else's conversation (a signed-in customer closed the tab): not resumed.
      forgetSessionId();
      S.writeJSON(window.localStorage, HISTORY_KEY, null);
      storeOwner(ownerOf(auth));
    }
    history = loadHistory();
    sessionId = storedSessionId();
    if (sessionId) $("chat").dataset.sessionId = sessionId;
    drawHistory();
    setConnection("connecting");
    showIdentity(auth);
    lastAuthName = auth ? auth.name : null;
    S.onAuthChange(onAuthChange);
    $("chat-end").addEventListener("click", function () {
      newConversation("Chat ended. Anything you told me is forgotten; ask away for a new chat.");
    });

    $("chat-form").addEventListener("submit", onSubmit);
    $("chat-launcher").addEventListener("click", function () { setOpen(true, true); });
    $("chat-close").addEventListener("click", function () { setOpen(false, true); });
    $("chat-panel").addEventListener("keydown", function (event) {
      if (event.key === "Escape") setOpen(false, true);
    });
    var wasOpen = false;
    try { wasOpen = window.localStorage.getItem(OPEN_KEY) === "1"; } catch (e) { /* closed */ }
    setOpen(wasOpen, false);
    connect();
  });
})();
