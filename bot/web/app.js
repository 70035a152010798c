// sosbot demo page. Plain JavaScript, no build step, nothing from a CDN.
// Every text from the server is set with textContent: user text never becomes markup.
"use strict";

(() => {
  const WORDS = {
    en: { write: "Write a message…", send: "Send", as: "as", file: "File", attach: "Attach a file",
          reply: "Reply", replying: "Replying to:", cancel: "Cancel", fresh: "new" },
    es: { write: "Escribe un mensaje…", send: "Enviar", as: "como", file: "Archivo",
          attach: "Adjuntar un archivo",
          reply: "Responder", replying: "Respondiendo a:", cancel: "Cancelar", fresh: "nuevos" },
    fr: { write: "Écrivez un message…", send: "Envoyer", as: "en tant que", file: "Fichier",
          attach: "Joindre un fichier", reply: "Répondre", replying: "En réponse à :",
          cancel: "Annuler", fresh: "nouveaux" },
    ar: { write: "اكتب رسالة…", send: "إرسال", as: "باسم", file: "ملف", attach: "إرفاق ملف",
          reply: "رد", replying: "ردًا على:", cancel: "إلغاء", fresh: "جديدة" },
  };
  const MAX_FILE = 10 * 1000 * 1000;

  const state = {
    personas: new Map(),
    messages: new Map(),
    unread: new Map(),
    panes: [],
    chosen: new Map(), // pane index -> persona id, kept across reconnects
    socket: null,
    retry: 500,
  };

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  const $ = (id) => document.getElementById(id);

  function send(event) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(event));
    }
  }

  function status(text, isError = false) {
    $("status").textContent = text;
    $("status").classList.toggle("error", isError);
  }

  function formatNow(iso) {
    const options = { timeZone: "UTC", weekday: "short", day: "numeric", month: "short",
                      year: "numeric", hour: "2-digit", minute: "2-digit" };
    return new Date(iso).toLocaleString("en-GB", options) + " UTC";
  }

  function formatStamp(iso) {
    const options = { timeZone: "UTC", weekday: "short", hour: "2-digit", minute: "2-digit" };
    return new Date(iso).toLocaleString("en-GB", options);
  }

  function showClock(iso) {
    $("now").textContent = formatNow(iso);
    $("now").dataset.iso = iso;
    $("now").setAttribute("datetime", iso);
  }

  // -- panes ----------------------------------------------------------------

  function chatOf(pane) {
    return "web:" + (pane.def.chat || pane.select.value);
  }

  function languageOf(pane) {
    if (pane.def.chat) return pane.def.language;
    const persona = state.personas.get(pane.select.value);
    return persona ? persona.language : "en";
  }

  function applyLanguage(pane) {
    const lang = languageOf(pane);
    const words = WORDS[lang] || WORDS.en;
    pane.root.dir = lang === "ar" ? "rtl" : "ltr";
    pane.root.lang = lang;
    pane.input.placeholder = words.write;
    pane.sendButton.textContent = words.send;
    pane.asLabel.textContent = words.as;
    pane.attachButton.textContent = words.file;
    pane.attachButton.title = words.attach;
    pane.attachButton.setAttribute("aria-label", words.attach);
    pane.replyLabel.textContent = words.replying;
    pane.replyCancel.textContent = words.cancel;
  }

  function personaOptions(pane) {
    pane.select.replaceChildren();
    const groups = new Map();
    for (const id of pane.def.senders) {
      const persona = state.personas.get(id);
      if (!persona) continue;
      if (!groups.has(persona.role)) groups.set(persona.role, []);
      groups.get(persona.role).push(persona);
    }
    const roleNames = { defender: "Defenders", advisor: "Advisory group",
                        coordinator: "Escalation list", member: "Member organisations",
                        partner: "Partners (referrals)" };
    for (const [role, people] of groups) {
      const group = el("optgroup", { label: roleNames[role] || role });
      for (const persona of people) group.append(el("option", { value: persona.id }));
      pane.select.append(group);
    }
    labelOptions(pane);
  }

  function labelOptions(pane) {
    for (const option of pane.select.options) {
      const persona = state.personas.get(option.value);
      const count = pane.def.chat ? 0 : state.unread.get(persona.id) || 0;
      const words = WORDS[persona.language] || WORDS.en;
      option.textContent = persona.name + (count ? ` (${count} ${words.fresh})` : "");
    }
  }

  function buildPane(def, index) {
    const pane = { def, index, replyTo: null };
    pane.select = el("select", { "data-role": "sender", onchange: () => choose(pane) });
    pane.asLabel = el("span", { class: "as" });
    pane.list = el("div", { class: "messages", "data-role": "messages", "aria-live": "polite" });
    pane.input = el("textarea", { rows: "2", dir: "auto", "data-role": "input" });
    pane.sendButton = el("button", { type: "submit", "data-role": "send" });
    pane.file = el("input", { type: "file", hidden: "", onchange: () => sendFile(pane) });
    pane.attachButton = el("button", { type: "button", class: "attach",
                                       onclick: () => pane.file.click() });
    pane.replyLabel = el("span");
    pane.replyText = el("span", { class: "quoted", dir: "auto" });
    pane.replyCancel = el("button", { type: "button", onclick: () => setReply(pane, null) });
    pane.replyBar = el("div", { class: "reply-bar", hidden: "" },
                       pane.replyLabel, pane.replyText, pane.replyCancel);
    pane.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        sendText(pane);
      }
    });
    const form = el("form", { class: "composer", onsubmit: (event) => {
      event.preventDefault();
      sendText(pane);
    } }, pane.attachButton, pane.file, pane.input, pane.sendButton);
    pane.root = el("section", { class: "pane", "data-pane": def.chat || "private" },
      el("header", {}, el("h2", { text: def.title, dir: "auto" }),
         el("label", {}, pane.asLabel, pane.select)),
      pane.list, pane.replyBar, form);
    personaOptions(pane);
    const kept = state.chosen.get(index);
    if (kept && def.senders.includes(kept)) pane.select.value = kept;
    return pane;
  }

  function choose(pane) {
    state.chosen.set(pane.index, pane.select.value);
    setReply(pane, null);
    if (!pane.def.chat) state.unread.delete(pane.select.value);
    applyLanguage(pane);
    renderList(pane);
    labelOptions(pane);
  }

  function renderList(pane) {
    const chat = chatOf(pane);
    const nodes = [];
    for (const message of state.messages.values()) {
      if (message.chat === chat) nodes.push(renderMessage(pane, message));
    }
    pane.list.replaceChildren(...nodes);
    pane.list.scrollTop = pane.list.scrollHeight;
  }

  // -- messages ---------------------------------------------------------------

  function renderMessage(pane, message) {
    const persona = message.sender ? state.personas.get(message.sender) : null;
    const classes = ["msg", message.sender ? "person" : "bot"];
    if (message.sender && message.sender === pane.select.value) classes.push("mine");
    const words = WORDS[languageOf(pane)] || WORDS.en;
    const node = el("article", { class: classes.join(" "), "data-id": message.id });
    node.append(el("div", { class: "meta" },
      el("span", { class: "who", dir: "auto", text: persona ? persona.name : "sosbot" }),
      el("time", { text: formatStamp(message.time), datetime: message.time }),
      message.edited ? el("span", { class: "edited", text: "(edited)" }) : null,
      el("button", { type: "button", class: "reply", text: "↩", title: words.reply,
                     "aria-label": words.reply, onclick: () => setReply(pane, message) })));
    if (message.reply_to) {
      const quoted = state.messages.get(message.reply_to);
      node.append(el("div", { class: "quote", dir: "auto",
                              text: quoted ? firstLine(quoted) : "…" }));
    }
    if (message.text) node.append(el("div", { class: "text", dir: "auto", text: message.text }));
    if (message.file) node.append(renderFile(message.file));
    if (message.buttons && message.buttons.length) {
      const row = el("div", { class: "buttons" });
      for (const button of message.buttons) {
        row.append(el("button", { type: "button", dir: "auto", text: button.label,
                                  onclick: (event) => press(pane, message, button, event) }));
      }
      node.append(row);
    }
    return node;
  }

  function renderFile(file) {
    const box = el("div", { class: "file" });
    if (file.url && file.image) box.append(el("img", { src: file.url, alt: file.name }));
    const name = "📎 " + file.name;
    box.append(file.url ? el("a", { href: file.url, download: file.name, text: name })
                        : el("span", { text: name }));
    return box;
  }

  function firstLine(message) {
    const line = (message.text || (message.file ? message.file.name : "")).split("\n")[0];
    return line.length > 80 ? line.slice(0, 80) + "…" : line;
  }

  function panesShowing(chat) {
    return state.panes.filter((pane) => chatOf(pane) === chat);
  }

  function onMessage(message) {
    const existed = state.messages.has(message.id);
    state.messages.set(message.id, message);
    const showing = panesShowing(message.chat);
    for (const pane of showing) {
      const fresh = renderMessage(pane, message);
      const old = pane.list.querySelector(`[data-id="${CSS.escape(message.id)}"]`);
      if (old) old.replaceWith(fresh);
      else {
        pane.list.append(fresh);
        pane.list.scrollTop = pane.list.scrollHeight;
      }
    }
    if (!existed && !showing.length && message.chat.startsWith("web:")) {
      const persona = message.chat.slice(4);
      if (state.personas.has(persona)) {
        state.unread.set(persona, (state.unread.get(persona) || 0) + 1);
        for (const pane of state.panes) if (!pane.def.chat) labelOptions(pane);
      }
    }
  }

  function onDelete(id) {
    state.messages.delete(id);
    for (const node of document.querySelectorAll(`.msg[data-id="${CSS.escape(id)}"]`)) {
      node.remove();
    }
  }

  // -- what the person does -------------------------------------------------------

  function setReply(pane, message) {
    pane.replyTo = message ? message.id : null;
    pane.replyBar.hidden = !message;
    pane.replyText.textContent = message ? firstLine(message) : "";
    if (message) pane.input.focus();
  }

  function sendText(pane) {
    const text = pane.input.value;
    if (!text.trim()) return;
    send({ type: "send", chat: chatOf(pane), sender: pane.select.value, text,
           reply_to: pane.replyTo });
    pane.input.value = "";
    setReply(pane, null);
  }

  function sendFile(pane) {
    const file = pane.file.files[0];
    pane.file.value = "";
    if (!file) return;
    if (file.size > MAX_FILE) {
      status("That file is larger than 10 MB.", true);
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const data = String(reader.result).split(",", 2)[1] || "";
      send({ type: "send", chat: chatOf(pane), sender: pane.select.value,
             text: pane.input.value, reply_to: pane.replyTo,
             file: { name: file.name, mime: file.type, data } });
      pane.input.value = "";
      setReply(pane, null);
    };
    reader.readAsDataURL(file);
  }

  function press(pane, message, button, event) {
    event.currentTarget.classList.add("pressed");
    send({ type: "press", chat: message.chat, sender: pane.select.value, token: button.token });
  }

  // -- the connection -------------------------------------------------------------

  function onHello(hello) {
    state.personas = new Map(hello.personas.map((persona) => [persona.id, persona]));
    state.messages = new Map(hello.messages.map((message) => [message.id, message]));
    state.panes = hello.panes.map(buildPane);
    $("panes").replaceChildren(...state.panes.map((pane) => pane.root));
    for (const pane of state.panes) {
      applyLanguage(pane);
      renderList(pane);
    }
    $("clock").hidden = !hello.clock;
    showClock(hello.now);
    status("connected");
  }

  function connect() {
    const socket = new WebSocket(`ws://${location.host}/ws`);
    state.socket = socket;
    socket.onopen = () => { state.retry = 500; };
    socket.onmessage = (frame) => {
      const event = JSON.parse(frame.data);
      if (event.type === "hello") onHello(event);
      else if (event.type === "message") onMessage(event.message);
      else if (event.type === "delete") onDelete(event.id);
      else if (event.type === "clock") showClock(event.now);
      else if (event.type === "error") status(event.text, true);
    };
    socket.onclose = () => {
      status("disconnected — reconnecting…", true);
      setTimeout(connect, state.retry);
      state.retry = Math.min(state.retry * 2, 5000);
    };
  }

  for (const button of document.querySelectorAll("#clock button")) {
    button.addEventListener("click", () => {
      send({ type: "advance", minutes: Number(button.dataset.minutes) });
    });
  }
  connect();
})();
