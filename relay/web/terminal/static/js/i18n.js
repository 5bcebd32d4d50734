// The app's strings: English is the message id; /t/i18n/<lang>.json maps it to a translation.
const LANGUAGES = ["ru", "en"];
let messages = {};
export let lang = "en";

export function pickLanguage(saved) {
  if (LANGUAGES.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || "en"]) {
    const code = tag.slice(0, 2).toLowerCase();
    if (LANGUAGES.includes(code)) return code;
  }
  return "en";
}

export async function loadLanguage(code) {
  const response = await fetch(`/t/i18n/${code}.json`);
  messages = response.ok ? await response.json() : {};
  lang = code;
  document.documentElement.lang = code;
  translatePage(document);
}

export function t(text, params = {}) {
  const translated = messages[text] || text;
  return translated.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
}

export function translatePage(root) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of root.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of root.querySelectorAll("[data-t-label]")) el.setAttribute("aria-label", t(el.dataset.tLabel));
}
