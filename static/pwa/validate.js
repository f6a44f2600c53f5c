/* Form validation that never sticks. The browser's own constraint bubble came back on every later
   tap once a custom validity was set (a task could not be completed after one empty-note tap),
   so every form here validates itself: a message under the field, cleared as soon as the user
   types or changes anything in it, and rechecked from scratch on each submit. */
import { t } from "./ui.js";

export function clearError(el) {
  if (!el || !el.id) return;
  el.removeAttribute("aria-invalid");
  el.setCustomValidity?.("");
  document.getElementById(`${el.id}-error`)?.remove();
}

/* Show ``message`` under ``el`` and put the cursor there; returns false for ``return fail(…)``. */
export function fail(el, message = t("required")) {
  clearError(el);
  const p = document.createElement("p");
  p.className = "field-error";
  p.id = `${el.id}-error`;
  p.setAttribute("role", "alert");
  p.textContent = message;
  el.setAttribute("aria-invalid", "true");
  el.setAttribute("aria-describedby", p.id);
  el.insertAdjacentElement("afterend", p);
  el.focus();
  return false;
}

/* Take over validation for ``form``: no native bubbles, errors clear while typing. */
export function guard(form) {
  form.noValidate = true;
  const clear = (e) => clearError(e.target);
  form.addEventListener("input", clear);
  form.addEventListener("change", clear);
  return form;
}

/* Every [required] field (or the given ones) has something besides spaces; else the first fails. */
export function filled(form, fields = null) {
  for (const el of fields || form.querySelectorAll("[required]")) {
    clearError(el);
    if (!String(el.value || "").trim()) return fail(el);
  }
  return true;
}
