// Show only the fields that belong to the chosen kind of recipient (a task's target, an
// announcement's recipients); the server checks again. Any form with data-target-field="NAME"
// (a radio group) hides its [data-target] elements that do not match the checked value.
for (const form of document.querySelectorAll("form[data-target-field]")) {
  const name = form.dataset.targetField;
  const sync = () => {
    const checked = form.querySelector(`input[name="${name}"]:checked`);
    const value = checked ? checked.value : "";
    for (const el of form.querySelectorAll("[data-target]")) {
      el.hidden = el.dataset.target !== value;
      // a hidden field sends nothing, so a stale choice cannot reach the server
      for (const input of el.querySelectorAll("input, select")) input.disabled = el.hidden;
      if (el.matches("select, input")) el.disabled = el.hidden;
    }
  };
  form.addEventListener("change", sync);
  sync();
}
