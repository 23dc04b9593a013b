// The web chat: sends each message to the streaming endpoint and shows the reply as it arrives.
// The conversation id and its messages live in localStorage, so a reload continues the conversation.
// A server with API keys: open the page as /#key=KEY (the fragment never reaches the server or its
// logs), or type the key when asked; it is kept in sessionStorage (this tab only) and sent as Bearer.
"use strict";

(() => {
  const STORAGE_KEY = "bot.chat.v1";
  const KEPT_MESSAGES = 200;
  const READY_POLL_MS = 2000;
  const UNREACHABLE = "Can't reach the server. Check that it is running, then send your message again.";
  // Said to a person in a browser, not to an API client (the server's 401 speaks of headers).
  const NEEDS_KEY = "This bot needs an API key. Send your message again and paste the key when asked, "
    + "or open the page as /#key=YOUR_KEY.";
  const WRONG_KEY = "The server did not accept that key. Send your message again to paste another one.";

  const $ = (id) => document.getElementById(id);
  const log = $("log"), form = $("composer"), input = $("message"), sendButton = $("send");
  const typing = $("typing"), errorBox = $("error"), status = $("status");

  const KEY_STORAGE = "bot.chat.key";
  let chat = restore();
  let busy = false;
  let apiKey = takeKey();

  function takeKey() {
    const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
    if (match) {
      try { sessionStorage.setItem(KEY_STORAGE, decodeURIComponent(match[1])); } catch (err) { /* disabled */ }
      history.replaceState(null, "", location.pathname + location.search);  // the key leaves the address bar
    }
    try { return sessionStorage.getItem(KEY_STORAGE) || ""; } catch (err) { return ""; }
  }

  function askForKey(rejected) {
    const question = rejected ? "The server did not accept the API key. Paste the right one here:"
      : "This bot needs an API key. Paste it here:";
    const given = (window.prompt(question) || "").trim();
    if (!given) return false;
    apiKey = given;
    try { sessionStorage.setItem(KEY_STORAGE, given); } catch (err) { /* disabled */ }
    return true;
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return "web-" + crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function restore() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY));
      if (saved && typeof saved.id === "string" && Array.isArray(saved.messages)) return saved;
    } catch (err) { /* unreadable: start afresh */ }
    return { id: newId(), messages: [] };
  }

  function save() {
    chat.messages = chat.messages.slice(-KEPT_MESSAGES);
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(chat)); } catch (err) { /* full or disabled */ }
  }

  function bubble(role, text) {
    const item = document.createElement("li");
    item.className = "message " + role;
    const who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = role === "user" ? "You said: " : "Bot said: ";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;  // never innerHTML: replies are text, not markup
    item.append(who, body);
    log.append(item);
    item.scrollIntoView({ block: "end" });
    return body;
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    document.body.classList.add("has-error");
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = "";
    document.body.classList.remove("has-error");
  }

  function setBusy(value) {
    busy = value;
    sendButton.disabled = value;
    log.setAttribute("aria-busy", String(value));
  }

  // Server-sent events from a fetch body: blocks separated by a blank line, `event:` and `data:` lines.
  async function* events(stream) {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message", data = "";
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data += line.slice(5).trim();
        }
        yield { name, data: data ? JSON.parse(data) : {} };
      }
    }
  }

  function sentences(...parts) {  // the server's message and fix, each a capitalised sentence
    return parts.filter(Boolean).map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join(". ");
  }

  // The message on the streaming endpoint; a 401 asks for the key and sends it once more with it.
  async function post(text) {
    const attempt = () => {
      const headers = { "Content-Type": "application/json", "Accept": "text/event-stream" };
      if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
      return fetch(`/v1/conversations/${encodeURIComponent(chat.id)}/messages/stream`, {
        method: "POST", headers, body: JSON.stringify({ text }),
      });
    };
    const response = await attempt();
    if (response.status !== 401) return response;
    const rejected = Boolean(apiKey);
    if (!askForKey(rejected)) throw new Error(rejected ? WRONG_KEY : NEEDS_KEY);
    const again = await attempt();
    if (again.status === 401) throw new Error(WRONG_KEY);
    return again;
  }

  async function problem(response) {
    try {
      const body = await response.json();
      if (body && body.error) return sentences(body.error.message, body.error.fix);
    } catch (err) { /* not JSON */ }
    return `The server answered ${response.status}. Try again.`;
  }

  async function send(text) {
    clearError();
    const sent = bubble("user", text);
    chat.messages.push({ role: "user", text });
    save();
    setBusy(true);
    let shown = null, full = "";
    try {
      const response = await post(text);
      if (!response.ok) throw new Error(await problem(response));
      for await (const event of events(response.body)) {
        if (event.name === "typing") {
          typing.hidden = false;
        } else if (event.name === "token") {
          typing.hidden = true;
          shown = shown || bubble("bot", "");
          full += event.data.text;
          shown.textContent = full;
          shown.parentElement.scrollIntoView({ block: "end" });
        } else if (event.name === "reply") {
          full = event.data.text;
          shown = shown || bubble("bot", "");
          if (shown.textContent !== full) shown.textContent = full;
        } else if (event.name === "error") {
          throw new Error(sentences(event.data.message, event.data.fix));
        }
      }
      chat.messages.push({ role: "bot", text: full });
      save();
    } catch (err) {
      showError(err instanceof TypeError ? UNREACHABLE : err.message);
      if (!shown) {  // nothing came back: the message was not answered; offer it again
        const note = document.createElement("span");
        note.className = "note";
        note.textContent = " (not sent)";
        sent.parentElement.classList.add("failed");
        sent.parentElement.append(note);
        chat.messages.pop();
        save();
        if (!input.value) input.value = text;
      }
    } finally {
      typing.hidden = true;
      setBusy(false);
      input.focus();
    }
  }

  async function watchReadiness() {
    try {
      const response = await fetch("/readyz", { cache: "no-store" });
      if (errorBox.textContent === UNREACHABLE) clearError();
      if (response.ok) { status.textContent = ""; return; }
      const body = await response.json().catch(() => ({}));
      status.textContent = body.status === "failed" ? "The bot could not start." : "Starting (loading the model)…";
    } catch (err) {
      status.textContent = "";
      showError(UNREACHABLE);
    }
    setTimeout(watchReadiness, READY_POLL_MS);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    send(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  window.addEventListener("hashchange", () => { apiKey = takeKey(); });  // a #key=... typed into the address

  $("new-chat").addEventListener("click", () => {
    chat = { id: newId(), messages: [] };
    save();
    log.replaceChildren();
    clearError();
    input.focus();
  });

  for (const message of chat.messages) bubble(message.role, message.text);
  save();
  watchReadiness();
  input.focus();
})();
